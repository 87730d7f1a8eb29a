"""A service's database made from the migrated template (``jumelage.testkit.templates``,
what ``running`` gives each test) is the database Alembic's upgrade makes, on SQLite and
PostgreSQL; each copy is a test's own; a database that is not fresh is left to Alembic."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

import convention.app
import notification.app
import scheduling.app
from jumelage.db import create_engine
from jumelage.migrations import migrate
from jumelage.testkit.schema import definition
from jumelage.testkit.servers import Database
from jumelage.testkit.templates import migrated

SERVICES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}


async def _engines(database: Database, *names: str) -> list[Any]:
    engines = []
    for name in names:
        own = await database.for_service(name)
        engines.append(create_engine(own.url, schema=own.schema))
    return engines


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_a_database_from_the_template_is_the_one_alembic_makes(database: Database, service: str) -> None:
    script = SERVICES[service].MIGRATIONS
    by_alembic, first, second = await _engines(database, "alembic", "first", "second")
    try:
        await migrate(by_alembic, script)
        await migrated(first, script)  # the template made (in this process, if not before)
        await migrated(second, script)  # and surely copied
        expected = await definition(by_alembic)
        assert expected["alembic_version"] and len(expected) > 1
        assert await definition(first) == expected
        assert await definition(second) == expected

        # Each copy is a database of its own.
        async with first.begin() as conn:
            await conn.execute(sa.text("INSERT INTO inbox (consumer, event_id, handled_at) "
                                       "VALUES ('probe', :id, CURRENT_TIMESTAMP)"), {"id": uuid.uuid4().hex})
        async with second.connect() as conn:
            assert await conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 0
    finally:
        for engine in (by_alembic, first, second):
            await engine.dispose()


async def test_a_database_that_is_not_fresh_is_upgraded_by_alembic(database: Database) -> None:
    """A service started again on its database (or on one an older version left) keeps
    its rows and reaches the head: nothing is copied over it."""
    script = scheduling.app.MIGRATIONS
    (engine,) = await _engines(database, "scheduling")
    by_alembic, = await _engines(database, "alembic")
    try:
        await migrate(engine, script, "0005")
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO inbox (consumer, event_id, handled_at) "
                                       "VALUES ('probe', :id, CURRENT_TIMESTAMP)"), {"id": uuid.uuid4().hex})
        await migrated(engine, script)
        await migrate(by_alembic, script)
        assert await definition(engine) == await definition(by_alembic)
        async with engine.connect() as conn:
            assert await conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 1
    finally:
        await engine.dispose()
        await by_alembic.dispose()
