"""Conventions: drafts, the lifecycle, amendments, the expiry check and the reads.

Each change loads the convention locked, checks the caller's If-Match on it, lets
the domain move it, saves it and hands what it recorded to the outbox, with the
history entry of the step, in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from convention.domain.commands import (
    AmendConvention,
    ConventionExport,
    ConventionHistory,
    DiscardDraft,
    DraftConvention,
    EditDraft,
    ExpireConventions,
    ResumeConvention,
    SearchConventions,
    SignConvention,
    SuspendConvention,
    TerminateConvention,
)
from convention.domain.conventions import Amendment, Convention, Step
from convention.domain.events import amendment_changes, terms_json
from convention.domain.fhir import convention_bundle
from convention.store import ConventionUnitOfWork
from jumelage import context
from jumelage.clock import Clock
from jumelage.errors import Conflict, NotFound
from jumelage.versions import IfMatch, check_if_match


async def draft_convention(cmd: DraftConvention, uow: ConventionUnitOfWork, *, clock: Clock) -> Convention:
    async with uow:
        known = await uow.institutions.known(cmd.terms.party_ids())
        convention = Convention.draft(cmd.reference, cmd.terms, known)
        if await uow.conventions.by_reference(convention.reference) is not None:
            raise Conflict(f"a convention with reference {convention.reference!r} already exists")
        uow.conventions.add(convention, clock.now())
        _history(uow, convention, "drafted", {"reference": convention.reference})
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(f"a convention with reference {convention.reference!r} already exists") from None
    return convention


async def edit_draft(cmd: EditDraft, uow: ConventionUnitOfWork, *, clock: Clock) -> Convention:
    """No event: a draft is nobody's commitment yet."""
    async with uow:
        convention = await _get(uow, cmd.convention_id, cmd.expected)
        known = await uow.institutions.known(_ids_in(cmd.changes) | convention.terms.party_ids())
        convention.edit_draft(cmd.changes, known)
        await uow.conventions.save(convention, clock.now())
        _history(uow, convention, "edited", {k: terms_json(k, getattr(convention.terms, k)) for k in cmd.changes})
        await uow.commit()
    return convention


async def discard_draft(cmd: DiscardDraft, uow: ConventionUnitOfWork) -> None:
    """No event: a draft was never announced. The audit row of the request stays."""
    async with uow:
        convention = await _get(uow, cmd.convention_id, cmd.expected)
        convention.discard()
        await uow.conventions.remove(convention.id)
        await uow.commit()


async def _transition(uow: ConventionUnitOfWork, clock: Clock, convention_id: uuid.UUID,
                      act: Callable[[Convention], None], action: str,
                      details: Callable[[Convention], dict[str, Any]], expected: IfMatch | None) -> Convention:
    """A lifecycle step: the domain moves the convention and records its event; the history entry goes with it."""
    async with uow:
        convention = await _get(uow, convention_id, expected)
        act(convention)
        await uow.conventions.save(convention, clock.now())
        (recorded,) = uow.record_from(convention)
        _history(uow, convention, action, details(convention), recorded.id)
        await uow.commit()
    return convention


async def sign_convention(cmd: SignConvention, uow: ConventionUnitOfWork, *, clock: Clock) -> Convention:
    return await _transition(
        uow, clock, cmd.convention_id, lambda c: c.sign(cmd.signed_on, cmd.signed_at, clock.today()), "signed",
        lambda c: {"signed_on": str(cmd.signed_on), "signed_at": c.signed_at}, cmd.expected)


async def suspend_convention(cmd: SuspendConvention, uow: ConventionUnitOfWork, *, clock: Clock) -> Convention:
    return await _transition(
        uow, clock, cmd.convention_id, lambda c: c.suspend(cmd.reason), "suspended",
        lambda c: {"reason": c.status_reason}, cmd.expected)


async def resume_convention(cmd: ResumeConvention, uow: ConventionUnitOfWork, *, clock: Clock) -> Convention:
    return await _transition(
        uow, clock, cmd.convention_id, lambda c: c.resume(cmd.reason), "resumed",
        lambda c: {"reason": c.status_reason}, cmd.expected)


async def terminate_convention(cmd: TerminateConvention, uow: ConventionUnitOfWork, *, clock: Clock) -> Convention:
    return await _transition(
        uow, clock, cmd.convention_id, lambda c: c.terminate(cmd.on, cmd.reason), "terminated",
        lambda c: {"on": str(cmd.on), "reason": c.status_reason}, cmd.expected)


async def amend_convention(cmd: AmendConvention, uow: ConventionUnitOfWork, *, clock: Clock) -> Amendment:
    async with uow:
        convention = await _get(uow, cmd.convention_id, cmd.expected)
        known = await uow.institutions.known(_ids_in(cmd.changes) | convention.terms.party_ids())
        amendment = convention.amend(cmd.signed_on, cmd.summary, cmd.changes, known, cmd.effective_from)
        await uow.conventions.save(convention, clock.now())
        (event,) = uow.record_from(convention)
        _history(uow, convention, "amended", {"number": amendment.number, "summary": amendment.summary,
                                              "signed_on": str(amendment.signed_on),
                                              "changes": amendment_changes(amendment)}, event.id)
        await uow.commit()
    return amendment


async def expire_conventions(cmd: ExpireConventions, uow: ConventionUnitOfWork, *, clock: Clock) -> list[uuid.UUID]:
    """The periodic check: every convention whose period is over becomes expired.

    ``ConventionExpired`` is recorded in the transaction that moves the status,
    and only a signed or suspended convention can move, so the event is emitted
    once, after a restart too; a replica checking at the same moment skips the
    rows this one holds (PostgreSQL) or waits for its write lock (SQLite).
    The day is the clock's, in the service's time zone.
    """
    today = clock.today()
    expired = []
    async with uow:
        for convention in await uow.conventions.due_to_expire(today):
            ended = convention.expire(today)
            await uow.conventions.save(convention, clock.now())
            (event,) = uow.record_from(convention)
            _history(uow, convention, "expired", {"on": str(ended)}, event.id)
            expired.append(convention.id)
        await uow.commit()
    return expired


# -- reads ------------------------------------------------------------------------


async def search_conventions(query: SearchConventions, uow: ConventionUnitOfWork) -> tuple[
        list[Convention], int, str | None, dict[uuid.UUID, dict[str, int]]]:
    """A page of conventions, the total, the next page's cursor, and each one's activities done
    (from the progress counters, one query for the page)."""
    async with uow:
        items, total, after = await uow.conventions.search(
            status=query.status.value if query.status else None, party=query.party, specialty=query.specialty,
            active_on=query.active_on, reference=query.reference, limit=query.limit, offset=query.offset,
            cursor=query.cursor,
        )
        done = await uow.counters.totals([c.id for c in items])
    return items, total, after, done


async def convention_history(query: ConventionHistory, uow: ConventionUnitOfWork) -> list[Step]:
    async with uow:
        return await uow.conventions.history(query.convention_id)


# -- helpers ------------------------------------------------------------------------


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
    # When it was written (wall time, as the audit rows), not the programme's clock.
    uow.conventions.record_history(c.id, datetime.now(UTC), action, details, event_id, context.correlation_id.get())


async def convention_export(query: ConventionExport, uow: ConventionUnitOfWork, *, clock: Clock) -> dict[str, Any]:
    """The convention as a FHIR R4 Bundle: its Contract and its parties' Organizations."""
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        institutions = {p.institution_id: await uow.institutions.get(p.institution_id)
                        for p in convention.terms.parties}
    return convention_bundle(convention, institutions, clock.now())
