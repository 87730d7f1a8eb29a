"""The queries the handlers need, translating rows to domain objects and back.

``for_update=True`` locks the rows read (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite already serialises writers with ``BEGIN IMMEDIATE``) and reloads them, so
a check made on them holds until commit.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import case as sql_case
from sqlalchemy import Select, any_, bindparam, delete, func, insert, inspect, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from scheduling.domain.activities import ActivityStatus, Consultation, TrainingSession
from scheduling.domain.cases import (
    Consent,
    CaseStatus,
    PatientCase,
    PatientIdentity,
    ReadinessCheck,
    RiskScheme,
    ScreeningNote,
    Sex,
)
from scheduling.domain.figures import LEFT_REASONS
from scheduling.domain.values import LocalPart, MissionSite, Purpose, ReadinessItem
from jumelage.events.scheduling import FollowUpOutcome, LeadSide, LocalRole
from scheduling.domain.conventions import ConventionReplica, ConventionStatus
from scheduling.domain.missions import Mission, MissionStatus, TeamMember, Totals
from scheduling.domain.placements import PlacementStatus, Trainee, TrainingPlacement
from jumelage import sealing
from jumelage.events.scheduling import ErasureReason, PlacementKind
from scheduling.domain.resources import HostResources, OperatingRoom
from scheduling.domain.surgeries import Surgery, SurgeryStatus
from scheduling.store.tables import (
    IDENTITY_ACCESS,
    ConsultationRow,
    ConventionRow,
    HostResourcesRow,
    MissionMemberRow,
    MissionRow,
    MissionSiteRow,
    OperatingRoomRow,
    PatientCaseRow,
    ReadinessCheckRow,
    ScreeningNoteRow,
    SurgeryRow,
    TrainingPlacementRow,
    TrainingSessionRow,
)
from jumelage.events.convention import Objectives, Party, PartyRole
from jumelage.events.scheduling import PractitionerRole, SurgeryOutcome
from jumelage.db import Keyset, keyset

R = TypeVar("R")


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _stamp(self, row: Any, record: Any, at: datetime, *, changed: bool = False) -> None:
        """A versioned record written: if it is new or anything of it changed (``changed``:
        rows of its own, such as a mission's team), it gets ``updated_at`` and the flush
        raises its version (``version_id_col``, the UPDATE applying only to the version
        read; a lost race is StaleDataError). The record takes the version written.
        ``at``: the handler's clock, now (when the record last changed)."""
        if record.version and row.version != record.version:  # read in another transaction, changed since
            raise StaleDataError(f"{type(record).__name__} {record.id} is at version {row.version}, "
                                 f"not the version {record.version} it was read at")
        if changed or inspect(row).pending or self.session.is_modified(row):
            row.updated_at = at
            flag_modified(row, "updated_at")  # an UPDATE even at the same instant: the version must move
            await self.session.flush()
        record.version, record.updated_at = row.version, row.updated_at

    async def _one(self, query: Select[Any], for_update: bool) -> Any:
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(query)).first()


# -- institutions and conventions (replicas) ---------------------------------------------


class Conventions(_Repository):
    async def get(self, convention_id: uuid.UUID, *, for_update: bool = False) -> ConventionReplica | None:
        row = await self._one(select(ConventionRow).where(ConventionRow.id == convention_id), for_update)
        return _convention(row) if row else None

    async def list(self) -> list[ConventionReplica]:
        rows = await self.session.scalars(select(ConventionRow).order_by(ConventionRow.reference, ConventionRow.id))
        return [_convention(r) for r in rows]

    async def save(self, c: ConventionReplica) -> None:
        await self.session.merge(ConventionRow(
            id=c.id, reference=c.reference, title=c.title,
            parties=[{"institution_id": str(p.institution_id), "role": p.role.value} for p in c.parties],
            effective_from=c.effective_from, effective_until=c.effective_until, specialties=list(c.specialties),
            objectives=c.objectives.model_dump() if c.objectives else None, signed=c.signed,
            status=c.status.value if c.status else None, status_changed_at=c.status_changed_at,
            status_reason=c.status_reason, ended_on=c.ended_on, term_versions=dict(c.term_versions),
        ))


def _convention(row: ConventionRow) -> ConventionReplica:
    return ConventionReplica(
        id=row.id, reference=row.reference, title=row.title,
        parties=tuple(Party(institution_id=uuid.UUID(p["institution_id"]), role=PartyRole(p["role"]))
                      for p in row.parties),
        effective_from=row.effective_from, effective_until=row.effective_until,
        specialties=tuple(row.specialties), objectives=Objectives(**row.objectives) if row.objectives else None,
        signed=row.signed, status=ConventionStatus(row.status) if row.status else None,
        status_changed_at=row.status_changed_at, status_reason=row.status_reason, ended_on=row.ended_on,
        term_versions=dict(row.term_versions),
    )


# -- host resources ------------------------------------------------------------------------


class Hosts(_Repository):
    async def get(self, institution_id: uuid.UUID) -> HostResources | None:
        row = await self.session.get(HostResourcesRow, institution_id)
        return HostResources(row.institution_id, row.timezone, row.icu_beds) if row else None

    async def save(self, resources: HostResources) -> None:
        await self.session.merge(HostResourcesRow(institution_id=resources.institution_id,
                                                  timezone=resources.timezone, icu_beds=resources.icu_beds))
        await self.session.flush()  # rooms refer to it


