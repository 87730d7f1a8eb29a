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


async def definition(engine: Any) -> dict[str, Any]:
    """Everything a database's migrations made, comparable between two databases of one
    backend: each object's definition as the server gives it (SQLite's ``sqlite_master``;
    PostgreSQL's columns, indexes, constraints and sequences, the schema's name left out)
    and the rows of ``alembic_version``."""
    import sqlalchemy as sa

    async with engine.connect() as conn:
        version = sorted((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())
        if conn.dialect.name == "sqlite":
            rows = await conn.execute(sa.text("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"))
            return {"objects": [tuple(r) for r in rows], "alembic_version": version}
        schema = await conn.scalar(sa.text("SELECT current_schema()"))
        queries = {
            "columns": "SELECT table_name, ordinal_position, column_name, data_type, character_maximum_length, "
                       "is_nullable, column_default FROM information_schema.columns WHERE table_schema = :s",
            "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :s",
            "constraints": "SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid) "
                           "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :s",
            "sequences": "SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences "
                         "WHERE sequence_schema = :s",
        }
        found: dict[str, Any] = {"alembic_version": version}
        for name, sql in queries.items():
            rows = await conn.execute(sa.text(sql), {"s": schema})
            found[name] = sorted(tuple(str(v).replace(f'"{schema}".', "").replace(f"{schema}.", "") for v in r)
                                 for r in rows)
        return found
