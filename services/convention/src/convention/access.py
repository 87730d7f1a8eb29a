"""Who may do what here (the README's access table, for this service).

- administrators register and correct institutions;
- a coordinator of an institution drafts, edits, signs, suspends, resumes,
  terminates and amends the conventions it is party to, and reads them;
- a funder or supervisor reads the conventions its institution is party to, and
  the progress of those it funds (funder party or cost bearer) or supervises;
- anyone authenticated reads the directory of institutions.

Checks run as route dependencies, before the body is read: a caller outside the
convention gets a 403 whatever it sends. ``UoW``, the unit of work a route is
given, is declared here once; the API imports it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends

from convention.domain.conventions import Convention
from convention.store import ConventionUnitOfWork
from jumelage.auth import Caller, CallerDep, Role, deny, require
from jumelage.errors import NotFound
from jumelage.events.convention import PartyRole
from jumelage.service import unit_of_work

UoW = Annotated[ConventionUnitOfWork, Depends(unit_of_work)]  # the one declaration: api imports it

ADMINISTRATOR = require(Role.administrator, to="register or correct institutions")
READERS = (Role.coordinator, Role.funder, Role.supervisor)


async def _convention(convention_id: uuid.UUID, uow: ConventionUnitOfWork) -> Convention:
    async with uow:
        convention = await uow.conventions.get(convention_id)
    if convention is None:
        raise NotFound(f"no convention {convention_id}")
    return convention


def _refuse_outsider(caller: Caller, convention: Convention, what: str, *roles: Role) -> None:
    if not caller.acts_for(convention.terms.party_ids(), *roles):
        raise deny(caller, f"{what} convention {convention.reference}: its institution is not a party to it")


async def coordinator_of_party(convention_id: uuid.UUID, caller: CallerDep, uow: UoW) -> Convention:
    what = "change"
    if not caller.has(Role.coordinator):
        raise deny(caller, f"{what} a convention (needs the role coordinator)")
    convention = await _convention(convention_id, uow)
    _refuse_outsider(caller, convention, what, Role.coordinator)
    return convention


async def reader_of_party(convention_id: uuid.UUID, caller: CallerDep, uow: UoW) -> Convention:
    if not caller.has(*READERS):
        raise deny(caller, "read a convention (needs the role coordinator, funder or supervisor)")
    convention = await _convention(convention_id, uow)
    _refuse_outsider(caller, convention, "read", *READERS)
    return convention


async def progress_reader(convention_id: uuid.UUID, caller: CallerDep, uow: UoW) -> Convention:
    """Coordinators of any party; funders of what they fund; supervisors of what they supervise."""
    if not caller.has(*READERS):
        raise deny(caller, "read a convention's progress (needs the role coordinator, funder or supervisor)")
    convention = await _convention(convention_id, uow)
    terms = convention.terms
    funds = terms.party_ids(PartyRole.funder) | {b.institution_id for b in terms.cost_bearers}
    if not (caller.acts_for(terms.party_ids(), Role.coordinator)
            or caller.acts_for(funds, Role.funder)
            or caller.acts_for(terms.party_ids(PartyRole.supervisor), Role.supervisor)):
        raise deny(caller, f"read the progress of convention {convention.reference}: "
                           "it is not a convention its institution coordinates, funds or supervises")
    return convention


async def report_reader(convention_id: uuid.UUID, caller: CallerDep, uow: UoW) -> Convention:
    """A convention's report and its FHIR export: whoever reads its progress, and administrators."""
    if caller.has(Role.administrator):
        return await _convention(convention_id, uow)
    if not caller.has(*READERS):
        raise deny(caller, "read a convention's report (needs the role coordinator, funder, supervisor "
                           "or administrator)")
    return await progress_reader(convention_id, caller, uow)


def report_reader_after(parsed: Callable[..., Any]) -> Any:
    """``report_reader``, run once ``parsed`` (a dependency reading the route's query) has passed, and
    answering what ``parsed`` read: a bad parameter is a 422 before an unknown convention's 404
    (FastAPI skips a dependency whose own dependencies failed). The route declares ``parsed`` only
    through this, or a bad parameter would be reported twice."""
    # A default, not Annotated: ``parsed`` is a local, which a postponed annotation cannot see.
    async def check(convention_id: uuid.UUID, caller: CallerDep, uow: UoW, query: Any = Depends(parsed)) -> Any:
        await report_reader(convention_id, caller, uow)
        return query

    return Depends(check)


def drafting(caller: Caller, party_ids: set[uuid.UUID]) -> None:
    """A new draft names its parties in the body: the drafter's institution must be one."""
    if not caller.acts_for(party_ids, Role.coordinator):
        raise deny(caller, "draft a convention its institution is not a party to")


def listing(caller: Caller, party: uuid.UUID | None) -> uuid.UUID:
    """Lists show the caller's institution's conventions; asking for another's is a 403."""
    if not caller.has(*READERS) or caller.institution_id is None:
        raise deny(caller, "list conventions (needs the role coordinator, funder or supervisor of an institution)")
    if party is not None and party != caller.institution_id:
        raise deny(caller, f"list the conventions of institution {party}")
    return caller.institution_id


CoordinatorOfParty = Annotated[Convention, Depends(coordinator_of_party)]
ReaderOfParty = Annotated[Convention, Depends(reader_of_party)]
ProgressReader = Annotated[Convention, Depends(progress_reader)]
ReportReader = Annotated[Convention, Depends(report_reader)]
