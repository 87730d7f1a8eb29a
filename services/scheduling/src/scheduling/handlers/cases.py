"""Patient cases: registering on a host's waiting list, cancelling, referring elsewhere.

No event: a case is this service's own business until a surgery or a
consultation makes it part of a mission (and then only as ``patient_ref``).
"""

from __future__ import annotations

from datetime import datetime

from scheduling.domain.cases import CloseCase, PatientCase, RegisterCase
from scheduling.handlers.common import require_institution
from scheduling.store import SchedulingUnitOfWork
from jumelage.errors import NotFound
from jumelage.logging import get_logger
from jumelage.preconditions import IfMatch, check_if_match

log = get_logger(__name__)


async def register_case(cmd: RegisterCase, uow: SchedulingUnitOfWork, *, now: datetime) -> PatientCase:
    async with uow:
        await require_institution(uow, cmd.host_institution_id)
        case = PatientCase.register(cmd, now)
        await uow.cases.save(case)
        await uow.commit()
    # The reference only: never the patient's identity.
    log.info("patient case registered", case_id=str(case.id), patient_ref=case.patient_ref)
    return case


async def _case_for_update(uow: SchedulingUnitOfWork, cmd: CloseCase, expected: IfMatch | None) -> PatientCase:
    """The case, locked; PreconditionFailed if ``expected`` (the caller's If-Match) is stale."""
    case = await uow.cases.get(cmd.case_id, for_update=True)
    if case is None:
        raise NotFound(f"no patient case {cmd.case_id}")
    check_if_match(expected, f"patient case {case.id}", case)
    return case


async def cancel_case(cmd: CloseCase, uow: SchedulingUnitOfWork, *, expected: IfMatch | None = None) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd, expected)
        case.cancel(cmd.reason)
        await uow.cases.save(case)
        await uow.commit()
    return case


async def refer_case_elsewhere(cmd: CloseCase, uow: SchedulingUnitOfWork, *,
                               expected: IfMatch | None = None) -> PatientCase:
    async with uow:
        case = await _case_for_update(uow, cmd, expected)
        case.refer_elsewhere(cmd.reason)
        await uow.cases.save(case)
        await uow.commit()
    return case