class Rooms(_Repository):
    async def get(self, room_id: uuid.UUID) -> OperatingRoom | None:
        row = await self.session.get(OperatingRoomRow, room_id)
        return _room(row) if row else None

    async def of_host(self, institution_id: uuid.UUID) -> list[OperatingRoom]:
        rows = await self.session.scalars(select(OperatingRoomRow)
                                          .where(OperatingRoomRow.institution_id == institution_id)
                                          .order_by(OperatingRoomRow.name))
        return [_room(r) for r in rows]

    async def save(self, room: OperatingRoom) -> None:
        await self.session.merge(OperatingRoomRow(id=room.id, institution_id=room.institution_id, name=room.name,
                                                  opens_at=room.opens_at, closes_at=room.closes_at,
                                                  turnover_minutes=room.turnover_minutes))

    async def remove(self, room_id: uuid.UUID) -> None:
        await self.session.execute(delete(OperatingRoomRow).where(OperatingRoomRow.id == room_id))


def _room(row: OperatingRoomRow) -> OperatingRoom:
    return OperatingRoom(id=row.id, institution_id=row.institution_id, name=row.name, opens_at=row.opens_at,
                         closes_at=row.closes_at, turnover_minutes=row.turnover_minutes)


# -- missions --------------------------------------------------------------------------------


class Missions(_Repository):
    async def get(self, mission_id: uuid.UUID, *, for_update: bool = False) -> Mission | None:
        row = await self._one(select(MissionRow).where(MissionRow.id == mission_id), for_update)
        return (await self._with_teams([row]))[0] if row else None

    async def read(self, mission_id: uuid.UUID) -> Mission | None:
        """:meth:`get` for a read that changes nothing (the access checks, in a transaction of their
        own): Core rows, no ORM objects (issue 23: the ORM's loading was the read mix's largest cost)."""
        row = (await self.session.execute(_MISSION_BY_ID, {"mission_id": mission_id})).first()
        return (await self._with_teams([row]))[0] if row else None

    async def search(self, *, convention_id: uuid.UUID | None = None, host_institution_id: uuid.UUID | None = None,
                     status: MissionStatus | None = None, limit: int = 50,
                     cursor: str | None = None) -> tuple[list[Mission], str | None]:
        """A page of the missions that match, by first day, then creation, then id, and the
        next page's cursor (keyset)."""
        given = {"convention_id": convention_id, "host_institution_id": host_institution_id,
                 "status": status.value if status else None}
        filters = {k: v for k, v in given.items() if v is not None}
        rows, after = await _mission_pages(tuple(filters)).fetch(self.session, limit=limit, cursor=cursor, **filters)
        return await self._with_teams(rows), after

    async def of_convention(self, convention_id: uuid.UUID, statuses: Iterable[MissionStatus], *,
                            for_update: bool = False) -> list[Mission]:
        query = (select(MissionRow)
                 .where(MissionRow.convention_id == convention_id,
                        MissionRow.status.in_([s.value for s in statuses]))  # type: ignore[attr-defined]
                 .order_by(MissionRow.id))  # one lock order for everyone
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return await self._with_teams(list(await self.session.scalars(query)))

    async def sharing_practitioners(self, practitioner_ids: Iterable[uuid.UUID], starts_on: date, ends_on: date,
                                    *, excluding: uuid.UUID | None = None) -> list[Mission]:
        """Live missions overlapping the dates with any of these practitioners on their team."""
        ids = list(practitioner_ids)
        if not ids:
            return []
        with_them = select(MissionMemberRow.mission_id).where(
            MissionMemberRow.practitioner_id.in_(ids))  # type: ignore[attr-defined]
        query = select(MissionRow).where(
            MissionRow.id.in_(with_them),  # type: ignore[attr-defined]
            MissionRow.status != MissionStatus.cancelled.value,
            MissionRow.starts_on <= ends_on, MissionRow.ends_on >= starts_on,
        )
        if excluding is not None:
            query = query.where(MissionRow.id != excluding)
        return await self._with_teams(list(await self.session.scalars(query)))

    async def add(self, mission: Mission, at: datetime) -> None:
        # Core inserts, the mission first (the members' foreign key): a new mission is only
        # written here, and ORM objects flushed cost more than the statements (the latency path).
        mission.version, mission.updated_at = 1, at
        await self.session.execute(_INSERT_MISSION, {**_mission_values(mission), "version": mission.version,
                                                     "updated_at": mission.updated_at})
        if mission.team:
            await self.session.execute(_INSERT_MEMBER, [_member_values(mission, position, member)
                                                        for position, member in enumerate(mission.team)])
        await self.session.execute(_INSERT_SITE, [_site_values(mission, position, site)
                                                  for position, site in enumerate(mission.sites)])

    async def save(self, mission: Mission, at: datetime) -> None:
        team_changed = await self._save_team(mission)  # first: its query would flush the merged row
        sites_changed = await self._save_sites(mission)
        row = await self.session.merge(_mission_row(mission))
        await self._stamp(row, mission, at, changed=team_changed or sites_changed)

    async def _save_sites(self, mission: Mission) -> bool:
        """The sites' rows as the mission's sites; True if any changed."""
        rows = {r.institution_id: r for r in await self.session.scalars(
            select(MissionSiteRow).where(MissionSiteRow.mission_id == mission.id))}
        wanted = {s.institution_id for s in mission.sites}
        changed = False
        for institution_id, row in rows.items():
            if institution_id not in wanted:
                changed = True
                await self.session.delete(row)
        for position, site in enumerate(mission.sites):
            row = rows.get(site.institution_id)
            values = _site_values(mission, position, site)
            if row is None:
                changed = True
                self.session.add(MissionSiteRow(**values))
            elif any(getattr(row, key) != value for key, value in values.items()):
                changed = True
                for key, value in values.items():
                    setattr(row, key, value)
        return changed

    async def _save_team(self, mission: Mission) -> bool:
        """The team's rows as the mission's team; True if any changed."""
        rows = {r.practitioner_id: r for r in await self.session.scalars(
            select(MissionMemberRow).where(MissionMemberRow.mission_id == mission.id))}
        wanted = {m.practitioner_id for m in mission.team}
        changed = False
        for practitioner_id, row in rows.items():
            if practitioner_id not in wanted:
                changed = True
                await self.session.delete(row)
        for position, member in enumerate(mission.team):
            row = rows.get(member.practitioner_id)
            if row is None:
                changed = True
                self.session.add(_member_row(mission, position, member))
            else:
                values = _member_values(mission, position, member)
                if any(getattr(row, key) != value for key, value in values.items()):
                    changed = True
                    for key, value in values.items():
                        setattr(row, key, value)
        return changed

    async def _with_teams(self, rows: Sequence[Any]) -> list[Mission]:
        """The missions of ``rows`` (ORM rows or Core rows) with their teams and sites, read as
        Core rows by statements built once (the team's and sites' rows are only read here)."""
        if not rows:
            return []
        teams: dict[uuid.UUID, list[TeamMember]] = {r.id: [] for r in rows}
        dialect = self.session.get_bind().dialect.name
        for m in await self.session.execute(_of_ids(MissionMemberRow, "mission_id", dialect, "position"),
                                            {"ids": list(teams)}):
            teams[m.mission_id].append(TeamMember(m.practitioner_id, m.full_name, PractitionerRole(m.role),
                                                  m.home_institution_id, m.arrives_on, m.leaves_on))
        sites: dict[uuid.UUID, list[MissionSite]] = {r.id: [] for r in rows}
        for site in await self.session.execute(_of_ids(MissionSiteRow, "mission_id", dialect, "position"),
                                               {"ids": list(sites)}):
            sites[site.mission_id].append(MissionSite(site.institution_id, site.starts_on, site.ends_on))
        return [_mission(r, teams[r.id], sites[r.id]) for r in rows]


