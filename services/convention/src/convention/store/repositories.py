"""Tables and the queries the handlers need (adapters: SQLModel on SQLite or PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar, Self

from sqlalchemy import JSON, Column, Date, Float, Integer, String, Text, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import declared_attr, registry
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Field, SQLModel

from convention.domain.conventions import (
    Amendment,
    Convention,
    ConventionKind,
    ConventionStatus,
    CostBearer,
    Objectives,
    Party,
    Terms,
)
from convention.domain.institutions import Institution, identity_key
from convention.domain.progress import ConsultationDone, MissionDone, SurgeryDone, TrainingDone
from jumelage.clock import Clock
from jumelage.db import UnitOfWork, UtcDateTime
from jumelage.events.convention import InstitutionKind, PartyRole


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, so the three services'
    tables never mix even when tests load them in one process."""


# -- institutions -----------------------------------------------------------------


class InstitutionRow(Table, table=True):
    __tablename__ = "institution"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    wilaya: str | None = Field(default=None, sa_column=Column(String(100)))
    city: str = Field(sa_column=Column(String(200), nullable=False))
    registered_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    name_key: str = Field(sa_column=Column(String(300), nullable=False))
    city_key: str = Field(sa_column=Column(String(200), nullable=False))

    def to_domain(self) -> Institution:
        return Institution(id=self.id, name=self.name, kind=InstitutionKind(self.kind), country=self.country,
                           city=self.city, wilaya=self.wilaya, registered_at=self.registered_at)

    def update_from(self, i: Institution) -> None:
        self.name, self.kind, self.country, self.wilaya, self.city = i.name, i.kind.value, i.country, i.wilaya, i.city
        self.name_key, self.city_key = i.key


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
        query = select(InstitutionRow)
        if kind:
            query = query.where(InstitutionRow.kind == kind)
        if country:
            query = query.where(InstitutionRow.country == country.upper())
        if wilaya:
            query = query.where(func.lower(InstitutionRow.wilaya) == wilaya.lower())
        if city:
            query = query.where(func.lower(InstitutionRow.city) == city.lower())
        if name:
            query = query.where(func.lower(InstitutionRow.name).contains(name.lower(), autoescape=True))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.scalars(query.order_by(InstitutionRow.name, InstitutionRow.id)
                                          .limit(limit).offset(offset))
        return [r.to_domain() for r in rows], int(total or 0)


# -- conventions ------------------------------------------------------------------


class ConventionRow(Table, table=True):
    __tablename__ = "convention"

    id: uuid.UUID = Field(primary_key=True)
    reference: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    effective_from: date = Field(sa_column=Column(Date, nullable=False))
    effective_until: date = Field(sa_column=Column(Date, nullable=False))
    objective_surgeries: int = Field(sa_column=Column(Integer, nullable=False))
    objective_consultations: int = Field(sa_column=Column(Integer, nullable=False))
    objective_training_sessions: int = Field(sa_column=Column(Integer, nullable=False))
    cost_bearers: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    signed_on: date | None = Field(default=None, sa_column=Column(Date))
    signed_at: str | None = Field(default=None, sa_column=Column(String(200)))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    ended_on: date | None = Field(default=None, sa_column=Column(Date))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # Optimistic concurrency: every UPDATE is "… WHERE version = <the one read>" and raises it by one.
    version: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class PartyRow(Table, table=True):
    __tablename__ = "convention_party"

    convention_id: uuid.UUID = Field(primary_key=True, foreign_key="convention.id")
    institution_id: uuid.UUID = Field(primary_key=True, index=True)
    role: str = Field(sa_column=Column(String(20), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))


class SpecialtyRow(Table, table=True):
    __tablename__ = "convention_specialty"

    convention_id: uuid.UUID = Field(primary_key=True, foreign_key="convention.id")
    specialty: str = Field(sa_column=Column(String(200), primary_key=True))
    position: int = Field(sa_column=Column(Integer, nullable=False))


class AmendmentRow(Table, table=True):
    __tablename__ = "amendment"

    convention_id: uuid.UUID = Field(primary_key=True, foreign_key="convention.id")
    number: int = Field(sa_column=Column(Integer, primary_key=True))
    signed_on: date = Field(sa_column=Column(Date, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    changes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class HistoryRow(Table, table=True):
    """Everything that happened to a convention, in order: kept, never edited."""

    __tablename__ = "convention_history"

    id: int | None = Field(default=None, primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False))
    details: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    event_id: uuid.UUID | None = None
    correlation_id: str | None = Field(default=None, sa_column=Column(String(200)))


def terms_json(name: str, value: Any) -> Any:
    """A term as it appears in events and amendment records (the contract's shapes)."""
    if name == "parties":
        return [{"institution_id": str(p.institution_id), "role": p.role.value} for p in value]
    if name == "cost_bearers":
        return [{"institution_id": str(c.institution_id), "covers": c.covers} for c in value]
    if name == "objectives":
        return {"surgeries": value.surgeries, "consultations": value.consultations,
                "training_sessions": value.training_sessions}
    if name == "specialties":
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, ConventionKind):
        return value.value
    return value


