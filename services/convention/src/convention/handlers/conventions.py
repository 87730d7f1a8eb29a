"""One function per command or incoming event: load, call the domain, save, record events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from convention.domain.conventions import Amendment, Convention, Terms
from convention.domain.institutions import Institution, RegisterInstitution, UpdateInstitution, corrected
from convention.domain.progress import Progress, progress
from convention.store import (
    ConsultationFact,
    ConventionUnitOfWork,
    MissionFact,
    SurgeryFact,
    TrainingFact,
    terms_json,
)
from jumelage import context
from jumelage.errors import Conflict, NotFound
from jumelage.events import (
    CloudEvent,
    ConsultationHeld,
    ConventionAmended,
    ConventionExpired,
    ConventionResumed,
    ConventionSigned,
    ConventionSuspended,
    ConventionTerminated,
    EventData,
    InstitutionRegistered,
    InstitutionUpdated,
    MissionCompleted,
    SurgeryCompleted,
    TrainingSessionHeld,
)
from jumelage.preconditions import IfMatch, check_if_match

# -- institutions -------------------------------------------------------------


async def register_institution(cmd: RegisterInstitution, uow: ConventionUnitOfWork) -> Institution:
    institution = Institution.register(cmd)
    async with uow:
        existing = await uow.institutions.named(institution.name, institution.city)
        if existing is not None:
            raise Conflict(
                f"institution {existing.name!r} in {existing.city} is already registered (id {existing.id})"
            )
        uow.institutions.add(institution)
        uow.record(_institution_event(InstitutionRegistered, institution))
        try:
            await uow.commit()
        except IntegrityError:  # registered concurrently by another request
            raise Conflict(f"institution {institution.name!r} in {institution.city} is already registered") from None
    return institution


async def update_institution(cmd: UpdateInstitution, uow: ConventionUnitOfWork) -> Institution:
    async with uow:
        current = await uow.institutions.get(cmd.institution_id)
        if current is None:
            raise NotFound(f"no institution {cmd.institution_id}")
        institution = corrected(current, cmd.changes)
        if institution == current:
            return current  # nothing changed: no event
        clash = await uow.institutions.named(institution.name, institution.city)
        if clash is not None and clash.id != institution.id:
            raise Conflict(f"institution {clash.name!r} in {clash.city} is already registered (id {clash.id})")
        await uow.institutions.save(institution)
        uow.record(_institution_event(InstitutionUpdated, institution))
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(f"institution {institution.name!r} in {institution.city} is already registered") from None
    return institution


def _institution_event(cls: type[EventData], i: Institution) -> EventData:
    return cls(institution_id=i.id, name=i.name, kind=i.kind, country=i.country, city=i.city, wilaya=i.wilaya)


# -- conventions --------------------------------------------------------------


@dataclass(frozen=True)
class DraftConvention:
    reference: str
    terms: Terms


@dataclass(frozen=True)
class EditDraft:
    convention_id: uuid.UUID
    changes: dict[str, Any]


@dataclass(frozen=True)
class DiscardDraft:
    convention_id: uuid.UUID


@dataclass(frozen=True)
class SignConvention:
    convention_id: uuid.UUID
    signed_on: date
    signed_at: str
    today: date


@dataclass(frozen=True)
class SuspendConvention:
    convention_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class ResumeConvention:
    convention_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class TerminateConvention:
    convention_id: uuid.UUID
    on: date
    reason: str


@dataclass(frozen=True)
class AmendConvention:
    convention_id: uuid.UUID
    signed_on: date
    summary: str
    changes: dict[str, Any]


async def draft_convention(cmd: DraftConvention, uow: ConventionUnitOfWork) -> Convention:
    async with uow:
        known = await uow.institutions.known(cmd.terms.party_ids())
        convention = Convention.draft(cmd.reference, cmd.terms, known)
        if await uow.conventions.by_reference(convention.reference) is not None:
            raise Conflict(f"a convention with reference {convention.reference!r} already exists")
        uow.conventions.add(convention)
        _history(uow, convention, "drafted", {"reference": convention.reference})
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(f"a convention with reference {convention.reference!r} already exists") from None
    return convention


async def edit_draft(cmd: EditDraft, uow: ConventionUnitOfWork, *, expected: IfMatch | None = None) -> Convention:
    async with uow:
        convention = await _get(uow, cmd.convention_id, expected)
        known = await uow.institutions.known(_ids_in(cmd.changes) | convention.terms.party_ids())
        convention.edit_draft(cmd.changes, known)
        await uow.conventions.save(convention)
        _history(uow, convention, "edited", {k: terms_json(k, getattr(convention.terms, k)) for k in cmd.changes})
        await uow.commit()
    return convention


async def discard_draft(cmd: DiscardDraft, uow: ConventionUnitOfWork, *, expected: IfMatch | None = None) -> None:
    """No event: a draft was never announced. The audit row of the request stays."""
    async with uow:
        convention = await _get(uow, cmd.convention_id, expected)
        convention.discard()
        await uow.conventions.remove(convention.id)
        await uow.commit()


async def _transition(uow: ConventionUnitOfWork, convention_id: uuid.UUID, act: Callable[[Convention], None],
                      event: Callable[[Convention], EventData], action: str,
                      details: Callable[[Convention], dict[str, Any]], expected: IfMatch | None) -> Convention:
    """A lifecycle step: the domain moves the convention, its event and history entry go with it."""
    async with uow:
        convention = await _get(uow, convention_id, expected)
        act(convention)
        await uow.conventions.save(convention)
        recorded = uow.record(event(convention))
        _history(uow, convention, action, details(convention), recorded.id)
        await uow.commit()
    return convention


async def sign_convention(cmd: SignConvention, uow: ConventionUnitOfWork, *,
                          expected: IfMatch | None = None) -> Convention:
    return await _transition(
        uow, cmd.convention_id, lambda c: c.sign(cmd.signed_on, cmd.signed_at, cmd.today), signed_event, "signed",
        lambda c: {"signed_on": str(cmd.signed_on), "signed_at": c.signed_at}, expected)


async def suspend_convention(cmd: SuspendConvention, uow: ConventionUnitOfWork, *,
                             expected: IfMatch | None = None) -> Convention:
    return await _transition(
        uow, cmd.convention_id, lambda c: c.suspend(cmd.reason),
        lambda c: ConventionSuspended(convention_id=c.id, reason=c.status_reason), "suspended",
        lambda c: {"reason": c.status_reason}, expected)


async def resume_convention(cmd: ResumeConvention, uow: ConventionUnitOfWork, *,
                            expected: IfMatch | None = None) -> Convention:
    return await _transition(
        uow, cmd.convention_id, lambda c: c.resume(cmd.reason),
        lambda c: ConventionResumed(convention_id=c.id, reason=c.status_reason), "resumed",
        lambda c: {"reason": c.status_reason}, expected)


async def terminate_convention(cmd: TerminateConvention, uow: ConventionUnitOfWork, *,
                               expected: IfMatch | None = None) -> Convention:
    return await _transition(
        uow, cmd.convention_id, lambda c: c.terminate(cmd.on, cmd.reason),
        lambda c: ConventionTerminated(convention_id=c.id, on=cmd.on, reason=c.status_reason), "terminated",
        lambda c: {"on": str(cmd.on), "reason": c.status_reason}, expected)


async def amend_convention(cmd: AmendConvention, uow: ConventionUnitOfWork, *,
                           expected: IfMatch | None = None) -> Amendment:
    async with uow:
        convention = await _get(uow, cmd.convention_id, expected)
        known = await uow.institutions.known(_ids_in(cmd.changes) | convention.terms.party_ids())
        amendment = convention.amend(cmd.signed_on, cmd.summary, cmd.changes, known)
        await uow.conventions.save(convention)
        changes = {k: terms_json(k, v) for k, v in amendment.changes.items()}
        event = uow.record(ConventionAmended(
            convention_id=convention.id,
            amendment_number=amendment.number,
            changes=changes,
            signed_on=amendment.signed_on,
            summary=amendment.summary,
        ))
        _history(uow, convention, "amended", {"number": amendment.number, "summary": amendment.summary,
                                              "signed_on": str(amendment.signed_on), "changes": changes}, event.id)
        await uow.commit()
    return amendment


async def expire_conventions(uow: ConventionUnitOfWork, today: date) -> list[uuid.UUID]:
    """The periodic check: every convention whose period is over becomes expired.

    ``ConventionExpired`` is recorded in the transaction that moves the status,
    and only a signed or suspended convention can move, so the event is emitted
    once, after a restart too; a replica checking at the same moment skips the
    rows this one holds (PostgreSQL) or waits for its write lock (SQLite).
    """
    expired = []
    async with uow:
        for convention in await uow.conventions.due_to_expire(today):
            ended = convention.expire(today)
            await uow.conventions.save(convention)
            event = uow.record(ConventionExpired(convention_id=convention.id, on=ended, reason=""))
            _history(uow, convention, "expired", {"on": str(ended)}, event.id)
            expired.append(convention.id)
        await uow.commit()
    return expired


def signed_event(c: Convention) -> ConventionSigned:
    t = c.terms
    return ConventionSigned(
        convention_id=c.id, reference=c.reference, title=t.title,
        parties=terms_json("parties", t.parties), signed_on=c.signed_on, signed_at=c.signed_at,
        effective_from=t.effective_from, effective_until=t.effective_until,
        specialties=list(t.specialties), objectives=terms_json("objectives", t.objectives),
        kind=t.kind.value, cost_bearers=terms_json("cost_bearers", t.cost_bearers),
    )


async def _get(uow: ConventionUnitOfWork, convention_id: uuid.UUID, expected: IfMatch | None = None) -> Convention:
    """The convention, locked for this change; PreconditionFailed if the caller's If-Match is stale
    (checked on the row locked here, so nobody changes it between the check and the write)."""
    convention = await uow.conventions.get(convention_id, for_update=True)
    if convention is None:
        raise NotFound(f"no convention {convention_id}")
    check_if_match(expected, f"convention {convention.reference}", convention)
    return convention


def _ids_in(changes: dict[str, Any]) -> set[uuid.UUID]:
    ids = {p.institution_id for p in changes.get("parties", ())}
    return ids | {c.institution_id for c in changes.get("cost_bearers", ())}


def _history(uow: ConventionUnitOfWork, c: Convention, action: str, details: dict[str, Any],
             event_id: uuid.UUID | None = None) -> None:
    uow.conventions.record_history(c.id, datetime.now(UTC), action, details, event_id, context.correlation_id.get())


# -- progress -------------------------------------------------------------------


async def convention_progress(convention_id: uuid.UUID, uow: ConventionUnitOfWork) -> tuple[Convention, Progress]:
    async with uow:
        convention = await uow.conventions.get(convention_id)
        if convention is None:
            raise NotFound(f"no convention {convention_id}")
        facts = await uow.facts.of(convention_id)
    return convention, progress(convention.terms.objectives, *facts)


async def surgery_completed(event: CloudEvent[SurgeryCompleted], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(SurgeryFact(surgery_id=d.surgery_id, convention_id=d.convention_id, mission_id=d.mission_id,
                                    outcome=d.outcome.value, previously_referred_abroad=d.previously_referred_abroad,
                                    completed_at=d.completed_at))


async def consultation_held(event: CloudEvent[ConsultationHeld], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(ConsultationFact(consultation_id=d.consultation_id, convention_id=d.convention_id,
                                         mission_id=d.mission_id, held_at=d.held_at))


async def training_session_held(event: CloudEvent[TrainingSessionHeld], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(TrainingFact(training_session_id=d.training_session_id, convention_id=d.convention_id,
                                     mission_id=d.mission_id, topic=d.topic, hours=d.hours,
                                     trainee_count=d.trainee_count, held_at=d.held_at))


async def mission_completed(event: CloudEvent[MissionCompleted], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(MissionFact(mission_id=d.mission_id, convention_id=d.convention_id,
                                    surgeries=d.totals.surgeries, consultations=d.totals.consultations,
                                    training_sessions=d.totals.training_sessions))