def _site_values(mission: Mission, position: int, site: MissionSite) -> dict[str, Any]:
    return {"mission_id": mission.id, "institution_id": site.institution_id, "position": position,
            "starts_on": site.starts_on, "ends_on": site.ends_on}


def _member_values(mission: Mission, position: int, member: TeamMember) -> dict[str, Any]:
    return {"mission_id": mission.id, "practitioner_id": member.practitioner_id, "position": position,
            "full_name": member.full_name, "role": member.role.value,
            "home_institution_id": member.home_institution_id, "arrives_on": member.arrives_on,
            "leaves_on": member.leaves_on}


def _member_row(mission: Mission, position: int, member: TeamMember) -> MissionMemberRow:
    return MissionMemberRow(**_member_values(mission, position, member))


def _mission_values(m: Mission) -> dict[str, Any]:
    return {"id": m.id, "convention_id": m.convention_id, "host_institution_id": m.host_institution_id,
            "visiting_institution_id": m.visiting_institution_id, "specialty": m.specialty,
            "starts_on": m.starts_on, "ends_on": m.ends_on, "status": m.status.value, "status_reason": m.status_reason,
            "totals": asdict(m.totals) if m.totals else None, "created_at": m.created_at}


def _mission_row(m: Mission) -> MissionRow:
    return MissionRow(**_mission_values(m))


_INSERT_MISSION = insert(MissionRow.__table__)
_INSERT_MEMBER = insert(MissionMemberRow.__table__)
_INSERT_SITE = insert(MissionSiteRow.__table__)


_MISSION_BY_ID = select(MissionRow.__table__).where(MissionRow.__table__.c.id == bindparam("mission_id"))


@functools.cache
def _of_ids(row: Any, column: str, dialect: str, order_by: str | None = None) -> Select[Any]:
    """The Core rows of ``row``'s table whose ``column`` is one of ``:ids``, built once per dialect:
    on PostgreSQL one array parameter (``= ANY(:ids)``: one statement text, prepared once, whatever
    the count), elsewhere an expanding ``IN`` (its text rendered for each count)."""
    table = row.__table__
    c = table.c[column]
    match = (c == any_(bindparam("ids", type_=ARRAY(c.type))) if dialect == "postgresql"
             else c.in_(bindparam("ids", expanding=True)))
    query = select(table).where(match)
    return query.order_by(table.c[order_by]) if order_by else query


def _mission(row: Any, team: list[TeamMember], sites: list[MissionSite]) -> Mission:
    return Mission(id=row.id, convention_id=row.convention_id, host_institution_id=row.host_institution_id,
                   visiting_institution_id=row.visiting_institution_id, specialty=row.specialty,
                   starts_on=row.starts_on, ends_on=row.ends_on, team=team, status=MissionStatus(row.status),
                   status_reason=row.status_reason, totals=Totals(**row.totals) if row.totals else None,
                   created_at=row.created_at, version=row.version, updated_at=row.updated_at, sites=sites)


# -- waiting-list figures (counts only, on read) -------------------------------------------------

_LEFT = [str(r) for r in LEFT_REASONS]