def terms_value(name: str, raw: Any) -> Any:
    """The domain value of a term read back from its JSON shape (the inverse of ``terms_json``)."""
    if name == "parties":
        return tuple(Party(uuid.UUID(p["institution_id"]), PartyRole(p["role"])) for p in raw)
    if name == "cost_bearers":
        return tuple(CostBearer(uuid.UUID(c["institution_id"]), c["covers"]) for c in raw)
    if name == "objectives":
        return Objectives(**raw)
    if name == "specialties":
        return tuple(raw)
    if name in ("effective_from", "effective_until"):
        return date.fromisoformat(raw)
    if name == "kind":
        return ConventionKind(raw)
    return raw


class Conventions:
    def __init__(self, session: AsyncSession, now: Callable[[], datetime]) -> None:
        self.session = session
        self.now = now  # the service's clock: when a convention was last changed

    def add(self, convention: Convention) -> None:
        now = self.now()
        self.session.add(ConventionRow(id=convention.id, created_at=convention.created_at, updated_at=now,
                                       **self._columns(convention)))
        self._add_children(convention)
        convention.version, convention.updated_at = 1, now  # the version the flush writes

    async def save(self, convention: Convention) -> None:
        """Write the convention's changes; its version goes up by one if anything of it
        changed (terms, status, parties, specialties, amendments), and the UPDATE
        applies only to the version this transaction read (a lost race: StaleDataError)."""
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
                                              changes={k: terms_json(k, v) for k, v in a.changes.items()}))
        for name, value in self._columns(convention).items():
            setattr(row, name, value)
        if changed or self.session.is_modified(row):
            row.updated_at = self.now()
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
            cost_bearers=terms_json("cost_bearers", t.cost_bearers), status=c.status.value,
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
        )
        return Convention(
            id=row.id, reference=row.reference, terms=terms, status=ConventionStatus(row.status),
            signed_on=row.signed_on, signed_at=row.signed_at, status_reason=row.status_reason,
            ended_on=row.ended_on, created_at=row.created_at, version=row.version, updated_at=row.updated_at,
            amendments=[Amendment(a.number, a.signed_on, a.summary,
                                  {k: terms_value(k, v) for k, v in a.changes.items()}, a.recorded_at)
                        for a in amendments],
        )

    async def search(
        self, *, status: str | None = None, party: uuid.UUID | None = None, specialty: str | None = None,
        active_on: date | None = None, reference: str | None = None, limit: int = 50, offset: int = 0,
    ) -> tuple[list[Convention], int]:
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
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = (await self.session.scalars(
            query.order_by(ConventionRow.effective_from.desc(), ConventionRow.reference).limit(limit).offset(offset)
        )).all()
        return [await self._load(r) for r in rows], int(total or 0)

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

    async def history(self, convention_id: uuid.UUID) -> list[HistoryRow]:
        return list(await self.session.scalars(
            select(HistoryRow).where(HistoryRow.convention_id == convention_id).order_by(HistoryRow.id)))


# -- progress facts ---------------------------------------------------------------


class SurgeryFact(Table, table=True):
    __tablename__ = "progress_surgery"

    surgery_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    mission_id: uuid.UUID
    outcome: str = Field(sa_column=Column(String(40), nullable=False))
    previously_referred_abroad: bool
    completed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class ConsultationFact(Table, table=True):
    __tablename__ = "progress_consultation"

    consultation_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    mission_id: uuid.UUID
    held_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class TrainingFact(Table, table=True):
    __tablename__ = "progress_training"

    training_session_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    mission_id: uuid.UUID
    topic: str = Field(sa_column=Column(Text, nullable=False))
    hours: float = Field(sa_column=Column(Float, nullable=False))
    trainee_count: int
    held_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class MissionFact(Table, table=True):
    __tablename__ = "progress_mission"

    mission_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    surgeries: int
    consultations: int
    training_sessions: int


class Facts:
    """Progress facts, one row per thing that happened (upserted by its id)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, row: Table) -> None:
        await self.session.merge(row)

    async def of(self, convention_id: uuid.UUID) -> tuple[list[SurgeryDone], list[ConsultationDone],
                                                          list[TrainingDone], list[MissionDone]]:
        def q(model: Any) -> Any:
            return select(model).where(model.convention_id == convention_id)

        surgeries = [SurgeryDone(r.surgery_id, r.mission_id, r.outcome, r.previously_referred_abroad,
                                 r.completed_at) for r in await self.session.scalars(q(SurgeryFact))]
        consultations = [ConsultationDone(r.consultation_id, r.mission_id, r.held_at)
                         for r in await self.session.scalars(q(ConsultationFact))]
        trainings = [TrainingDone(r.training_session_id, r.mission_id, r.topic, r.hours, r.trainee_count,
                                  r.held_at) for r in await self.session.scalars(q(TrainingFact))]
        missions = [MissionDone(r.mission_id, r.surgeries, r.consultations, r.training_sessions)
                    for r in await self.session.scalars(q(MissionFact))]
        return surgeries, consultations, trainings, missions


class ConventionUnitOfWork(UnitOfWork):
    clock: ClassVar[Clock] = Clock()

    institutions: Institutions
    conventions: Conventions
    facts: Facts

    @classmethod
    def with_clock(cls, clock: Clock) -> type[ConventionUnitOfWork]:
        """A unit-of-work class bound to one runtime's clock (when records change)."""
        return type(cls.__name__, (cls,), {"clock": clock})

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.institutions = Institutions(self.session)
        self.conventions = Conventions(self.session, self.clock.now)
        self.facts = Facts(self.session)
        return self
