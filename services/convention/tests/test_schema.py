"""The convention service's migrations build exactly the mapped tables (its own and
the shared ones), on SQLite and PostgreSQL, and go down and up again."""

from __future__ import annotations

import convention.app
from convention.store.tables import Table
from jumelage.db import create_engine
from jumelage.idempotency import IdempotencyRecord
from jumelage.migrations import migrate
from jumelage.testkit.schema import assert_migrated_as_mapped, downgrade, table_columns
from jumelage.testkit.servers import Database


async def test_migrations_match_the_mapped_tables_and_go_down_and_up(database: Database) -> None:
    own = await database.for_service("convention")
    engine = create_engine(own.url, schema=own.schema)
    script = convention.app.MIGRATIONS
    try:
        await migrate(engine, script)
        await assert_migrated_as_mapped(engine, Table.metadata)
        await assert_migrated_as_mapped(engine, IdempotencyRecord.metadata)  # outbox, inbox, audit, keys

        await downgrade(engine, script, "0003")
        after = await table_columns(engine)
        assert "audit" not in after and "idempotency_keys" not in after and "convention" in after
        await migrate(engine, script)
        assert {"audit", "idempotency_keys"} <= set(await table_columns(engine))
    finally:
        await engine.dispose()
