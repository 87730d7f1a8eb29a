"""The scheduling service's migrations build exactly the mapped tables, on SQLite
and PostgreSQL, and go down and up again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import scheduling.app
from jumelage.db import create_engine
from jumelage.migrations import migrate
from jumelage.testing import Database
from scheduling.store.tables import Table


def _columns(sync_conn: sa.Connection) -> dict[str, set[str]]:
    inspector = sa.inspect(sync_conn)
    return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}


async def test_migrations_match_the_mapped_tables_and_go_down_and_up(database: Database) -> None:
    own = await database.for_service("scheduling")
    engine = create_engine(own.url, schema=own.schema)
    script = scheduling.app.MIGRATIONS
    try:
        await migrate(engine, script)
        async with engine.connect() as conn:
            tables = await conn.run_sync(_columns)
        for table in Table.metadata.sorted_tables:
            assert table.name in tables, table.name
            assert {c.name for c in table.columns} == tables[table.name], table.name

        def downgrade(sync_conn: sa.Connection) -> None:
            cfg = Config()
            cfg.set_main_option("script_location", str(script))
            cfg.attributes["connection"] = sync_conn
            command.downgrade(cfg, "0003")

        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
        async with engine.connect() as conn:
            after = await conn.run_sync(_columns)
        assert "anaesthetist_id" not in after["surgery"] and "as_of" not in after["institution"]
        await migrate(engine, script)
        async with engine.connect() as conn:
            again = await conn.run_sync(_columns)
        assert "anaesthetist_id" in again["surgery"] and "as_of" in again["institution"]
    finally:
        await engine.dispose()
