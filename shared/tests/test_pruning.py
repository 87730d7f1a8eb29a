"""Pruning the outbox and the inbox (jumelage.messaging.pruning), on SQLite and PostgreSQL:
what is old enough goes, in batches; what is pending, recent or of another age stays."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import insert, select

from jumelage.db import UnitOfWork
from jumelage.messaging.pruning import prune
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.settings import ServiceSettings

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def outbox_row(created: datetime, published: datetime | None) -> dict[str, Any]:
    return {"event_id": uuid.uuid4(), "event_type": "ConventionSigned", "routing_key": "convention.signed",
            "correlation_id": "c", "envelope": "{}", "created_at": created, "published_at": published,
            "attempts": 0, "last_error": None}


async def test_published_rows_past_the_window_and_old_inbox_keys_are_deleted_in_batches(sessions: Any) -> None:
    old, recent = NOW - timedelta(days=8), NOW - timedelta(days=6)
    rows = ([outbox_row(old, old + timedelta(seconds=1)) for _ in range(7)]      # published 8 days ago: go
            + [outbox_row(old, None)]                                            # never published: stays
            + [outbox_row(recent, recent) for _ in range(2)])                    # 6 days ago: stay
    keys = ([{"consumer": "scheduling.events", "event_id": uuid.uuid4(), "handled_at": NOW - timedelta(days=31)}
             for _ in range(5)]
            + [{"consumer": "notification.events", "event_id": uuid.uuid4(), "handled_at": NOW - timedelta(days=29)}])
    async with sessions() as s:
        await s.execute(insert(OutboxRecord.__table__), rows)
        await s.execute(insert(InboxRecord.__table__), keys)
        await s.commit()

    pruned = await prune(lambda: UnitOfWork(sessions), now=NOW, outbox_keep_days=7, inbox_keep_days=30, batch=3)

    assert (pruned.outbox, pruned.inbox) == (7, 5)
    async with sessions() as s:
        left = {r.event_id: r.published_at for r in (await s.execute(select(OutboxRecord.__table__))).all()}
        kept_keys = set((await s.scalars(select(InboxRecord.__table__.c.event_id))).all())
    assert set(left) == {r["event_id"] for r in rows[7:]}, "the pending row and the recent ones stay"
    assert kept_keys == {keys[-1]["event_id"]}


async def test_the_newest_row_stays_so_the_sequence_never_starts_again(sessions: Any) -> None:
    old = NOW - timedelta(days=8)
    async with sessions() as s:
        await s.execute(insert(OutboxRecord.__table__), [outbox_row(old, old) for _ in range(3)])
        await s.commit()
    pruned = await prune(lambda: UnitOfWork(sessions), now=NOW, outbox_keep_days=7, inbox_keep_days=30)
    assert pruned.outbox == 2, "all past the window but the newest"
    async with sessions() as s:
        (newest,) = (await s.scalars(select(OutboxRecord.__table__.c.seq))).all()
        await s.execute(insert(OutboxRecord.__table__), [outbox_row(NOW, None)])
        await s.commit()
        seqs = sorted((await s.scalars(select(OutboxRecord.__table__.c.seq))).all())
    assert seqs == [newest, newest + 1], "the next event is numbered after the last one, not 1 again"


async def test_nothing_to_prune_deletes_nothing(sessions: Any) -> None:
    async with sessions() as s:
        await s.execute(insert(OutboxRecord.__table__), [outbox_row(NOW, NOW)])
        await s.commit()
    pruned = await prune(lambda: UnitOfWork(sessions), now=NOW, outbox_keep_days=7, inbox_keep_days=30)
    assert (pruned.outbox, pruned.inbox) == (0, 0)


@pytest.mark.parametrize(("name", "value"), [("outbox_keep_days", "0"), ("inbox_keep_days", "0.5"),
                                             ("prune_interval_seconds", "0")])
def test_a_window_too_short_to_deduplicate_or_replay_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name.upper(), value)
    with pytest.raises(ValidationError, match=name):
        ServiceSettings(service_name="convention")
