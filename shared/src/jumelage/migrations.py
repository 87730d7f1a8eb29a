"""Alembic, driven the same way by every service.

Each service's ``migrations/env.py`` is two lines calling :func:`run_env`.
:func:`migrate` upgrades a database from inside the running event loop (the
service CLI, start-up, tests); on PostgreSQL it holds an advisory lock so two
replicas starting together do not migrate at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from jumelage.db import create_engine
from jumelage.settings import ServiceSettings


def _config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


async def migrate(engine: AsyncEngine, script_location: Path, revision: str = "head") -> None:
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            name = f"migrate:{script_location.parent.name}"
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:n || '@' || current_schema()))"),
                               {"n": name})

        def upgrade(sync_conn: sa.Connection) -> None:
            cfg = _config(script_location)
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        await conn.run_sync(upgrade)


def run_env() -> None:
    """Body of every ``env.py``: use the connection we were handed, or the
    service's settings when run as ``alembic upgrade head``."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    service = context.config.get_main_option("service_name") or "service"
    settings = ServiceSettings(service_name=service)
    engine = create_engine(settings.sqlalchemy_url(), schema=settings.database_schema)

    async def go() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
        await engine.dispose()

    asyncio.run(go())


def _run(connection: sa.Connection) -> None:
    from alembic import context

    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    )
    with context.begin_transaction():
        context.run_migrations()


def create_messaging_tables_v1() -> None:
    """The outbox and inbox tables, as of version 1. Frozen: a later change to
    these tables gets a new function and a new migration in each service."""
    from alembic import op

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["seq"],
        sqlite_where=sa.text("published_at IS NULL"), postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )


def create_pruning_indexes_v2() -> None:
    """Version 2 of the outbox and inbox: the indexes their pruning reads
    (``jumelage.messaging.pruning``), so that it never scans either table. Frozen."""
    from alembic import op

    op.create_index(
        "ix_outbox_published", "outbox", ["published_at"],
        sqlite_where=sa.text("published_at IS NOT NULL"), postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_index("ix_inbox_handled", "inbox", ["handled_at"])


def drop_pruning_indexes_v2() -> None:
    from alembic import op

    op.drop_index("ix_inbox_handled", "inbox")
    op.drop_index("ix_outbox_published", "outbox")
