"""The outbox and inbox tables every service carries in its own database."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Text, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel

from jumelage.columns import UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT.
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class OutboxRecord(SQLModel, table=True):
    """An event waiting to be published; written in the transaction of its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "seq", sqlite_where=text("published_at IS NULL"),
              postgresql_where=text("published_at IS NULL")),
        # What pruning reads (jumelage.messaging.pruning).
        Index("ix_outbox_published", "published_at", sqlite_where=text("published_at IS NOT NULL"),
              postgresql_where=text("published_at IS NOT NULL")),
    )

    seq: int | None = Field(default=None, sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=True))
    event_id: uuid.UUID = Field(unique=True)
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    routing_key: str = Field(sa_column=Column(String(200), nullable=False))
    correlation_id: str = Field(sa_column=Column(String(200), nullable=False))
    envelope: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    published_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text))

    @classmethod
    def from_envelope(cls, envelope: Any) -> OutboxRecord:
        return cls(
            event_id=envelope.id,
            event_type=envelope.type,
            routing_key=envelope.routing_key,
            correlation_id=envelope.correlationid,
            envelope=envelope.to_json(),
            created_at=envelope.time,
        )


def outbox_row(envelope: Any, envelope_json: str | None = None) -> dict[str, Any]:
    """The outbox row of ``envelope`` as plain column values (for ``OUTBOX_INSERT``);
    ``envelope_json``: the envelope already serialized."""
    return {
        "event_id": envelope.id,
        "event_type": envelope.type,
        "routing_key": envelope.routing_key,
        "correlation_id": envelope.correlationid,
        "envelope": envelope.to_json() if envelope_json is None else envelope_json,
        "created_at": envelope.time,
        "published_at": None,
        "attempts": 0,
        "last_error": None,
    }


OUTBOX_INSERT = insert(OutboxRecord.__table__)  # type: ignore[arg-type]
"""Core, not ORM: rows written in one statement, in the order given (``seq``)."""


class InboxRecord(SQLModel, table=True):
    """An event a consumer has handled; its presence makes a redelivery a no-op."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_handled", "handled_at"),)  # what pruning reads

    consumer: str = Field(sa_column=Column(String(200), primary_key=True))
    event_id: uuid.UUID = Field(primary_key=True)
    handled_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


@functools.cache
def inbox_insert(dialect: str) -> Any:
    """INSERT INTO inbox ... ON CONFLICT DO NOTHING RETURNING event_id, built once per
    dialect: one row (``UnitOfWork.mark_handled``) or many in one statement (a batch)."""
    table = InboxRecord.__table__
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    return upsert(table).on_conflict_do_nothing(index_elements=["consumer", "event_id"]).returning(table.c.event_id)
