"""Patient cases: registering on a host's waiting list, cancelling, referring elsewhere; reading them.

No event: a case is this service's own business until a surgery or a
consultation makes it part of a mission (and then only as ``patient_ref``).
"""

from __future__ import annotations

from scheduling.domain.cases import PatientCase
from scheduling.domain.commands import (CancelCase, CloseCase, EditCase, GetCase, ReferCaseElsewhere, RegisterCase,
                                       WaitingList)
from scheduling.handlers.common import require_institution
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from jumelage.clock import Clock
from jumelage.errors import NotFound
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
        # Lock order as a surgery's changes take it: the surgery, then its case.
        booked = await uow.surgeries.live_of_case(cmd.case_id) if "priority" in cmd.changes else []
        case = await _case_for_update(uow, cmd)
        changed = case.edit(cmd.changes, clock.now())
        if changed:
            now = clock.now()
            await uow.cases.save(case, now)
            if "priority" in changed:
                for surgery in booked:
                    await uow.surgeries.save(surgery, now, changed=True)
            await uow.commit()
    # Field names only: never the values (the identity).
    log.info("patient case edited", case_id=str(case.id), patient_ref=case.patient_ref, fields=changed)
    return case


async def _case_for_update(uow: SchedulingUnitOfWork, cmd: CloseCase | EditCase) -> PatientCase:
    """The case, locked; PreconditionFailed if ``cmd.expected`` (the caller's If-Match) is stale."""
    case = await uow.cases.get(cmd.case_id, for_update=True)
    if case is None:
        raise NotFound(f"no patient case {cmd.case_id}")
    check_if_match(cmd.expected, f"patient case {case.id}", case)
    return case


async def cancel_case(cmd: CancelCase, uow: SchedulingUnitOfWork, *, clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        case.cancel(cmd.reason)
        await uow.cases.save(case, clock.now())
        await uow.commit()
    return case


async def refer_case_elsewhere(cmd: ReferCaseElsewhere, uow: SchedulingUnitOfWork, *,
                               clock: Clock) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd)
        case.refer_elsewhere(cmd.reason)
        await uow.cases.save(case, clock.now())
        await uow.commit()
    return case


# -- reads ---------------------------------------------------------------------------------------


async def waiting_list(query: WaitingList, uow: SchedulingUnitOfWork) -> list[PatientCase]:
    async with uow:
        await require_institution(uow, query.institution_id)
        return await uow.cases.waiting_list(query.institution_id, status=query.status, priority=query.priority)


async def get_case(query: GetCase, uow: SchedulingUnitOfWork) -> PatientCase:
    async with uow:
        case = await uow.cases.get(query.case_id)
    if case is None:
        raise NotFound(f"no patient case {query.case_id}")
    return case
