"""The scheduling service's migrations build exactly the mapped tables, on SQLite
and PostgreSQL, and go down and up again."""

from __future__ import annotations

import scheduling.app
from jumelage.db import create_engine
from jumelage.idempotency import IdempotencyRecord
from jumelage.migrations import migrate
from jumelage.testkit.schema import assert_migrated_as_mapped, downgrade, table_columns
from jumelage.testkit.servers import Database
from scheduling.store.tables import Table


async def test_migrations_match_the_mapped_tables_and_go_down_and_up(database: Database) -> None:
    own = await database.for_service("scheduling")
    engine = create_engine(own.url, schema=own.schema)
    script = scheduling.app.MIGRATIONS
    try:
        await migrate(engine, script)
        await assert_migrated_as_mapped(engine, Table.metadata)
        await assert_migrated_as_mapped(engine, IdempotencyRecord.metadata)  # and the shared tables

        await downgrade(engine, script, "0003")
        after = await table_columns(engine)
        assert "anaesthetist_id" not in after["surgery"] and "as_of" not in after["institution"]
        assert "idempotency_keys" not in after
        await migrate(engine, script)
        again = await table_columns(engine)
        assert "anaesthetist_id" in again["surgery"] and "as_of" in again["institution"]
        assert "idempotency_keys" in again
    finally:
        await engine.dispose()
