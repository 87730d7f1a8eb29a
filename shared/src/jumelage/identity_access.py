"""Who saw a patient: every read of a patient's identity, written down as changes are in the audit.

A service that keeps identity (scheduling: a case's name and birth date; notification: a
family's contact) writes one row per patient whose identity a request returned: who
(``sub``, institution, roles), when, what was read (``what``: a case's detail, a waiting or
operating list with names, an export, a family contact), which route and path, the
patient (``patient_ref``, never the name) and whose patient it is (the host institution),
with the request's correlation id. Like the audit it is append-only (the database refuses
UPDATE and DELETE) and written by the service itself, never by a route that takes it as
input.

A read (GET) never takes the write lock for its own query; its rows are written right after
it, in a short transaction of their own, before the answer leaves: a read whose rows cannot
be written fails (the identity is not shown unrecorded). A change that answers with the
identity (a correction) is in the audit already.

``privacy_officer`` of an institution reads the rows of its own patients, and only that
(:func:`identity_access_router`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, Uuid, func, insert, select

from jumelage import context
from jumelage.api import IsoInstant, Offset
from jumelage.audit import write_apart
from jumelage.auth import CallerDep, Role, deny
from jumelage.columns import UtcDateTime


class Read(StrEnum):
    """What a row says was read."""

    case = "case"                      # a case's detail
    case_list = "case_list"            # a waiting list, or the operating list drawn from it, with names
    export = "export"                  # the access-request export of a person's data
    family_contact = "family_contact"  # a family's contact (address, phone)


def identity_access_table(metadata: MetaData) -> Table:
    return Table(
        "identity_access", metadata,
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
        Column("at", UtcDateTime(), nullable=False),
        Column("subject", String(300), nullable=False),
        Column("institution_id", Uuid(), nullable=True),
        Column("roles", String(300), nullable=False),
        Column("action", String(300), nullable=False),
        Column("target", Text(), nullable=False),
        Column("what", String(30), nullable=False),
        Column("patient_ref", String(200), nullable=False),
        Column("host_institution_id", Uuid(), nullable=True),
        Column("correlation_id", String(200), nullable=True),
        Index("ix_identity_access_host", "host_institution_id", "seq"),
        Index("ix_identity_access_patient", "patient_ref"),
    )


# -- the migration (frozen, like create_audit_table_v1) ---------------------------------------------

def create_identity_access_table_v1() -> None:
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "identity_access",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=True),
        sa.Column("roles", sa.String(300), nullable=False),
        sa.Column("action", sa.String(300), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("what", sa.String(30), nullable=False),
        sa.Column("patient_ref", sa.String(200), nullable=False),
        sa.Column("host_institution_id", sa.Uuid(), nullable=True),
        sa.Column("correlation_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_identity_access_host", "identity_access", ["host_institution_id", "seq"])
    op.create_index("ix_identity_access_patient", "identity_access", ["patient_ref"])
    if op.get_bind().dialect.name == "postgresql":
        # audit_append_only() exists since the audit's migration (0003 in both services).
        op.execute("""CREATE TRIGGER identity_access_append_only BEFORE UPDATE OR DELETE ON identity_access
                      FOR EACH ROW EXECUTE FUNCTION audit_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER identity_access_no_{verb.lower()} BEFORE {verb} ON identity_access
                           BEGIN SELECT RAISE(ABORT, 'the access history is append-only'); END""")


def drop_identity_access_table_v1() -> None:
    from alembic import op

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS identity_access_append_only ON identity_access")
    op.drop_index("ix_identity_access_patient", table_name="identity_access")
    op.drop_index("ix_identity_access_host", table_name="identity_access")
    op.drop_table("identity_access")


# -- writing it ----------------------------------------------------------------------------------------

async def record_reads(uow: Any, table: Table, what: Read, patients: Iterable[tuple[str, uuid.UUID | None]]) -> int:
    """Write who read the identity of ``patients`` ((patient_ref, host institution) pairs) in
    this request, in a short transaction of its own (``uow.write_sessions``). Nothing for a unit
    of work that serves no person's read (an event, a periodic job). Returns the rows written."""
    actor = getattr(uow, "reader", None)
    seen = dict.fromkeys(patients)  # a patient read twice in one answer: one row
    if actor is None or not seen:
        return 0
    who = actor.row(datetime.now(UTC), context.correlation_id.get())
    rows = [{**who, "what": what.value, "patient_ref": ref, "host_institution_id": host} for ref, host in seen]
    await write_apart(uow.write_sessions, insert(table), rows)
    return len(rows)


# -- reading it: the privacy officer ------------------------------------------------------------------

class AccessEntry(BaseModel):
    seq: int
    at: datetime
    subject: str = Field(description="who read it (the token's sub)")
    institution_id: uuid.UUID | None = Field(description="the reader's institution")
    roles: list[str]
    action: str = Field(description="the route: method and path template")
    target: str = Field(description="the path requested")
    what: Read
    patient_ref: str
    correlation_id: str | None


class AccessPage(BaseModel):
    items: list[AccessEntry]
    total: int
    limit: int
    offset: int


def identity_access_router(table: Table, *, service: str) -> APIRouter:
    """``GET /institutions/{institution_id}/identity-access``: who read the identity of the
    institution's own patients here, newest first; its ``privacy_officer`` only."""
    router = APIRouter(tags=["privacy"])

    @router.get("/institutions/{institution_id}/identity-access", response_model=AccessPage,
                summary=f"Who read the identity of an institution's patients in the {service} service "
                        "(its privacy officer)")
    async def access_history(
        institution_id: uuid.UUID,
        request: Request,
        caller: CallerDep,
        patient_ref: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        subject: Annotated[str | None, Query(min_length=1, max_length=300)] = None,
        since: IsoInstant | None = None,
        until: IsoInstant | None = None,
        limit: Annotated[int, Query(ge=1, le=500, description="rows per page, 1 to 500")] = 100,
        offset: Offset = 0,
    ) -> AccessPage:
        what = "read the access history of patients' identities"
        if not caller.has(Role.privacy_officer):
            raise deny(caller, f"{what} (needs the role privacy_officer)")
        if not caller.acts_for((institution_id,), Role.privacy_officer):
            raise deny(caller, f"{what} of institution {institution_id}: only its own patients'")
        c = table.c
        conditions = [c.host_institution_id == institution_id, *(cond for cond in (
            c.patient_ref == patient_ref if patient_ref else None,
            c.subject == subject if subject else None,
            c.at >= since if since else None,
            c.at < until if until else None,
        ) if cond is not None)]
        async with request.app.state.runtime.read_sessions() as session:
            total = (await session.execute(select(func.count()).select_from(table).where(*conditions))).scalar_one()
            rows = (await session.execute(
                select(table).where(*conditions).order_by(c.seq.desc()).limit(limit).offset(offset))).all()
        items = [AccessEntry(seq=r.seq, at=r.at, subject=r.subject, institution_id=r.institution_id,
                             roles=r.roles.split(), action=r.action, target=r.target, what=Read(r.what),
                             patient_ref=r.patient_ref, correlation_id=r.correlation_id) for r in rows]
        return AccessPage(items=items, total=total, limit=limit, offset=offset)

    return router
