"""The queries the handlers need: institutions, conventions (with their parties,
specialties, amendments and history) and progress facts, over ``tables.py``."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from convention.domain.conventions import (
    Amendment,
    Convention,
    ConventionKind,
    ConventionStatus,
    CostBearer,
    Money,
    ReferenceCost,
    Objectives,
    Party,
    Step,
    Terms,
    YearObjectives,
)
from convention.domain.events import terms_json
from convention.domain.institutions import Institution, identity_key
from convention.domain.progress import (
    TALLY_COUNTS,
    ConsultationDone,
    Contribution,
    DayTally,
    MissionDone,
    Moment,
    PlacementDone,
    ReferredTally,
    SurgeryDone,
    Tallies,
    TrainingDone,
    contribution,
)
from convention.domain.achievements import Climb, LedTally, OutcomeTally, climbs
from convention.domain.achievements import Step as RoleStep
from convention.store.tables import (
    AmendmentRow,
    AutonomyTally,
    FollowUpFact,
    OutcomeTally as OutcomeRow,
    PractitionerStep,
    ConsultationFact,
    ConventionRow,
    DayTallyRow,
    MissionDayRow,
    ReferredTallyRow,
    HistoryRow,
    InstitutionRow,
    MissionFact,
    PartyRow,
    PlacementFact,
    SpecialtyRow,
    SurgeryFact,
    Table,
    TrainingFact,
    institution_of,
)
from jumelage.db import fetch_page, keyset, offset_or_cursor, paged
from jumelage.events.convention import PartyRole
from jumelage.events.scheduling import FollowUpOutcome, LocalRole


class Institutions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, institution: Institution) -> None:
        row = InstitutionRow(id=institution.id, registered_at=institution.registered_at, name="", kind="",
                             country="", city="", name_key="", city_key="")
        row.update_from(institution)
        self.session.add(row)

    async def save(self, institution: Institution) -> None:
        row = await self.session.get(InstitutionRow, institution.id)
        assert row is not None
        row.update_from(institution)

    async def get(self, institution_id: uuid.UUID) -> Institution | None:
        row = await self.session.get(InstitutionRow, institution_id)
        return row.to_domain() if row else None

    async def known(self, ids: set[uuid.UUID]) -> set[uuid.UUID]:
        if not ids:
            return set()
        return set(await self.session.scalars(select(InstitutionRow.id).where(InstitutionRow.id.in_(ids))))

    async def named(self, name: str, city: str) -> Institution | None:
        row = (
            await self.session.scalars(
                select(InstitutionRow).where(
                    InstitutionRow.name_key == identity_key(name), InstitutionRow.city_key == identity_key(city)
                )
            )
        ).first()
        return row.to_domain() if row else None

    async def search(
        self, *, kind: str | None = None, country: str | None = None, wilaya: str | None = None,
        city: str | None = None, name: str | None = None, limit: int = 50, offset: int = 0,
    ) -> tuple[list[Institution], int]:
        given = {"kind": kind or None, "country": country.upper() if country else None,
                 "wilaya": wilaya.lower() if wilaya else None, "city": city.lower() if city else None,
                 "name": f"%{like_escaped(name.lower())}%" if name else None}
        filters = {k: v for k, v in given.items() if v is not None}
        rows, total = await fetch_page(self.session, _institution_search(tuple(filters)), limit=limit, offset=offset,
                                       **filters)
        return [institution_of(r) for r in rows], total


_INSTITUTION_FILTERS: dict[str, Any] = {
    "kind": InstitutionRow.kind == bindparam("kind"),
    "country": InstitutionRow.country == bindparam("country"),
    "wilaya": func.lower(InstitutionRow.wilaya) == bindparam("wilaya"),
    "city": func.lower(InstitutionRow.city) == bindparam("city"),
    "name": func.lower(InstitutionRow.name).like(bindparam("name"), escape="/"),
}


@functools.cache
def _institution_search(filters: tuple[str, ...]) -> Select[Any]:
    """The search with these filters (at most 32 statements), built once (``jumelage.db.paged``)."""
    columns = InstitutionRow.__table__.c  # type: ignore[attr-defined]
    query = select(*(columns[c] for c in ("id", "name", "kind", "country", "city", "wilaya", "registered_at")))
    return paged(query.where(*(_INSTITUTION_FILTERS[f] for f in filters)), order_by=("name", "id"))


def like_escaped(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '/' (as SQLAlchemy's ``autoescape``)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def terms_value(name: str, raw: Any) -> Any:
    """The domain value of a term read back from its JSON shape (the inverse of ``terms_json``)."""
    if name == "parties":
        return tuple(Party(uuid.UUID(p["institution_id"]), PartyRole(p["role"])) for p in raw)
    if name == "cost_bearers":
        return tuple(CostBearer(uuid.UUID(c["institution_id"]), c["covers"]) for c in raw)
    if name == "reference_costs":
        return tuple(ReferenceCost(c["specialty"], c["procedure"], Money(Decimal(c["abroad"]["amount"]),
                                                                         c["abroad"]["currency"]),
                                   Money(Decimal(c["here"]["amount"]), c["here"]["currency"])) for c in raw)
    if name == "objectives":
        return Objectives(**raw)
    if name == "yearly_objectives":
        return tuple(YearObjectives(**y) for y in raw or ())
    if name == "specialties":
        return tuple(raw)
    if name in ("effective_from", "effective_until"):
        return date.fromisoformat(raw)
    if name == "kind":
        return ConventionKind(raw)
    return raw


class Conventions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, convention: Convention, at: datetime) -> None:
        """A new convention, ``at`` the instant of the service's clock (its ``updated_at``)."""
        self.session.add(ConventionRow(id=convention.id, created_at=convention.created_at, updated_at=at,
                                       **self._columns(convention)))
        self._add_children(convention)
        convention.version, convention.updated_at = 1, at  # the version the flush writes

    async def save(self, convention: Convention, at: datetime) -> None:
        """Write the convention's changes; its version goes up by one if anything of it
        changed (terms, status, parties, specialties, amendments), ``updated_at`` becomes
        ``at``, and the UPDATE applies only to the version this transaction read (a lost
        race: StaleDataError)."""
        row = await self.session.get(ConventionRow, convention.id)
        assert row is not None
        if row.version != convention.version:  # read in another transaction, changed since
            raise StaleDataError(f"convention {convention.reference} is at version {row.version}, "
                                 f"not the version {convention.version} it was read at")
        # Child rows first: their sync flushes, and the convention's row is written once, below.
        changed = await self._sync(PartyRow, "institution_id", convention.id, {
            p.institution_id: {"role": p.role.value, "position": i} for i, p in enumerate(convention.terms.parties)})
        changed |= await self._sync(SpecialtyRow, "specialty", convention.id, {
            s: {"position": i} for i, s in enumerate(convention.terms.specialties)})
        known = set(await self.session.scalars(
            select(AmendmentRow.number).where(AmendmentRow.convention_id == convention.id)))
        for a in convention.amendments:
            if a.number not in known:
                changed = True
                self.session.add(AmendmentRow(convention_id=convention.id, number=a.number, signed_on=a.signed_on,
                                              summary=a.summary, recorded_at=a.recorded_at,
                                              changes={k: terms_json(k, v) for k, v in a.changes.items()},
                                              effective_from=a.effective_from,
                                              replaced={k: terms_json(k, v) for k, v in a.replaced.items()}))
        for name, value in self._columns(convention).items():
            setattr(row, name, value)
        if changed or self.session.is_modified(row):
            row.updated_at = at
            flag_modified(row, "updated_at")  # an UPDATE even at the same instant: the version must move
            await self.session.flush()  # the UPDATE raises the version: the response's ETag
        convention.version, convention.updated_at = row.version, row.updated_at

    async def _sync(self, model: Any, key: str, convention_id: uuid.UUID, wanted: dict[Any, dict[str, Any]]) -> bool:
        """Make a convention's child rows match ``wanted`` (key -> column values); True if any changed."""
        existing = {getattr(r, key): r for r in await self.session.scalars(
            select(model).where(model.convention_id == convention_id))}
        changed = False
        for k, row in existing.items():
            if k not in wanted:
                changed = True
                await self.session.delete(row)
        await self.session.flush()  # deletions first: positions are reused
        for k, values in wanted.items():
            row = existing.get(k)
            if row is None:
                changed = True
                self.session.add(model(convention_id=convention_id, **{key: k}, **values))
            else:
                for name, value in values.items():
                    changed |= getattr(row, name) != value
                    setattr(row, name, value)
        return changed

    def _add_children(self, c: Convention) -> None:
        for i, p in enumerate(c.terms.parties):
            self.session.add(PartyRow(convention_id=c.id, institution_id=p.institution_id, role=p.role.value,
                                      position=i))
        for i, s in enumerate(c.terms.specialties):
            self.session.add(SpecialtyRow(convention_id=c.id, specialty=s, position=i))

    async def remove(self, convention_id: uuid.UUID) -> None:
        """A discarded draft with its parties, specialties and history (a draft has no amendment)."""
        for model in (PartyRow, SpecialtyRow, HistoryRow, AmendmentRow):
            await self.session.execute(delete(model).where(model.convention_id == convention_id))
        await self.session.execute(delete(ConventionRow).where(ConventionRow.id == convention_id))

    @staticmethod
    def _columns(c: Convention) -> dict[str, Any]:
        t = c.terms
        return dict(
            reference=c.reference, title=t.title, kind=t.kind.value, effective_from=t.effective_from,
            effective_until=t.effective_until, objective_surgeries=t.objectives.surgeries,
            objective_consultations=t.objectives.consultations,
            objective_training_sessions=t.objectives.training_sessions,
            cost_bearers=terms_json("cost_bearers", t.cost_bearers),
            reference_costs=terms_json("reference_costs", t.reference_costs),
            yearly_objectives=terms_json("yearly_objectives", t.yearly_objectives), status=c.status.value,
            signed_on=c.signed_on, signed_at=c.signed_at, status_reason=c.status_reason, ended_on=c.ended_on,
        )

    async def get(self, convention_id: uuid.UUID, *, for_update: bool = False) -> Convention | None:
        query = select(ConventionRow).where(ConventionRow.id == convention_id)
        if for_update:
            query = query.with_for_update()  # two changes to one convention queue up
        row = (await self.session.scalars(query)).first()
        return await self._load(row) if row else None

    async def by_reference(self, reference: str) -> Convention | None:
        row = (await self.session.scalars(
            select(ConventionRow).where(func.lower(ConventionRow.reference) == reference.strip().lower()))).first()
        return await self._load(row) if row else None

    async def _load(self, row: ConventionRow) -> Convention:
        parties = await self.session.scalars(
            select(PartyRow).where(PartyRow.convention_id == row.id).order_by(PartyRow.position))
        specialties = await self.session.scalars(
            select(SpecialtyRow).where(SpecialtyRow.convention_id == row.id).order_by(SpecialtyRow.position))
        amendments = await self.session.scalars(
            select(AmendmentRow).where(AmendmentRow.convention_id == row.id).order_by(AmendmentRow.number))
        terms = Terms(
            title=row.title, kind=ConventionKind(row.kind),
            parties=tuple(Party(p.institution_id, PartyRole(p.role)) for p in parties),
            effective_from=row.effective_from, effective_until=row.effective_until,
            specialties=tuple(s.specialty for s in specialties),
            objectives=Objectives(row.objective_surgeries, row.objective_consultations,
                                  row.objective_training_sessions),
            cost_bearers=terms_value("cost_bearers", row.cost_bearers),
            reference_costs=terms_value("reference_costs", row.reference_costs),
            yearly_objectives=terms_value("yearly_objectives", row.yearly_objectives),
        )
        return Convention(
            id=row.id, reference=row.reference, terms=terms, status=ConventionStatus(row.status),
            signed_on=row.signed_on, signed_at=row.signed_at, status_reason=row.status_reason,
            ended_on=row.ended_on, created_at=row.created_at, version=row.version, updated_at=row.updated_at,
            amendments=[Amendment(a.number, a.signed_on, a.summary,
                                  {k: terms_value(k, v) for k, v in a.changes.items()}, a.recorded_at,
                                  a.effective_from, {k: terms_value(k, v) for k, v in (a.replaced or {}).items()})
                        for a in amendments],
        )

    async def search(
        self, *, status: str | None = None, party: uuid.UUID | None = None, specialty: str | None = None,
        active_on: date | None = None, reference: str | None = None, limit: int = 50, offset: int = 0,
        cursor: str | None = None,
    ) -> tuple[list[Convention], int, str | None]:
        """A page (by offset, or keyset after ``cursor``), the total, and the next page's cursor."""
        offset_or_cursor(offset, cursor)
        query = select(ConventionRow)
        if status:
            query = query.where(ConventionRow.status == status)
        if party:
            query = query.where(ConventionRow.id.in_(
                select(PartyRow.convention_id).where(PartyRow.institution_id == party)))
        if specialty:
            query = query.where(ConventionRow.id.in_(
                select(SpecialtyRow.convention_id).where(func.lower(SpecialtyRow.specialty) == specialty.lower())))
        if active_on:
            query = query.where(ConventionRow.status == ConventionStatus.signed.value,
                                ConventionRow.effective_from <= active_on, ConventionRow.effective_until >= active_on)
        if reference:
            query = query.where(or_(func.lower(ConventionRow.reference).contains(reference.lower(), autoescape=True),
                                    func.lower(ConventionRow.title).contains(reference.lower(), autoescape=True)))
        total = int(await self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        pages = keyset(query, order_by=("effective_from", "reference", "id"), descending=("effective_from",),
                       scalars=True)
        if cursor is not None or not offset:
            rows, after = await pages.fetch(self.session, limit=limit, cursor=cursor)
        else:
            rows = list((await self.session.scalars(pages.first.offset(offset), {"limit": limit})).all())
            after = pages.cursor_after(rows[-1]) if rows and offset + len(rows) < total else None
        return [await self._load(r) for r in rows], total, after

    async def due_to_expire(self, today: date, limit: int = 100) -> list[Convention]:
        rows = (await self.session.scalars(
            select(ConventionRow)
            .where(ConventionRow.status.in_([ConventionStatus.signed.value, ConventionStatus.suspended.value]),
                   ConventionRow.effective_until < today)
            .order_by(ConventionRow.effective_until)
            .limit(limit)
            # Another replica checking at the same moment skips the rows we hold.
            .with_for_update(skip_locked=True)
        )).all()
        return [await self._load(r) for r in rows]

    def record_history(self, convention_id: uuid.UUID, at: datetime, action: str, details: dict[str, Any],
                       event_id: uuid.UUID | None, correlation_id: str | None) -> None:
        self.session.add(HistoryRow(convention_id=convention_id, at=at, action=action, details=details,
                                    event_id=event_id, correlation_id=correlation_id))

    async def history(self, convention_id: uuid.UUID) -> list[Step]:
        rows = await self.session.scalars(
            select(HistoryRow).where(HistoryRow.convention_id == convention_id).order_by(HistoryRow.id))
        return [Step(r.at, r.action, r.details, r.event_id, r.correlation_id) for r in rows]


class Facts:
    """Progress facts, one row per thing that happened (upserted by its id)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, row: Table) -> None:
        await self.session.merge(row)

    async def of(self, convention_id: uuid.UUID) -> tuple[list[SurgeryDone], list[ConsultationDone],
                                                          list[TrainingDone], list[MissionDone],
                                                          list[PlacementDone]]:
        def q(model: Any) -> Any:
            return select(model).where(model.convention_id == convention_id)

        surgeries = [SurgeryDone(r.surgery_id, r.mission_id, r.outcome, r.previously_referred_abroad,
                                 r.completed_at, r.specialty, r.procedure)
                     for r in await self.session.scalars(q(SurgeryFact))]
        consultations = [ConsultationDone(r.consultation_id, r.mission_id, r.held_at)
                         for r in await self.session.scalars(q(ConsultationFact))]
        trainings = [TrainingDone(r.training_session_id, r.mission_id, r.topic, r.hours, r.trainee_count,
                                  r.held_at) for r in await self.session.scalars(q(TrainingFact))]
        missions = [MissionDone(r.mission_id, r.surgeries, r.consultations, r.training_sessions)
                    for r in await self.session.scalars(q(MissionFact))]
        placements = [PlacementDone(r.placement_id, r.kind, r.days_spent, r.trainee_count, r.ends_on)
                      for r in await self.session.scalars(q(PlacementFact))]
        return surgeries, consultations, trainings, missions, placements

    async def get(self, model: Any, key: uuid.UUID) -> Any:
        return await self.session.get(model, key)

    async def surgery(self, surgery_id: uuid.UUID) -> SurgeryFact | None:
        return await self.session.get(SurgeryFact, surgery_id)

    async def follow_up(self, surgery_id: uuid.UUID) -> FollowUpFact | None:
        return await self.session.get(FollowUpFact, surgery_id)

    # -- tallies: raised as facts arrive ------------------------------------------------

    async def _raise(self, model: Any, key: dict[str, Any], counts: dict[str, int],
                     first: dict[str, Any] | None = None) -> None:
        """UPDATE the tally's row by ``counts`` (each column += n); INSERT it if it had none.
        Two first facts of one key at once: the loser's INSERT fails and its event is handled
        again (the consumer's retry), finding the row."""
        where = [getattr(model, k) == v for k, v in key.items()]
        done = await self.session.execute(
            update(model).where(*where).values({c: getattr(model, c) + n for c, n in counts.items()})
            .execution_options(synchronize_session=False))
        if done.rowcount == 0:
            await self.session.execute(insert(model).values({**key, **counts, **(first or {})}))

    async def count_surgery(self, convention_id: uuid.UUID, period: str, risk: str, *, led_locally: bool,
                            died: bool) -> None:
        await self._raise(AutonomyTally, {"convention_id": convention_id, "period": period, "risk": risk},
                          {"surgeries": 1, "led_locally": int(led_locally)})
        zeros = {c: 0 for c in ("alive", "readmitted", "reoperated", "surgical_site_infection", "deceased",
                                "lost_to_follow_up")}
        await self._raise(OutcomeRow, {"convention_id": convention_id, "risk": risk},
                          {"operated": 1, "died_at_surgery": int(died)}, zeros)

    async def count_step(self, convention_id: uuid.UUID, practitioner_ref: str, role: str, full_name: str | None,
                         at: datetime) -> None:
        key = {"convention_id": convention_id, "practitioner_ref": practitioner_ref, "role": role}
        row = await self.session.get(PractitionerStep, tuple(key.values()), with_for_update=True)
        if row is None:
            self.session.add(PractitionerStep(**key, full_name=full_name, first_at=at, surgeries=1))
            await self.session.flush()
            return
        row.surgeries += 1
        row.first_at = min(row.first_at, at)
        row.full_name = full_name or row.full_name

    async def count_follow_up(self, convention_id: uuid.UUID, risk: str, outcome: str) -> None:
        zeros = {c: 0 for c in ("operated", "died_at_surgery", "alive", "readmitted", "reoperated",
                                "surgical_site_infection", "deceased", "lost_to_follow_up") if c != outcome}
        await self._raise(OutcomeRow, {"convention_id": convention_id, "risk": risk}, {outcome: 1}, zeros)

    async def autonomy(self, convention_id: uuid.UUID) -> tuple[list[tuple[str, LedTally]], list[Climb]]:
        """The tallies per (month, risk category), and each local practitioner's climb."""
        led = [(r.period, LedTally(r.risk, r.surgeries, r.led_locally)) for r in await self.session.scalars(
            select(AutonomyTally).where(AutonomyTally.convention_id == convention_id)
            .order_by(AutonomyTally.period))]
        steps = [(r.practitioner_ref, r.full_name, RoleStep(LocalRole(r.role), r.first_at, r.surgeries))
                 for r in await self.session.scalars(
                     select(PractitionerStep).where(PractitionerStep.convention_id == convention_id))]
        return led, climbs(steps)

    async def outcomes(self, convention_id: uuid.UUID) -> list[OutcomeTally]:
        rows = await self.session.scalars(select(OutcomeRow).where(OutcomeRow.convention_id == convention_id))
        return [OutcomeTally(r.risk, r.operated, r.died_at_surgery, {
            o.value: getattr(r, o.value) for o in FollowUpOutcome}) for r in rows]

    async def moments(self, convention_id: uuid.UUID) -> list[Moment]:
        """When each surgery, consultation and training session happened (only the
        columns the calendar needs), for progress over time."""
        surgeries = await self.session.execute(
            select(SurgeryFact.completed_at, SurgeryFact.previously_referred_abroad, SurgeryFact.specialty,
                   SurgeryFact.procedure)
            .where(SurgeryFact.convention_id == convention_id))
        consultations = await self.session.scalars(
            select(ConsultationFact.held_at).where(ConsultationFact.convention_id == convention_id))
        trainings = await self.session.scalars(
            select(TrainingFact.held_at).where(TrainingFact.convention_id == convention_id))
        return ([Moment("surgeries", at, bool(abroad), specialty, procedure)
                 for at, abroad, specialty, procedure in surgeries]
                + [Moment("consultations", at) for at in consultations]
                + [Moment("training_sessions", at) for at in trainings])


# -- progress counters (``progress_day``, ``progress_referred``, ``progress_mission_day``) ---------


def done_of(row: Any) -> SurgeryDone | ConsultationDone | TrainingDone | PlacementDone:
    """The domain fact a fact row holds (the values a counter counts)."""
    if isinstance(row, SurgeryFact):
        return SurgeryDone(row.surgery_id, row.mission_id, row.outcome, bool(row.previously_referred_abroad),
                           row.completed_at, row.specialty, row.procedure)
    if isinstance(row, ConsultationFact):
        return ConsultationDone(row.consultation_id, row.mission_id, row.held_at)
    if isinstance(row, TrainingFact):
        return TrainingDone(row.training_session_id, row.mission_id, row.topic, row.hours, row.trainee_count,
                            row.held_at)
    assert isinstance(row, PlacementFact)
    return PlacementDone(row.placement_id, row.kind, row.days_spent, row.trainee_count, row.ends_on)


_EPSILON = 1e-9  # a sum of hours taken back to zero (floats)


def _instant(value: Any) -> datetime | None:
    """A ``last_at`` read by a plain column select or an aggregate (SQLite's max() gives text)."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None and value.tzinfo else value
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC) if "+" not in str(value) else \
        datetime.fromisoformat(str(value)).astimezone(UTC)


class Counters:
    """A convention's progress counters, raised (and, for a corrected fact, lowered) in the
    transaction that records the fact; read instead of the facts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, convention_id: uuid.UUID, fact: Any, zone: tzinfo, sign: int = 1) -> None:
        """Add (``sign`` 1) or take away (-1) what ``fact`` (a fact row, or its domain value) counts.
        Taking away is done after the fact row holds its new values (the day's last activity is
        looked up again among the facts)."""
        c = fact if isinstance(fact, Contribution) else contribution(
            fact if isinstance(fact, (SurgeryDone, ConsultationDone, TrainingDone, PlacementDone)) else done_of(fact),
            zone)
        row = await self.session.get(DayTallyRow, (convention_id, c.day), with_for_update=True)
        if row is None:
            assert sign > 0, "a fact taken away from a day it was never counted in"
            row = DayTallyRow(convention_id=convention_id, day=c.day, **{k: 0 for k in TALLY_COUNTS})
            self.session.add(row)
        for name, n in c.counts.items():
            setattr(row, name, getattr(row, name) + sign * n)
        if c.at is not None:
            if sign > 0:
                row.last_at = c.at if row.last_at is None or c.at > row.last_at else row.last_at
            else:
                row.last_at = await self._last_at(convention_id, c.day, zone)
        if sign < 0 and all(abs(getattr(row, k)) < _EPSILON for k in TALLY_COUNTS):
            await self.session.delete(row)
        if c.referred is not None:
            spec, proc = c.referred
            await self._step(ReferredTallyRow, (convention_id, c.day, spec or "", proc or ""), "cases", sign)
        if c.mission_id is not None:
            await self._step(MissionDayRow, (convention_id, c.mission_id, c.day), "facts", sign)
        await self.session.flush()

    async def _step(self, model: Any, key: tuple[Any, ...], column: str, sign: int) -> None:
        row = await self.session.get(model, key, with_for_update=True)
        if row is None:
            assert sign > 0
            names = [c.name for c in model.__table__.primary_key.columns]
            self.session.add(model(**dict(zip(names, key, strict=True)), **{column: 1}))
            return
        setattr(row, column, getattr(row, column) + sign)
        if getattr(row, column) <= 0:
            await self.session.delete(row)

    async def _last_at(self, convention_id: uuid.UUID, day: date, zone: tzinfo) -> datetime | None:
        """The day's last surgery, consultation or session, among the facts (after a correction)."""
        await self.session.flush()
        lo = datetime.combine(day, time(), zone)
        hi = datetime.combine(day + timedelta(days=1), time(), zone)
        found = []
        for model, column in ((SurgeryFact, SurgeryFact.completed_at), (ConsultationFact, ConsultationFact.held_at),
                              (TrainingFact, TrainingFact.held_at)):
            at = await self.session.scalar(select(func.max(column)).where(
                model.convention_id == convention_id, column >= lo, column < hi))
            if at is not None:
                found.append(at if isinstance(at, datetime) else datetime.fromisoformat(str(at)))
        return max(found) if found else None

    async def of(self, convention_id: uuid.UUID, *, mission_days: bool = False) -> Tallies:
        """The convention's counters, day by day (and the days each mission worked, for a report)."""
        table = DayTallyRow.__table__  # type: ignore[attr-defined]
        columns = [table.c[k] for k in TALLY_COUNTS]
        days = [DayTally(day, dict(zip(TALLY_COUNTS, values, strict=True)), _instant(last_at))
                for day, last_at, *values in await self.session.execute(
                    select(table.c.day, table.c.last_at, *columns).where(table.c.convention_id == convention_id)
                    .order_by(table.c.day))]
        worked: list[tuple[uuid.UUID, date]] = []
        if mission_days:
            worked = [(m, d) for m, d in await self.session.execute(
                select(MissionDayRow.mission_id, MissionDayRow.day).where(
                    MissionDayRow.convention_id == convention_id))]
        return Tallies(days, await self._referred(convention_id), worked, await self._missions(convention_id))

    async def summed(self, convention_id: uuid.UUID) -> Tallies:
        """The convention's counters summed in the database (one row), for its progress over the
        whole period; the cases referred abroad still by day (the money goes by each day's lines)."""
        table = DayTallyRow.__table__  # type: ignore[attr-defined]
        row = (await self.session.execute(
            select(func.max(table.c.last_at), *(func.sum(table.c[k]) for k in TALLY_COUNTS))
            .where(table.c.convention_id == convention_id))).one()
        last_at, *values = row
        days = [DayTally(date.min, {k: v or 0 for k, v in zip(TALLY_COUNTS, values, strict=True)}, _instant(last_at))]
        return Tallies(days, await self._referred(convention_id), [], await self._missions(convention_id))

    async def _referred(self, convention_id: uuid.UUID) -> list[ReferredTally]:
        t = ReferredTallyRow
        return [ReferredTally(day, spec or None, proc or None, cases) for day, spec, proc, cases in
                await self.session.execute(select(t.day, t.specialty, t.procedure, t.cases)
                                           .where(t.convention_id == convention_id))]

    async def _missions(self, convention_id: uuid.UUID) -> list[MissionDone]:
        m = MissionFact
        return [MissionDone(*r) for r in await self.session.execute(
            select(m.mission_id, m.surgeries, m.consultations, m.training_sessions)
            .where(m.convention_id == convention_id))]

    async def totals(self, convention_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
        """Each convention's surgeries, consultations and training sessions done, in one query
        (the conventions list)."""
        if not convention_ids:
            return {}
        names = ("surgeries", "consultations", "training_sessions")
        rows = await self.session.execute(
            select(DayTallyRow.convention_id, *(func.sum(getattr(DayTallyRow, n)) for n in names))
            .where(DayTallyRow.convention_id.in_(convention_ids)).group_by(DayTallyRow.convention_id))
        return {cid: {n: int(v or 0) for n, v in zip(names, values, strict=True)} for cid, *values in rows}

    async def rebuild(self, zone: tzinfo, convention_id: uuid.UUID | None = None) -> int:
        """Recompute the counters from the facts (every convention, or one); the facts counted."""
        await self.session.flush()
        return await self.session.run_sync(lambda s: rebuild_counters(s, zone, convention_id))


def rebuild_counters(session: Any, zone: tzinfo, convention_id: uuid.UUID | None = None) -> int:
    """The counters recomputed from the facts in a synchronous session (the migration's, or
    the async session's through ``run_sync``): the rows of ``convention_id`` (None: all) deleted,
    then written again from every fact. Returns how many facts were counted."""
    def where(model: Any) -> Any:
        return [] if convention_id is None else [model.convention_id == convention_id]

    for model in (DayTallyRow, ReferredTallyRow, MissionDayRow):
        session.execute(delete(model).where(*where(model)))
    days: dict[tuple[uuid.UUID, date], dict[str, Any]] = {}
    referred: dict[tuple[Any, ...], int] = {}
    mission_days: dict[tuple[Any, ...], int] = {}
    counted = 0
    for model in (SurgeryFact, ConsultationFact, TrainingFact, PlacementFact):
        for row in session.scalars(select(model).where(*where(model)).execution_options(yield_per=2000)):
            counted += 1
            c = contribution(done_of(row), zone)
            day = days.setdefault((row.convention_id, c.day), {k: 0 for k in TALLY_COUNTS} | {"last_at": None})
            for name, n in c.counts.items():
                day[name] += n
            if c.at is not None and (day["last_at"] is None or c.at > day["last_at"]):
                day["last_at"] = c.at
            if c.referred is not None:
                key = (row.convention_id, c.day, c.referred[0] or "", c.referred[1] or "")
                referred[key] = referred.get(key, 0) + 1
            if c.mission_id is not None:
                key = (row.convention_id, c.mission_id, c.day)
                mission_days[key] = mission_days.get(key, 0) + 1
    if days:
        session.execute(insert(DayTallyRow), [{"convention_id": cid, "day": d, **v} for (cid, d), v in days.items()])
    if referred:
        session.execute(insert(ReferredTallyRow), [
            {"convention_id": k[0], "day": k[1], "specialty": k[2], "procedure": k[3], "cases": n}
            for k, n in referred.items()])
    if mission_days:
        session.execute(insert(MissionDayRow), [
            {"convention_id": k[0], "mission_id": k[1], "day": k[2], "facts": n} for k, n in mission_days.items()])
    return counted
