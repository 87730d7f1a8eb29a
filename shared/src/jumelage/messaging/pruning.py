"""Keeping the outbox and the inbox from growing without end.

- **Outbox**: a row is deleted once it has been published for ``outbox_keep_days``
  (wall time of its publication). A row not yet published is never deleted, nor
  the newest row (SQLite would otherwise number the next event 1 again once the
  table is empty, and a replay ``--since-seq`` would miss it). What is kept is what
  a replay can give again: ``outbox_keep_days`` is the replay window
  (``jumelage.replay``, ``jumelage.subscriptions``).
- **Inbox**: a key is deleted ``inbox_keep_days`` after its event was handled. The
  key is what makes a redelivery a no-op, so this is the window of deduplication:
  a copy of an event that comes back later than that (say a dead letter retried by
  hand weeks after) is handled again. Redeliveries by the broker come within the
  retry delays (seconds); keep the window far longer than any manual retry.

Each batch is its own short transaction (``batch`` rows at most), so pruning a
large backlog never holds a lock for long; every service runs it as a periodic
job (``ServiceRuntime``), and two replicas pruning at once only share the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, tuple_

from jumelage.messaging.tables import InboxRecord, OutboxRecord


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int


async def prune(unit_of_work: Callable[[], Any], *, now: datetime, outbox_keep_days: float,
                inbox_keep_days: float, batch: int = 5000) -> Pruned:
    """Delete the outbox rows published before ``now - outbox_keep_days`` and the
    inbox keys handled before ``now - inbox_keep_days``; ``unit_of_work`` makes a
    fresh unit of work for each batch."""
    outbox = OutboxRecord.__table__.c
    inbox = InboxRecord.__table__.c
    published_before = now - timedelta(days=outbox_keep_days)
    handled_before = now - timedelta(days=inbox_keep_days)
    newest = select(func.max(outbox.seq)).scalar_subquery()
    old_rows = (select(outbox.seq).where(outbox.published_at.is_not(None), outbox.published_at < published_before,
                                         outbox.seq < newest)
                .limit(batch).scalar_subquery())
    old_keys = select(inbox.consumer, inbox.event_id).where(inbox.handled_at < handled_before).limit(batch)
    statements = {
        "outbox": delete(OutboxRecord.__table__).where(outbox.seq.in_(old_rows)),
        "inbox": delete(InboxRecord.__table__).where(tuple_(inbox.consumer, inbox.event_id).in_(old_keys)),
    }
    counts = {"outbox": 0, "inbox": 0}
    for table, statement in statements.items():
        while True:
            async with unit_of_work() as uow:
                deleted = (await uow.session.execute(statement)).rowcount or 0
                await uow.commit()
            counts[table] += deleted
            if deleted < batch:
                break
    return Pruned(counts["outbox"], counts["inbox"])