class WaitingFigures(_Repository):
    """One query per figure kind over a host's cases, whatever their number: each period a
    bucket (a CASE over the periods' ends, ascending), on the indexes of migration 0021."""

    @staticmethod
    def _bucket(column: Any, ends: Sequence[datetime]) -> Any:
        return sql_case(*[(column < end, i) for i, end in enumerate(ends)], else_=None)

    async def registered(self, host: uuid.UUID, start: datetime, ends: Sequence[datetime]) -> dict[int, int]:
        c = PatientCaseRow.__table__.c
        bucket = self._bucket(c.registered_at, ends).label("bucket")
        query = (select(bucket, func.count()).where(c.host_institution_id == host, c.registered_at >= start,
                                                    c.registered_at < ends[-1]).group_by(bucket))
        return {b: n for b, n in (await self.session.execute(query)).all()}

    async def left(self, host: uuid.UUID, start: datetime, ends: Sequence[datetime]) -> dict[tuple[int, str], int]:
        c = PatientCaseRow.__table__.c
        bucket = self._bucket(c.closed_at, ends).label("bucket")
        query = (select(bucket, c.status, func.count())
                 .where(c.host_institution_id == host, c.status.in_(_LEFT), c.closed_at >= start,
                        c.closed_at < ends[-1]).group_by(bucket, c.status))
        return {(b, status): n for b, status, n in (await self.session.execute(query)).all()}

    async def treated(self, host: uuid.UUID, start: datetime, end: datetime,
                      convention_id: uuid.UUID | None) -> list[tuple[datetime, datetime]]:
        """(registered_at, completed_at) of the host's cases whose surgery was completed in
        [start, end) (in a mission of ``convention_id`` if given): the median needs each wait."""
        c, s = PatientCaseRow.__table__.c, SurgeryRow.__table__.c
        joined = SurgeryRow.__table__.join(PatientCaseRow.__table__, c.id == s.case_id)
        query = (select(c.registered_at, s.completed_at).select_from(joined)
                 .where(c.host_institution_id == host, s.status == SurgeryStatus.completed.value,
                        s.completed_at >= start, s.completed_at < end))
        if convention_id is not None:
            m = MissionRow.__table__.c
            query = query.join(MissionRow.__table__, m.id == s.mission_id).where(m.convention_id == convention_id)
        return [(r, d) for r, d in (await self.session.execute(query)).all()]

    async def waiting_at(self, host: uuid.UUID, ends: Sequence[datetime]) -> list[int]:
        """Per instant of ``ends``: the host's cases registered before it, neither treated (their
        surgery completed) nor closed without surgery before it."""
        c = PatientCaseRow.__table__.c
        done = SurgeryRow.__table__.alias("done")
        d = done.c
        exit_at = sql_case((c.status.in_(_LEFT), c.closed_at),
                           (c.status == CaseStatus.operated.value, func.coalesce(d.completed_at, c.closed_at)),
                           else_=None)
        waiting = [(c.registered_at < end) & (exit_at.is_(None) | (exit_at >= end)) for end in ends]
        columns = [func.coalesce(func.sum(sql_case((w, 1), else_=0)), 0) for w in waiting]
        query = (select(*columns)
                 .select_from(PatientCaseRow.__table__.outerjoin(
                     done, (d.case_id == c.id) & (d.status == SurgeryStatus.completed.value)))
                 .where(c.host_institution_id == host, c.registered_at < ends[-1]))
        return [int(n) for n in (await self.session.execute(query)).one()]


# -- patient cases ------------------------------------------------------------------------------


