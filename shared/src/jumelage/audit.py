"""The audit trail every service keeps: who changed what, when, under which correlation.

A row is written by the unit of work in the very transaction of the change it
describes (so a change without its audit row cannot exist), only for changes
made through the HTTP API by an authenticated caller. Changes made on receipt
of an event are traced by the inbox and by the correlation id they share with
the audited request that started the chain.

Append-only: the API has no route that changes it, and the database refuses
UPDATE and DELETE on it (triggers created by the migration).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import Column, Index, String, Text, func, insert, select
from sqlmodel import Field, SQLModel

from jumelage import context
from jumelage.api import IsoInstant, Offset
from jumelage.auth import Role, require
from jumelage.columns import UtcDateTime
from jumelage.messaging.tables import SEQ_TYPE


@dataclass(frozen=True)
class AuditActor:
    """Who is changing things in this unit of work, and through which route."""

    subject: str
    institution_id: uuid.UUID | None
    roles: tuple[str, ...]
    action: str  # "POST /conventions/{convention_id}/sign"
    target: str  # "/conventions/5b0c…/sign"

    @classmethod
    def of(cls, request: Request, caller: Any, *, with_query: bool = False) -> AuditActor:
        """The caller of an HTTP request, and its route (``with_query``: the target names the
        query too, for a read whose parameters say what was read: a period, a language)."""
        route = request.scope.get("route")
        target = request.url.path
        if with_query and request.url.query:
            target += f"?{request.url.query}"
        return cls(subject=caller.subject, institution_id=caller.institution_id,
                   roles=tuple(sorted(r.value for r in caller.roles)),
                   action=f"{request.method} {getattr(route, 'path', request.url.path)}", target=target)

    def row(self, at: datetime, correlation_id: str | None) -> dict[str, Any]:
        """Who, when, through which route: the values every row written for this actor begins with
        (the audit's, and the access history of patients' identities)."""
        return dict(at=at, subject=self.subject, institution_id=self.institution_id, roles=" ".join(self.roles),
                    action=self.action, target=self.target, correlation_id=correlation_id)


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_correlation", "correlation_id"), Index("ix_audit_subject", "subject"))

    seq: int | None = Field(default=None, sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=True))
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    institution_id: uuid.UUID | None = Field(default=None)
    roles: str = Field(sa_column=Column(String(300), nullable=False))
    action: str = Field(sa_column=Column(String(300), nullable=False))
    target: str = Field(sa_column=Column(Text, nullable=False))
    events: str = Field(sa_column=Column(Text, nullable=False), description="JSON: [{type, id, subject}]")
    correlation_id: str | None = Field(default=None, sa_column=Column(String(200)))


def record_for(actor: AuditActor, at: datetime, events: list[Any], correlation_id: str | None) -> dict[str, Any]:
    """The audit row's values, for ``AUDIT_INSERT``."""
    return {**actor.row(at, correlation_id),
            "events": json.dumps([{"type": e.type, "id": str(e.id), "subject": e.subject} for e in events])}


async def write_apart(sessions: Callable[[], Any], statement: Any,
                      rows: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` in a short transaction of their own, from ``sessions`` (one that may write):
    what a read (a GET, which writes nothing itself) leaves behind, before its answer leaves."""
    async with sessions() as session, session.begin():
        await session.execute(statement, rows)


async def record_read(sessions: Callable[[], Any], actor: AuditActor) -> None:
    """The audit row of a read worth tracing (no events: the action and target say what was read)."""
    await write_apart(sessions, AUDIT_INSERT, record_for(actor, datetime.now(UTC), [], context.correlation_id.get()))


# A Core insert, built once: on every changing request, an ORM object and its flush cost more.
AUDIT_INSERT = insert(AuditRecord.__table__)  # type: ignore[arg-type]


# -- the migration (frozen, like create_messaging_tables_v1) ----------------------------------------

def create_audit_table_v1() -> None:
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=True),
        sa.Column("roles", sa.String(300), nullable=False),
        sa.Column("action", sa.String(300), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_audit_correlation", "audit", ["correlation_id"])
    op.create_index("ix_audit_subject", "audit", ["subject"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$""")
        op.execute("""CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
                      FOR EACH ROW EXECUTE FUNCTION audit_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER audit_no_{verb.lower()} BEFORE {verb} ON audit
                           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""")


def drop_audit_table_v1() -> None:
    from alembic import op

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON audit")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
    op.drop_index("ix_audit_subject", table_name="audit")
    op.drop_index("ix_audit_correlation", table_name="audit")
    op.drop_table("audit")


# -- reading it --------------------------------------------------------------------------------------

class AuditEntry(BaseModel):
    seq: int
    at: datetime
    subject: str
    institution_id: uuid.UUID | None
    roles: list[str]
    action: str
    target: str
    events: list[dict[str, Any]]
    correlation_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    total: int
    limit: int
    offset: int


def audit_router() -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get("", response_model=AuditPage, summary="Who changed what, newest first (administrators)",
                dependencies=[require(Role.administrator, to="read the audit trail")])
    async def read_audit(
        request: Request,
        subject: Annotated[str | None, Query(max_length=300)] = None,
        institution_id: uuid.UUID | None = None,
        correlation_id: Annotated[str | None, Query(max_length=200)] = None,
        since: IsoInstant | None = None,
        until: IsoInstant | None = None,
        limit: Annotated[int, Query(ge=1, le=500, description="rows per page, 1 to 500")] = 100,
        offset: Offset = 0,
    ) -> AuditPage:
        conditions = [c for c in (
            AuditRecord.subject == subject if subject else None,
            AuditRecord.institution_id == institution_id if institution_id else None,
            AuditRecord.correlation_id == correlation_id if correlation_id else None,
            AuditRecord.at >= since if since else None,
            AuditRecord.at < until if until else None,
        ) if c is not None]
        async with request.app.state.runtime.sessions() as session:
            count = select(func.count()).select_from(AuditRecord).where(*conditions)
            total = (await session.execute(count)).scalar_one()
            rows = (await session.execute(
                select(AuditRecord).where(*conditions).order_by(AuditRecord.seq.desc()).limit(limit).offset(offset)
            )).scalars().all()
        items = [AuditEntry(seq=r.seq, at=r.at, subject=r.subject, institution_id=r.institution_id,
                            roles=r.roles.split(), action=r.action, target=r.target,
                            events=json.loads(r.events), correlation_id=r.correlation_id) for r in rows]
        return AuditPage(items=items, total=total, limit=limit, offset=offset)

    return router
