"""A service's migrated database against its mapped tables, and alembic downgrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any


async def table_columns(engine: Any) -> dict[str, set[str]]:
    """Each table of the engine's database (its schema) with its column names."""
    import sqlalchemy as sa

    def read(sync_conn: Any) -> dict[str, set[str]]:
        inspector = sa.inspect(sync_conn)
        return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}

    async with engine.connect() as conn:
        return await conn.run_sync(read)  # type: ignore[no-any-return]


async def assert_migrated_as_mapped(engine: Any, metadata: Any) -> None:
    """Every mapped table exists in the migrated database with exactly its columns."""
    tables = await table_columns(engine)
    for table in metadata.sorted_tables:
        assert table.name in tables, f"table {table.name} not created by the migrations"
        assert {c.name for c in table.columns} == tables[table.name], table.name


async def downgrade(engine: Any, migrations: Path, revision: str) -> None:
    """Alembic's downgrade of a service's migrations to ``revision``."""
    from alembic import command
    from alembic.config import Config

    def run(sync_conn: Any) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrations))
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)