class Cases(_Repository):
    async def get(self, case_id: uuid.UUID, *, for_update: bool = False) -> PatientCase | None:
        row = await self._one(select(PatientCaseRow).where(PatientCaseRow.id == case_id), for_update)
        return (await self._with_readiness([row]))[0] if row else None

    async def by_patient_ref(self, patient_ref: str) -> PatientCase | None:
        """The case of a patient reference (unique: one reference a case)."""
        row = await self._one(select(PatientCaseRow).where(PatientCaseRow.patient_ref == patient_ref), False)
        return (await self._with_readiness([row]))[0] if row else None

    async def waiting_list(self, institution_id: uuid.UUID, *, status: CaseStatus | None = None,
                           priority: int | None = None, name: str | None = None) -> list[PatientCase]:
        query = select(PatientCaseRow).where(PatientCaseRow.host_institution_id == institution_id)
        if name:  # by the keyed hash: the sealed names are never compared, nor opened to search
            query = query.where(PatientCaseRow.name_hash == sealing.ring().search_hash(name))
        if status:
            query = query.where(PatientCaseRow.status == status.value)
        if priority:
            query = query.where(PatientCaseRow.priority == priority)
        rows = await self.session.scalars(query.order_by(PatientCaseRow.priority, PatientCaseRow.registered_at))
        return await self._with_readiness(list(rows))

    async def accesses(self, patient_ref: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Who read this patient's identity, newest first (the access history, for an access request)."""
        c = IDENTITY_ACCESS.c
        rows = (await self.session.execute(select(c.at, c.subject, c.institution_id, c.roles, c.action, c.what)
                                           .where(c.patient_ref == patient_ref).order_by(c.seq.desc())
                                           .limit(limit))).all()
        return [dict(r._mapping) for r in rows]

    async def closed_before(self, cutoff: datetime, *, limit: int) -> list[uuid.UUID]:
        """Cases closed before ``cutoff`` whose identity is still kept (the retention task)."""
        return list(await self.session.scalars(
            select(PatientCaseRow.id).where(PatientCaseRow.closed_at < cutoff, PatientCaseRow.erased_at.is_(None))
            .order_by(PatientCaseRow.closed_at).limit(limit)))

    async def waiting_page(self, institution_id: uuid.UUID, *, status: CaseStatus | None = None,
                           priority: int | None = None, name: str | None = None, limit: int = 50,
                           cursor: str | None = None) -> tuple[list[PatientCase], str | None]:
        """A page of the waiting list, most urgent first, and the next page's cursor (keyset
        on priority, registration, id: the index ``ix_patient_case_waiting``)."""
        given = {"institution_id": institution_id, "status": status.value if status else None,
                 "priority": priority,
                 # by the keyed hash: the sealed names are never compared, nor opened to search
                 "name_hash": sealing.ring().search_hash(name) if name else None}
        filters = {k: v for k, v in given.items() if v is not None}
        rows, after = await _waiting_pages(tuple(filters)).fetch(self.session, limit=limit, cursor=cursor, **filters)
        return await self._with_readiness(rows), after

    async def _with_readiness(self, rows: Sequence[Any]) -> list[PatientCase]:
        """The cases of ``rows`` (ORM rows or Core rows) with their checklists (Core rows: the
        checklist's rows are written by :meth:`_save_readiness`, which reads its own)."""
        if not rows:
            return []
        checks: dict[uuid.UUID, dict[ReadinessItem, ReadinessCheck]] = {r.id: {} for r in rows}
        dialect = self.session.get_bind().dialect.name
        for c in await self.session.execute(_of_ids(ReadinessCheckRow, "case_id", dialect), {"ids": list(checks)}):
            item = ReadinessItem(c.item)
            checks[c.case_id][item] = ReadinessCheck(item, c.checked_on, c.checked_by, c.recorded_at, c.label)
        return [_case(r, checks[r.id]) for r in rows]

    async def _save_readiness(self, case: PatientCase) -> bool:
        """The checklist's rows as the case's checklist; True if any changed."""
        rows = {ReadinessItem(r.item): r for r in await self.session.scalars(
            select(ReadinessCheckRow).where(ReadinessCheckRow.case_id == case.id))}
        changed = False
        for item, row in rows.items():
            if item not in case.readiness:
                changed = True
                await self.session.delete(row)
        for item, check in case.readiness.items():
            row = rows.get(item)
            values = (check.label, check.checked_on, check.checked_by, check.recorded_at)
            if row is None:
                changed = True
                self.session.add(ReadinessCheckRow(case_id=case.id, item=item.value, label=check.label,
                                                   checked_on=check.checked_on, checked_by=check.checked_by,
                                                   recorded_at=check.recorded_at))
            elif (row.label, row.checked_on, row.checked_by, row.recorded_at) != values:
                changed = True
                row.label, row.checked_on, row.checked_by, row.recorded_at = values
        return changed

    async def add_note(self, note: ScreeningNote) -> None:
        self.session.add(ScreeningNoteRow(id=note.id, case_id=note.case_id, text=note.text, author=note.author,
                                          author_institution_id=note.author_institution_id,
                                          recorded_at=note.recorded_at))

    async def notes(self, case_id: uuid.UUID) -> list[ScreeningNote]:
        rows = await self.session.scalars(select(ScreeningNoteRow).where(ScreeningNoteRow.case_id == case_id)
                                          .order_by(ScreeningNoteRow.recorded_at, ScreeningNoteRow.id))
        return [ScreeningNote(r.id, r.case_id, r.text, r.author, r.author_institution_id, r.recorded_at)
                for r in rows]

    async def save(self, case: PatientCase, at: datetime) -> None:
        p = case.patient
        # The checklist first (its query would flush the merged row); a new case has none yet.
        readiness_changed = await self._save_readiness(case) if case.version else False
        row = await self.session.merge(PatientCaseRow(
            id=case.id, patient_ref=case.patient_ref, host_institution_id=case.host_institution_id,
            full_name=p.full_name, date_of_birth=p.date_of_birth, sex=p.sex.value, weight_kg=p.weight_kg,
            diagnosis=case.diagnosis, planned_procedure=case.planned_procedure, priority=case.priority,
            expected_duration_minutes=case.expected_duration_minutes, risk_scheme=case.risk_scheme.value,
            risk_category=case.risk_category, referred_abroad=case.referred_abroad, status=case.status.value,
            status_reason=case.status_reason, registered_at=case.registered_at,
            name_hash=None if case.erased_at else sealing.ring().search_hash(p.full_name),
            consents={purpose.value: {"by": c.by, "at": c.at.isoformat()}
                      for purpose, c in case.consents.items()} or None,
            closed_at=case.closed_at, erased_at=case.erased_at,
            erased_reason=case.erased_reason.value if case.erased_reason else None,
        ))
        await self._stamp(row, case, at, changed=readiness_changed)
        await self.session.flush()  # surgeries and consultations refer to it (a no-op if stamped)


def _case(r: Any, readiness: dict[ReadinessItem, ReadinessCheck] | None = None) -> PatientCase:
    return PatientCase(
        id=r.id, patient_ref=r.patient_ref, host_institution_id=r.host_institution_id,
        patient=PatientIdentity(r.full_name, r.date_of_birth, Sex(r.sex), r.weight_kg),
        diagnosis=r.diagnosis, planned_procedure=r.planned_procedure, priority=r.priority,
        expected_duration_minutes=r.expected_duration_minutes, risk_scheme=RiskScheme(r.risk_scheme),
        risk_category=r.risk_category, referred_abroad=r.referred_abroad, status=CaseStatus(r.status),
        status_reason=r.status_reason, registered_at=r.registered_at, readiness=dict(readiness or {}),
        consents={Purpose(k): Consent(v["by"], datetime.fromisoformat(v["at"])) for k, v in (r.consents or {}).items()},
        closed_at=r.closed_at, erased_at=r.erased_at,
        erased_reason=ErasureReason(r.erased_reason) if r.erased_reason else None,
        version=r.version, updated_at=r.updated_at,
    )


# -- surgeries, consultations, training -----------------------------------------------------------

LIVE_SURGERY = [SurgeryStatus.scheduled.value, SurgeryStatus.started.value]


# A surgery as it is read: with its case's priority and risk (clinical facts, not the identity).
_WITH_CASE = (select(SurgeryRow, PatientCaseRow.priority, PatientCaseRow.risk_scheme, PatientCaseRow.risk_category)
              .join(PatientCaseRow, PatientCaseRow.id == SurgeryRow.case_id))


class Surgeries(_Repository):
    async def get(self, surgery_id: uuid.UUID, *, for_update: bool = False) -> Surgery | None:
        query = _WITH_CASE.where(SurgeryRow.id == surgery_id)
        if for_update:  # the surgery's row only: its case is locked by whoever changes it
            query = query.with_for_update(of=SurgeryRow).execution_options(populate_existing=True)
        found = (await self.session.execute(query)).first()
        return _surgery(*found) if found else None

    async def of_mission(self, mission_id: uuid.UUID, *, status: SurgeryStatus | None = None) -> list[Surgery]:
        query = _WITH_CASE.where(SurgeryRow.mission_id == mission_id)
        if status:
            query = query.where(SurgeryRow.status == status.value)
        rows = (await self.session.execute(query.order_by(SurgeryRow.scheduled_start))).all()
        return [_surgery(*r) for r in rows]

    async def colliding(self, *, room_id: uuid.UUID, surgeon_id: uuid.UUID, start: datetime,
                        end: datetime, anaesthetist_id: uuid.UUID | None = None) -> list[Surgery]:
        """Surgeries not cancelled, in that room, by that surgeon or with that
        anaesthetist, overlapping [start, end)."""
        same = [SurgeryRow.operating_room_id == room_id, SurgeryRow.lead_surgeon_id == surgeon_id]
        if anaesthetist_id is not None:
            same.append(SurgeryRow.anaesthetist_id == anaesthetist_id)
        rows = await self.session.scalars(
            select(SurgeryRow).where(
                or_(*same),
                SurgeryRow.status != SurgeryStatus.cancelled.value,
                SurgeryRow.scheduled_start < end, SurgeryRow.scheduled_end > start,
            ).order_by(SurgeryRow.scheduled_start))
        return [_surgery(r) for r in rows]

    async def at_host(self, host_id: uuid.UUID, *, since: datetime,
                      until: datetime) -> list[tuple[Surgery, str, int | None]]:
        """Surgeries not cancelled at this institution (the site of each), starting in
        [since, until), each with its case's risk (scheme, category)."""
        query = (select(SurgeryRow, PatientCaseRow.risk_scheme, PatientCaseRow.risk_category)
                 .join(PatientCaseRow, PatientCaseRow.id == SurgeryRow.case_id)
                 .where(SurgeryRow.site_institution_id == host_id,
                        SurgeryRow.status != SurgeryStatus.cancelled.value,
                        SurgeryRow.scheduled_start >= since, SurgeryRow.scheduled_start < until)
                 .order_by(SurgeryRow.scheduled_start))
        rows = (await self.session.execute(query)).all()
        return [(_surgery(row), scheme, category) for row, scheme, category in rows]

    async def listed(self, mission_id: uuid.UUID, *, status: SurgeryStatus | None = None) -> list[Surgery]:
        """:meth:`of_mission` for a read that changes nothing (the route listing them): Core rows by
        a statement built once, no ORM objects (issue 23). A handler that changes the surgeries
        reads them with :meth:`of_mission`, whose ORM rows its saves then find loaded."""
        query = _LISTED_BY_STATUS if status else _LISTED
        rows = await self.session.execute(query, {"mission_id": mission_id,
                                                  **({"status": status.value} if status else {})})
        return [_surgery(r, r.case_priority, r.case_risk_scheme, r.case_risk_category) for r in rows]

    async def live_of_case(self, case_id: uuid.UUID) -> list[Surgery]:
        """The case's surgeries scheduled or under way (at most one, as a case is booked once)."""
        rows = await self.session.scalars(
            select(SurgeryRow).where(SurgeryRow.case_id == case_id,
                                     SurgeryRow.status.in_(LIVE_SURGERY))  # type: ignore[attr-defined]
            .order_by(SurgeryRow.scheduled_start))
        return [_surgery(r) for r in rows]

    async def of_case(self, case_id: uuid.UUID) -> list[Surgery]:
        rows = (await self.session.execute(_WITH_CASE.where(SurgeryRow.case_id == case_id)
                                           .order_by(SurgeryRow.scheduled_start))).all()
        return [_surgery(*r) for r in rows]

    async def missions_of_case(self, case_id: uuid.UUID) -> set[uuid.UUID]:
        """The missions a case belongs to: those with a surgery or a consultation of it (any status)."""
        surgeries = await self.session.scalars(select(SurgeryRow.mission_id).where(SurgeryRow.case_id == case_id))
        consultations = await self.session.scalars(
            select(ConsultationRow.mission_id).where(ConsultationRow.case_id == case_id))
        return {*surgeries, *consultations}

    async def planned_in_room(self, room_id: uuid.UUID) -> list[Surgery]:
        rows = await self.session.scalars(
            select(SurgeryRow).where(SurgeryRow.operating_room_id == room_id,
                                     SurgeryRow.status.in_(LIVE_SURGERY))  # type: ignore[attr-defined]
            .order_by(SurgeryRow.scheduled_start))
        return [_surgery(r) for r in rows]

    async def count(self, mission_id: uuid.UUID, status: SurgeryStatus) -> int:
        return int(await self.session.scalar(
            select(func.count()).select_from(SurgeryRow)
            .where(SurgeryRow.mission_id == mission_id, SurgeryRow.status == status.value)) or 0)

    async def save(self, s: Surgery, at: datetime, *, changed: bool = False) -> None:
        """``changed``: what its representation includes changed (its case's priority)."""
        row = await self.session.merge(SurgeryRow(
            id=s.id, mission_id=s.mission_id, case_id=s.case_id, patient_ref=s.patient_ref, procedure=s.procedure,
            operating_room_id=s.operating_room_id, operating_room=s.operating_room,
            scheduled_start=s.scheduled_start, scheduled_end=s.scheduled_end,
            expected_duration_minutes=s.expected_duration_minutes, lead_surgeon_id=s.lead_surgeon_id,
            anaesthetist_id=s.anaesthetist_id, status=s.status.value, status_reason=s.status_reason,
            on_hold=s.on_hold, site_institution_id=s.site_institution_id, started_at=s.started_at,
            completed_at=s.completed_at, duration_minutes=s.duration_minutes,
            outcome=s.outcome.value if s.outcome else None,
            lead_side=s.lead_side.value if s.lead_side else None,
            local_roles=[{"practitioner_id": str(p.practitioner_id), "role": p.role.value} for p in s.local_roles] or None,
            follow_up_outcome=s.follow_up_outcome.value if s.follow_up_outcome else None,
            followed_up_on=s.followed_up_on, follow_up_days=s.follow_up_days,
        ))
        await self._stamp(row, s, at, changed=changed)


_SURGERY = SurgeryRow.__table__
_LISTED = (select(_SURGERY, PatientCaseRow.__table__.c.priority.label("case_priority"),
                  PatientCaseRow.__table__.c.risk_scheme.label("case_risk_scheme"),
                  PatientCaseRow.__table__.c.risk_category.label("case_risk_category"))
           .join(PatientCaseRow.__table__, PatientCaseRow.__table__.c.id == _SURGERY.c.case_id)
           .where(_SURGERY.c.mission_id == bindparam("mission_id"))
           .order_by(_SURGERY.c.scheduled_start))
_LISTED_BY_STATUS = _LISTED.where(_SURGERY.c.status == bindparam("status"))


def _surgery(r: Any, priority: int | None = None, risk_scheme: str | None = None,
             risk_category: int | None = None) -> Surgery:
    """A surgery from its row; with its case's priority and risk where the query read them."""
    return Surgery(
        priority=priority, risk_scheme=RiskScheme(risk_scheme) if risk_scheme else None, risk_category=risk_category,
        id=r.id, mission_id=r.mission_id, case_id=r.case_id, patient_ref=r.patient_ref, procedure=r.procedure,
        operating_room_id=r.operating_room_id, operating_room=r.operating_room, scheduled_start=r.scheduled_start,
        expected_duration_minutes=r.expected_duration_minutes, lead_surgeon_id=r.lead_surgeon_id,
        anaesthetist_id=r.anaesthetist_id, status=SurgeryStatus(r.status), status_reason=r.status_reason,
        on_hold=bool(r.on_hold), started_at=r.started_at,
        completed_at=r.completed_at, duration_minutes=r.duration_minutes,
        outcome=SurgeryOutcome(r.outcome) if r.outcome else None, version=r.version, updated_at=r.updated_at,
        lead_side=LeadSide(r.lead_side) if r.lead_side else None,
        local_roles=tuple(LocalPart(uuid.UUID(p["practitioner_id"]), LocalRole(p["role"])) for p in r.local_roles or ()),
        follow_up_outcome=FollowUpOutcome(r.follow_up_outcome) if r.follow_up_outcome else None,
        followed_up_on=r.followed_up_on, follow_up_days=r.follow_up_days,
        site_institution_id=r.site_institution_id,
    )


class Consultations(_Repository):
    async def get(self, consultation_id: uuid.UUID, *, for_update: bool = False) -> Consultation | None:
        row = await self._one(select(ConsultationRow).where(ConsultationRow.id == consultation_id), for_update)
        return _consultation(row) if row else None

    async def of_case(self, case_id: uuid.UUID) -> list[Consultation]:
        rows = await self.session.scalars(select(ConsultationRow).where(ConsultationRow.case_id == case_id)
                                          .order_by(ConsultationRow.scheduled_at))
        return [_consultation(r) for r in rows]

    async def of_mission(self, mission_id: uuid.UUID, *, status: ActivityStatus | None = None) -> list[Consultation]:
        query = select(ConsultationRow).where(ConsultationRow.mission_id == mission_id)
        if status:
            query = query.where(ConsultationRow.status == status.value)
        return [_consultation(r) for r in await self.session.scalars(query.order_by(ConsultationRow.scheduled_at))]

    async def save(self, c: Consultation) -> None:
        await self.session.merge(ConsultationRow(
            id=c.id, mission_id=c.mission_id, case_id=c.case_id, patient_ref=c.patient_ref, specialty=c.specialty,
            scheduled_at=c.scheduled_at, status=c.status.value, held_at=c.held_at, on_hold=c.on_hold,
            site_institution_id=c.site_institution_id,
        ))


def _consultation(r: ConsultationRow) -> Consultation:
    return Consultation(id=r.id, mission_id=r.mission_id, case_id=r.case_id, patient_ref=r.patient_ref,
                        specialty=r.specialty, scheduled_at=r.scheduled_at, status=ActivityStatus(r.status),
                        held_at=r.held_at, on_hold=bool(r.on_hold), site_institution_id=r.site_institution_id)


class TrainingSessions(_Repository):
    async def get(self, session_id: uuid.UUID, *, for_update: bool = False) -> TrainingSession | None:
        row = await self._one(select(TrainingSessionRow).where(TrainingSessionRow.id == session_id), for_update)
        return _training(row) if row else None

    async def of_mission(self, mission_id: uuid.UUID, *,
                         status: ActivityStatus | None = None) -> list[TrainingSession]:
        query = select(TrainingSessionRow).where(TrainingSessionRow.mission_id == mission_id)
        if status:
            query = query.where(TrainingSessionRow.status == status.value)
        return [_training(r) for r in await self.session.scalars(query.order_by(TrainingSessionRow.scheduled_at))]

    async def save(self, t: TrainingSession) -> None:
        await self.session.merge(TrainingSessionRow(
            id=t.id, mission_id=t.mission_id, topic=t.topic, scheduled_at=t.scheduled_at, hours=t.hours,
            status=t.status.value, held_at=t.held_at, trainee_count=t.trainee_count,
            site_institution_id=t.site_institution_id,
        ))


def _training(r: TrainingSessionRow) -> TrainingSession:
    return TrainingSession(id=r.id, mission_id=r.mission_id, topic=r.topic, scheduled_at=r.scheduled_at,
                           hours=r.hours, status=ActivityStatus(r.status), held_at=r.held_at,
                           trainee_count=r.trainee_count, site_institution_id=r.site_institution_id)


# -- training placements ---------------------------------------------------------------------


class Placements(_Repository):
    async def get(self, placement_id: uuid.UUID, *, for_update: bool = False) -> TrainingPlacement | None:
        row = await self._one(select(TrainingPlacementRow).where(TrainingPlacementRow.id == placement_id),
                              for_update)
        return _placement(row) if row else None

    async def of_convention(self, convention_id: uuid.UUID) -> list[TrainingPlacement]:
        query = (select(TrainingPlacementRow).where(TrainingPlacementRow.convention_id == convention_id)
                 .order_by(TrainingPlacementRow.starts_on, TrainingPlacementRow.created_at))
        return [_placement(r) for r in await self.session.scalars(query)]

    async def save(self, p: TrainingPlacement) -> None:
        await self.session.merge(TrainingPlacementRow(
            id=p.id, convention_id=p.convention_id, kind=p.kind.value, specialty=p.specialty,
            provider_institution_id=p.provider_institution_id, beneficiary_institution_id=p.beneficiary_institution_id,
            starts_on=p.starts_on, ends_on=p.ends_on,
            trainees=[{"practitioner_id": str(t.practitioner_id), "full_name": t.full_name} for t in p.trainees],
            status=p.status.value, status_reason=p.status_reason, days_spent=p.days_spent,
            completed_on=p.completed_on, created_at=p.created_at,
        ))


def _placement(r: TrainingPlacementRow) -> TrainingPlacement:
    return TrainingPlacement(
        id=r.id, convention_id=r.convention_id, kind=PlacementKind(r.kind), specialty=r.specialty,
        provider_institution_id=r.provider_institution_id, beneficiary_institution_id=r.beneficiary_institution_id,
        starts_on=r.starts_on, ends_on=r.ends_on,
        trainees=[Trainee(uuid.UUID(t["practitioner_id"]), t["full_name"]) for t in r.trainees],
        status=PlacementStatus(r.status), status_reason=r.status_reason, days_spent=r.days_spent,
        completed_on=r.completed_on, created_at=r.created_at)


_CASE_FILTERS: dict[str, Any] = {
    "institution_id": PatientCaseRow.host_institution_id == bindparam("institution_id"),
    "status": PatientCaseRow.status == bindparam("status"),
    "priority": PatientCaseRow.priority == bindparam("priority"),
    "name_hash": PatientCaseRow.name_hash == bindparam("name_hash"),
}


@functools.cache
def _waiting_pages(filters: tuple[str, ...]) -> Keyset:
    """The waiting list's keyset with these filters (at most 8), built once."""
    # Core rows, not ORM objects: a page is only read (issue 23)
    query = select(PatientCaseRow.__table__).where(*(_CASE_FILTERS[f] for f in filters))
    return keyset(query, order_by=("priority", "registered_at", "id"))


_MISSION_FILTERS: dict[str, Any] = {
    "convention_id": MissionRow.convention_id == bindparam("convention_id"),
    # hosted there: the mission's host or one of its sites
    "host_institution_id": or_(MissionRow.host_institution_id == bindparam("host_institution_id"),
                               MissionRow.id.in_(  # type: ignore[attr-defined]
                                   select(MissionSiteRow.mission_id)
                                   .where(MissionSiteRow.institution_id == bindparam("host_institution_id")))),
    "status": MissionRow.status == bindparam("status"),
}


@functools.cache
def _mission_pages(filters: tuple[str, ...]) -> Keyset:
    """The missions' keyset with these filters (at most 8), built once."""
    query = select(MissionRow).where(*(_MISSION_FILTERS[f] for f in filters))
    return keyset(query, order_by=("starts_on", "created_at", "id"), scalars=True)
