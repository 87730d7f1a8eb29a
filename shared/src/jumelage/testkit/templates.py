"""A service's database migrated once per process, then given to each test.

Alembic's upgrade of a fresh database costs 0.1 s on SQLite and 0.25 s on
PostgreSQL (loading the scripts, then one round trip per statement); a test that
starts a service would pay it every time. :func:`migrated` gives a fresh database
what that upgrade would leave in it, from a template made once per process for
each service's migrations and backend:

- SQLite: the template file, migrated by Alembic, is copied to the test's path;
- PostgreSQL: the statements Alembic sent while migrating a template schema are
  sent again, in order, to the test's own (empty) schema (its search_path).

A database that is not fresh (a service started again on it) is migrated by
Alembic, as the service would be. The migrations themselves (down and up, from a
given revision) are still tested with Alembic: ``test_schema.py`` in each service;
``shared/tests/test_templates.py`` holds a copy equal to an Alembic-migrated database.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from jumelage.db import create_engine, is_sqlite
from jumelage.migrations import migrate


@dataclass(frozen=True)
class _Statement:
    sql: str
    parameters: Any
    many: bool


_sqlite_templates: dict[Path, Path] = {}
_postgres_templates: dict[tuple[Path, str], list[_Statement]] = {}
_folder: Path | None = None


async def migrated(engine: AsyncEngine, migrations: Path) -> None:
    """``engine``'s database at the head of ``migrations``: from the template if it is
    fresh (no file yet, or an empty schema), else by Alembic."""
    if is_sqlite(engine):
        path = _sqlite_path(engine)
        if path is None or path.exists():
            await migrate(engine, migrations)
            return
        shutil.copyfile(await _sqlite_template(migrations), path)
        return
    if not await _empty_schema(engine):
        await migrate(engine, migrations)
        return
    statements = await _postgres_template(engine, migrations)
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection  # asyncpg's
        async with driver.transaction():
            await driver.execute("SET LOCAL synchronous_commit = off")  # a test's database: no fsync to wait for
            for batch in _batches(statements):
                if isinstance(batch, str):
                    await driver.execute(batch)  # a script: one round trip, nothing prepared
                elif batch.many:
                    await driver.executemany(batch.sql, batch.parameters)
                else:
                    await driver.execute(batch.sql, *batch.parameters)

def _sqlite_path(engine: AsyncEngine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


async def _sqlite_template(migrations: Path) -> Path:
    key = migrations.resolve()
    if key not in _sqlite_templates:
        global _folder
        if _folder is None:
            _folder = Path(tempfile.mkdtemp(prefix="jumelage-templates-"))
        path = _folder / f"{migrations.parent.name}-{uuid.uuid4().hex[:8]}.db"
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(engine, migrations)
        finally:
            await engine.dispose()
        # Back to a rollback journal: the whole database is in its one file, to copy.
        plain = sqlite3.connect(path, isolation_level=None)
        try:
            plain.execute("PRAGMA journal_mode=DELETE")
        finally:
            plain.close()
        assert not path.with_name(path.name + "-wal").exists(), "the template's WAL was not checkpointed"
        _sqlite_templates[key] = path
    return _sqlite_templates[key]


async def _empty_schema(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        count = await conn.scalar(sa.text(
            "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema()"))
    return count == 0


async def _postgres_template(engine: AsyncEngine, migrations: Path) -> list[_Statement]:
    """What Alembic sends to migrate an empty schema of this server, recorded once."""
    key = (migrations.resolve(), engine.url.render_as_string(hide_password=False))
    if key not in _postgres_templates:
        schema = f"template_{uuid.uuid4().hex[:12]}"
        url = engine.url.render_as_string(hide_password=False)
        admin = create_engine(url)
        template = create_engine(url, schema=schema)
        recorded: list[_Statement] = []

        def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
            recorded.append(_Statement(statement, parameters, many))

        try:
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            async with template.connect():  # the dialect's first-connect queries, not recorded
                pass
            sa.event.listen(template.sync_engine, "before_cursor_execute", record)
            try:
                await migrate(template, migrations)
            finally:
                sa.event.remove(template.sync_engine, "before_cursor_execute", record)
        finally:
            await template.dispose()
            async with admin.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await admin.dispose()
        if any(schema in s.sql for s in recorded):
            raise AssertionError(f"a migration of {migrations} names its schema: it cannot be replayed")
        _postgres_templates[key] = recorded
    return _postgres_templates[key]


def _batches(statements: list[_Statement]) -> list[str | _Statement]:
    """The recorded statements in order: each run of statements without parameters
    joined into one script, each statement with parameters on its own."""
    batches: list[str | _Statement] = []
    script: list[str] = []
    for s in statements:
        if s.parameters:
            if script:
                batches.append(";\n".join(script))
                script = []
            batches.append(s)
        else:
            script.append(s.sql)
    if script:
        batches.append(";\n".join(script))
    return batches
