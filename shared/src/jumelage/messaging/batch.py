"""Group commit for the consumer: events that arrive together share one transaction.

The consumer gathers the events waiting for a turn into a batch and handles it
in one database transaction:

1. one statement marks all of them in the inbox (``INSERT ... ON CONFLICT DO
   NOTHING RETURNING``); those already there are duplicates;
2. each new event's handler runs in turn, with a unit of work of its own whose
   ``transaction`` is the shared one (``jumelage.db.Transaction``): its
   ``commit`` flushes, hands its outbox rows over, and waits: it returns only
   once the shared transaction has committed (so the message is acked after the
   commit, and code after ``commit``, such as wake-ups, runs once the data is
   visible);
3. the outbox rows of all are written in one statement, then one COMMIT.

There is no SAVEPOINT per event (two more round trips each). If a handler fails,
the shared transaction is rolled back whole and never committed: the failing
event takes the usual retry/dead-letter path, and every other event of the
batch is handled again alone, in a transaction of its own, exactly as after a
redelivery (handlers already run again after a crash before commit; only the
committed run has effects). If the commit fails, all of them are handled again
alone. A crash before the commit loses nothing: no message of the batch was
acked, and the inbox makes a redelivery a no-op.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jumelage.messaging.tables import OUTBOX_INSERT, inbox_insert


class SharedCommitFailed(Exception):
    """The shared transaction a unit of work took part in did not commit."""


class SharedTransaction:
    """One transaction on one connection, joined in turn by several units of work:
    the ``jumelage.db.Transaction`` of the unit whose turn it is."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.session: AsyncSession | None = None
        self.expected = 0  # events newly marked in the inbox: each must be handled, or nothing commits
        self.turns = 0  # units given a turn
        self.members = 0  # units that committed into it: all of them, or it must not commit
        self._outbox: list[dict[str, Any]] = []  # their outbox rows, written just before the commit
        self._broken: str | None = None
        self._turn_over = asyncio.Event()
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._done.add_done_callback(_retrieve)

    # -- the consumer's side ---------------------------------------------------------

    @property
    def usable(self) -> bool:
        return self._broken is None and self.members == self.turns and not self._done.done()

    async def mark_handled(self, consumer: str, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Insert the inbox rows of ``event_ids`` in one statement; return those that
        were not there yet (the others were handled before, or are being handled
        by another transaction, which this one then waits for)."""
        session = await self._session()
        now = datetime.now(UTC)
        rows = [{"consumer": consumer, "event_id": i, "handled_at": now} for i in dict.fromkeys(event_ids)]
        stmt = inbox_insert(session.bind.dialect.name)  # one statement for all: "insertmanyvalues"
        try:
            fresh = set((await session.execute(stmt, rows)).scalars())
        except BaseException:
            self.break_off("the inbox marks failed")
            raise
        self.expected = len(fresh)
        return fresh

    async def turn(self, member: asyncio.Future[Any]) -> None:
        """Give a waiting unit its turn; return once it committed into the
        shared transaction or left it."""
        self._turn_over.clear()
        self.turns += 1
        member.set_result(self)
        await self._turn_over.wait()

    async def commit_all(self) -> None:
        """Write the members' outbox rows and commit; then wake every member.
        A failure is reported to the members (``SharedCommitFailed``), not raised."""
        try:
            if self._broken is not None:
                raise SharedCommitFailed(self._broken)
            if self.members != self.expected:  # an inbox mark would stand for an event not handled
                raise SharedCommitFailed(f"{self.expected - self.members} of {self.expected} events not handled")
            if self.session is not None:
                if self._outbox:
                    await self.session.execute(OUTBOX_INSERT, self._outbox)
                await self.session.commit()
        except BaseException as exc:
            self._fail(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if not self._done.done():
                self._done.set_result(None)

    async def close(self) -> None:
        """Roll back whatever did not commit and give the connection back."""
        self._fail(SharedCommitFailed("the shared transaction ended before its commit"))
        if self.session is not None:
            try:
                await self.session.close()
            except Exception:  # noqa: S110  the connection is gone: nothing was committed
                pass

    async def committed(self) -> None:
        """Return once the shared transaction committed; raise SharedCommitFailed if it did not."""
        await asyncio.shield(self._done)

    def left(self) -> None:
        """The unit whose turn it was is done (committed into it, or failed)."""
        self._turn_over.set()

    def break_off(self, reason: str) -> None:
        """Something in the transaction failed: none of it may commit."""
        if self._broken is None:
            self._broken = reason

    # -- the side of the unit of work whose turn it is (``jumelage.db.Transaction``) --

    async def begin(self) -> AsyncSession:
        if self._broken is not None or self._done.done():
            raise SharedCommitFailed(self._broken or "the shared transaction is over")
        return await self._session()

    async def commit(self, outbox: list[dict[str, Any]]) -> None:
        """Flush into the shared transaction (an error is this unit's own), keep its
        outbox rows for the commit of all, end its turn, and wait for that commit."""
        if self._done.done():  # the transaction is over: failed (this raises), or committed already
            await self.committed()
            raise RuntimeError("this unit of work already committed into its shared transaction")
        assert self.session is not None  # begun
        await self.session.flush()
        self.members += 1
        self._outbox.extend(outbox)
        self._turn_over.set()
        await self.committed()

    async def rollback(self) -> None:
        """Its part cannot be undone alone: nothing commits, and the event is handled again alone."""
        self.break_off("a unit of work rolled back")
        raise SharedCommitFailed("rollback in a shared transaction")

    async def end(self, committed: bool) -> None:
        if not committed:  # its changes are in the shared transaction: none of it may commit
            self.break_off("a unit of work ended without commit")

    # -- internals -------------------------------------------------------------------

    async def _session(self) -> AsyncSession:
        if self.session is None:
            self.session = self._sessions()
            try:
                await self.session.begin()
            except BaseException:
                self.break_off("BEGIN failed")
                raise
        return self.session

    def _fail(self, exc: BaseException) -> None:
        if not self._done.done():
            failure = exc if isinstance(exc, SharedCommitFailed) else SharedCommitFailed(f"{type(exc).__name__}: {exc}")
            if failure is not exc:
                failure.__cause__ = exc
            self._done.set_exception(failure)


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # nobody may be waiting: no "exception never retrieved" noise
