"""Two replicas of the service share one database and one queue: every notification
is sent once (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the write lock).
And the schema: migration 0002 matches the tables the code maps, and goes down
and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import notification.app
from jumelage.db import create_engine
from jumelage.idempotency import IdempotencyRecord
from jumelage.events import MissionScheduled
from jumelage.migrations import migrate
from jumelage.testkit.schema import assert_migrated_as_mapped, downgrade, table_columns
from jumelage.testkit.servers import Database
from jumelage.testkit.waiting import eventually
from notification.store.tables import Table


async def test_two_replicas_send_each_notification_once(notification_service: Any, programme: Any) -> None:
    team = [{"practitioner_id": uuid.uuid4(), "full_name": f"Dr {i}", "role": "resident"} for i in range(24)]
    async with contextlib.AsyncExitStack() as stack:
        # New notifications go out from the replica that created them (handed over at
        # commit); the retries are shared by both replicas' rounds: small batches and a
        # short poll, so both workers are at it at once.
        fast = {"delivery_batch_size": 3, "delivery_poll_interval": 0.05, "delivery_retry_delays": [3]}
        first = await stack.enter_async_context(notification_service(**fast))
        await stack.enter_async_context(notification_service(**fast))  # the second replica: same queue and database
        for i, member in enumerate(team):
            await first.contact(kind="practitioner", practitioner_id=str(member["practitioner_id"]),
                                email=f"resident{i}@chu-oran.dz")
            first.smtp.refuse[f"resident{i}@chu-oran.dz"] = "451 4.3.0 try again later"
        scheduled = programme.envelope(MissionScheduled(
            mission_id=programme.mission_id, convention_id=programme.convention_id,
            host_institution_id=programme.cmci, visiting_institution_id=programme.san_donato,
            specialty="chirurgie générale", starts_on=programme.mission_starts, ends_on=programme.mission_starts,
            team=team))
        await first.publish(scheduled)

        async def first_attempts_failed() -> bool:
            items = await first.notifications()
            return len(items) == 24 and all(n["status"] == "pending" and n["attempts"] == 1 for n in items)

        await eventually(first_attempts_failed)
        first.smtp.refuse.clear()  # the server takes mail again: the retries go through rounds
        items = await first.settled(24)
        assert {n["status"] for n in items} == {"sent"}
        assert {n["attempts"] for n in items} == {2}
        received = Counter(a.addr_spec for m in first.smtp.messages() for a in m["To"].addresses)
        assert len(received) == 24 and set(received.values()) == {1}, "each resident exactly once"
        await first.tap.wait_for(lambda bodies: len([b for b in bodies if b["type"] == "NotificationSent"]) >= 24)
        sent = [b["data"]["notification_id"] for b in first.tap.of_type("NotificationSent")]
        assert sorted(sent) == sorted(n["id"] for n in items), "one NotificationSent each"


async def test_migration_matches_the_mapped_tables_and_goes_down_and_up(database: Database) -> None:
    own = await database.for_service("notification")
    engine = create_engine(own.url, schema=own.schema)
    script = notification.app.MIGRATIONS
    try:
        await migrate(engine, script)
        await assert_migrated_as_mapped(engine, Table.metadata)
        await assert_migrated_as_mapped(engine, IdempotencyRecord.metadata)  # and the shared tables

        await downgrade(engine, script, "0001")
        after = await table_columns(engine)
        assert "notification" not in after and "contact" not in after
        assert {"institution", "outbox", "inbox"} <= set(after) and "idempotency_keys" not in after
        await migrate(engine, script)
        assert {"reminder", "idempotency_keys"} <= set(await table_columns(engine))
    finally:
        await engine.dispose()
