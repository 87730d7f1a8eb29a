"""Patient cases: registering on a host's waiting list, cancelling, referring elsewhere; reading them.

No event: a case is this service's own business until a surgery or a
consultation makes it part of a mission (and then only as ``patient_ref``).
"""

from __future__ import annotations

from typing import Any

from scheduling.domain.cases import PatientCase, ScreeningNote
from scheduling.domain.values import UNFIT_REASON
from scheduling.domain.commands import (
    AccessRequest,
    AddScreeningNote,
    CancelCase,
    CheckReadiness,
    CloseCase,
    EditCase,
    EraseIdentity,
    ExpireIdentities,
    GetCase,
    GiveConsent,
    WithdrawConsent,
    ReferCaseElsewhere,
    RegisterCase,
    ScreeningNotes,
    WaitingList,
    WithdrawReadiness,
)
from scheduling.domain.surgeries import Surgery, SurgeryStatus
from scheduling.domain.values import REQUIRED_READINESS
from scheduling.handlers.common import host_zone, mission_for_update, require_institution
from scheduling.store.tables import IDENTITY_ACCESS
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.events.scheduling import ErasureReason
from jumelage.identity_access import Read, record_reads
from jumelage.errors import Conflict, Invalid, NotFound
from jumelage.logging import get_logger
from jumelage.versions import check_if_match

log = get_logger(__name__)


async def register_case(cmd: RegisterCase, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    now = clock.now()
    async with uow:
        await require_institution(uow, cmd.host_institution_id)
        case = PatientCase.register(cmd, now)
        await uow.cases.save(case, clock.now())
        await uow.commit()
    # The reference only: never the patient's identity.
    log.info("patient case registered", case_id=str(case.id), patient_ref=case.patient_ref)
    return case


async def edit_case(cmd: EditCase, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    """Correct a case (what its status allows: ``PatientCase.edit``). A scheduled case's new
    priority is part of its surgery's representation: the surgery's version is raised too."""
    async with uow:
        if "priority" in cmd.changes:
            case, booked = await _case_and_booking_locked(uow, cmd)
        else:
            case, booked = await _case_for_update(uow, cmd), []
        changed = case.edit(cmd.changes, clock.now())
        if changed:
            now = clock.now()
            await uow.cases.save(case, now)
            if "priority" in changed:
                for live in booked:
                    surgery = await uow.surgeries.get(live.id, for_update=True)
                    assert surgery is not None  # surgeries are never deleted
                    await uow.surgeries.save(surgery, now, changed=True)
            await uow.commit()
    # Field names only: never the values (the identity).
    log.info("patient case edited", case_id=str(case.id), patient_ref=case.patient_ref, fields=changed)
    return case


async def _case_and_booking_locked(uow: SchedulingUnitOfWork, cmd: EditCase | WithdrawReadiness
                                   ) -> tuple[PatientCase, list[Surgery]]:
    """The case and its live surgery (if booked), in the common lock order: the surgery's mission
    row, then the case (then, by the caller, the surgery). A booking made meanwhile is a Conflict."""
    peek = await uow.cases.get(cmd.case_id)
    if peek is None:
        raise NotFound(f"no patient case {cmd.case_id}")
    booked = await uow.surgeries.live_of_case(peek.id)
    mission = await mission_for_update(uow, booked[0].mission_id) if booked else None
    case = await _case_for_update(uow, cmd)
    live = await uow.surgeries.live_of_case(case.id)  # again, under the locks
    if live and (mission is None or live[0].mission_id != mission.id):
        raise Conflict(f"case {case.patient_ref} was booked by another request at the same moment; "
                       "nothing was saved: send it again")
    return case, live


async def _case_for_update(uow: SchedulingUnitOfWork, cmd: CloseCase | EditCase | CheckReadiness | WithdrawReadiness
                           | GiveConsent | WithdrawConsent | EraseIdentity) -> PatientCase:
    """The case, locked; PreconditionFailed if ``cmd.expected`` (the caller's If-Match) is stale."""
    case = await uow.cases.get(cmd.case_id, for_update=True)
    if case is None:
        raise NotFound(f"no patient case {cmd.case_id}")
    check_if_match(cmd.expected, f"patient case {case.id}", case)
    return case


async def cancel_case(cmd: CancelCase, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        case.cancel(cmd.reason, clock.now())
        await uow.cases.save(case, clock.now())
        await uow.commit()
    return case


async def refer_case_elsewhere(cmd: ReferCaseElsewhere, uow: SchedulingUnitOfWork, *,
                               clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        case.refer_elsewhere(cmd.reason, clock.now())
        await uow.cases.save(case, clock.now())
        await uow.commit()
    return case


# -- consent and erasure ---------------------------------------------------------------------------


async def give_consent(cmd: GiveConsent, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        if case.give_consent(cmd.purpose, by=cmd.by, now=clock.now()):
            await uow.cases.save(case, clock.now())
        await uow.commit()
    log.info("consent recorded", case_id=str(case.id), patient_ref=case.patient_ref, purpose=str(cmd.purpose))
    return case


async def withdraw_consent(cmd: WithdrawConsent, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        if case.withdraw_consent(cmd.purpose):
            await uow.cases.save(case, clock.now())
        await uow.commit()
    log.info("consent withdrawn", case_id=str(case.id), patient_ref=case.patient_ref, purpose=str(cmd.purpose))
    return case


async def erase_identity(cmd: EraseIdentity, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    """A family's request: the identity is pseudonymised, ``PatientIdentityErased`` tells the
    notification service (which forgets the family's contact and cancels what is pending), and the
    audit keeps the row of this change (who asked it, when), as of every change."""
    async with uow:
        case = await _case_for_update(uow, cmd)
        case.erase_identity(ErasureReason.request, clock.now())
        await uow.cases.save(case, clock.now())
        uow.record_from(case)
        await uow.commit()
    log.info("patient identity erased", case_id=str(case.id), patient_ref=case.patient_ref, reason="request")
    return case


async def expire_identities(cmd: ExpireIdentities, uow: SchedulingUnitOfWork, *, clock: Clock) -> int:
    """The retention task: the identity of each case closed over ``keep_days`` ago is pseudonymised
    (``PatientIdentityErased``, reason ``retention``), a batch per transaction. Safe twice at once:
    each case is locked and a case already erased is skipped."""
    from datetime import timedelta

    cutoff = clock.now() - timedelta(days=cmd.keep_days)
    done = 0
    while True:
        async with uow:
            due = await uow.cases.closed_before(cutoff, limit=cmd.batch)
            for case_id in due:
                case = await uow.cases.get(case_id, for_update=True)
                if case is None or case.erased_at is not None:
                    continue
                case.erase_identity(ErasureReason.retention, clock.now())
                await uow.cases.save(case, clock.now())
                uow.record_from(case)
                done += 1
            await uow.commit()
        if len(due) < cmd.batch:
            break
    if done:
        log.info("patient identities past their retention pseudonymised", cases=done)
    return done


# -- readiness and screening notes -------------------------------------------------------------------


async def check_readiness(cmd: CheckReadiness, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        tz = await host_zone(uow, case.host_institution_id)
        now = clock.now()
        today = now.astimezone(tz).date()
        if case.check(cmd.item, on=cmd.checked_on or today, by=cmd.checked_by, label=cmd.label, today=today,
                      now=now):
            await uow.cases.save(case, clock.now())
        await uow.commit()
    return case


async def withdraw_readiness(cmd: WithdrawReadiness, uow: SchedulingUnitOfWork, *,
                             clock: Clock) -> tuple[PatientCase, Surgery | None]:
    """Uncheck an item; a case booked for surgery whose required item is withdrawn leaves the plan: its
    surgery is cancelled (``SurgeryCancelled``, a reason with nothing clinical in it: the family
    reads it) and the case is back on the waiting list. Under way, it cannot change."""
    async with uow:
        case, live = await _case_and_booking_locked(uow, cmd)
        under_way = [s for s in live if s.status is SurgeryStatus.started]
        if under_way:
            raise Conflict(f"case {case.patient_ref} is in the operating room ({under_way[0].label} has started): "
                           "its readiness can no longer change")
        cancelled: Surgery | None = None
        if case.withdraw(cmd.item):
            now = clock.now()
            if cmd.item in REQUIRED_READINESS and live:
                surgery = await uow.surgeries.get(live[0].id, for_update=True)
                assert surgery is not None  # surgeries are never deleted
                surgery.cancel(UNFIT_REASON, case)
                await uow.surgeries.save(surgery, now)
                uow.record_from(surgery)
                cancelled = surgery
            await uow.cases.save(case, now)
        await uow.commit()
    if cancelled is not None:
        log.info("surgery cancelled: its case is no longer ready", surgery_id=str(cancelled.id),
                 patient_ref=case.patient_ref)
    return case, cancelled


async def add_screening_note(cmd: AddScreeningNote, uow: SchedulingUnitOfWork, *, clock: Clock) -> ScreeningNote:
    async with uow:
        case = await uow.cases.get(cmd.case_id)
        if case is None:
            raise NotFound(f"no patient case {cmd.case_id}")
        note = ScreeningNote.write(case, cmd.text, cmd.author, cmd.author_institution_id, clock.now())
        await uow.cases.add_note(note)
        await uow.commit()
    return note  # never logged: clinical text


# -- reads ---------------------------------------------------------------------------------------


async def waiting_list(query: WaitingList, uow: SchedulingUnitOfWork) -> tuple[list[PatientCase], str | None]:
    """A page of the waiting list, with the patients' names, and the cursor of the next (None: the
    last): who read it is written down, a row per patient shown."""
    async with uow:
        # The institution is looked up only when the page is empty (or the cursor refused): a case
        # is registered only at a known institution, so a page with cases says it exists (issue 23:
        # one query less on every read of a list that has cases).
        try:
            cases, after = await uow.cases.waiting_page(query.institution_id, status=query.status,
                                                        priority=query.priority, name=query.name,
                                                        limit=query.limit, cursor=query.cursor)
        except Invalid:
            await require_institution(uow, query.institution_id)  # an unknown institution is still a 404
            raise
        if not cases:
            await require_institution(uow, query.institution_id)
    await record_reads(uow, IDENTITY_ACCESS, Read.case_list,
                       [(c.patient_ref, c.host_institution_id) for c in cases if c.erased_at is None])
    return cases, after


async def get_case(query: GetCase, uow: SchedulingUnitOfWork) -> PatientCase:
    async with uow:
        case = await uow.cases.get(query.case_id)
    if case is None:
        raise NotFound(f"no patient case {query.case_id}")
    if query.identity and case.erased_at is None:
        await record_reads(uow, IDENTITY_ACCESS, Read.case, [(case.patient_ref, case.host_institution_id)])
    return case


async def access_request(query: AccessRequest, uow: SchedulingUnitOfWork) -> dict[str, Any]:
    """What this service holds of a patient, for the family's access request: the case (identity,
    consents, clinical facts), its surgeries and consultations, and who read its identity. The
    export is a read of the identity like any other: written down (``export``)."""
    async with uow:
        if query.case_id is not None:
            case = await uow.cases.get(query.case_id)
        else:
            case = await uow.cases.by_patient_ref(query.patient_ref or "")
        if case is None:
            raise NotFound(f"no patient case {query.case_id or query.patient_ref}")
        surgeries = await uow.surgeries.of_case(case.id)
        consultations = await uow.consultations.of_case(case.id)
        accesses = await uow.cases.accesses(case.patient_ref)
    if case.erased_at is None:
        await record_reads(uow, IDENTITY_ACCESS, Read.export, [(case.patient_ref, case.host_institution_id)])
    return {"case": case, "surgeries": surgeries, "consultations": consultations, "accesses": accesses}


async def screening_notes(query: ScreeningNotes, uow: SchedulingUnitOfWork) -> list[ScreeningNote]:
    async with uow:
        return await uow.cases.notes(query.case_id)
