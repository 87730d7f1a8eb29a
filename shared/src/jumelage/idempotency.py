"""``Idempotency-Key``: a request sent again with the same key has one effect and one answer.

After the IETF draft "The Idempotency-Key HTTP Header Field"
(draft-ietf-httpapi-idempotency-key-header). A caller may send the header on any
request that changes something (POST, PUT, PATCH, DELETE). The first request with
a key is carried out; a repeat (a double click, a retry after a timeout) gets the
first response, status and body (with its Content-Type, Location, ETag), marked
``Idempotent-Replayed: true``, and changes nothing. The same key on another request
(method, path, query or body differ) is a 422; a repeat while the first is still
running is a 409 with ``Retry-After``. Keys are per caller (the token's ``sub``)
and per service, kept ``IDEMPOTENCY_KEY_HOURS`` by the service clock; an expired
key is a new one. Without the header nothing changes.

Nothing doubled, nothing lost:

1. :func:`idempotency_key` (a dependency of every changing route, once the
   caller is authenticated, before the route's own checks) writes the key's row
   ``in_progress`` in a short transaction of its own. The primary key (caller,
   key) lets one of two concurrent first requests win; the other reads the row
   and gets its 409.
2. ``UnitOfWork.commit`` marks the row ``committed`` in the transaction of the
   change (:func:`pending`, :meth:`KeyedRequest.mark`): the effect and the key's
   claim commit together or not at all.
3. :class:`IdempotencyMiddleware` stores the response (``done``) before its last
   byte goes out. A 5xx (or an exception) with nothing committed releases the
   key, so a retry runs anew; a 4xx is kept as the first response.

A process that dies between 2 and 3 leaves the row ``committed`` without a
response: a retry gets a 409, "still being carried out" until the lease runs out,
then saying it was carried out (read the resource); never a second effect. One that dies before 2 leaves it ``in_progress``: once its lease
(``IDEMPOTENCY_LEASE_SECONDS``, wall time) runs out a retry takes the key over
with a new claim, and should the first request still commit, its mark finds the
claim gone and its whole transaction is refused (409).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import Column, Index, Integer, LargeBinary, String, Text, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Field, SQLModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jumelage.auth import CallerDep
from jumelage.columns import UtcDateTime
from jumelage.errors import Conflict
from jumelage.logging import get_logger

if TYPE_CHECKING:
    from jumelage.settings import ServiceSettings

log = get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_PATTERN = r"^[\x21-\x7e]+$"  # visible ASCII, no spaces: a UUID, a ULID, the draft's quoted "…"
KEY_MAX = 255
KEPT_HEADERS = frozenset({b"content-type", b"location", b"etag", b"last-modified"})
CLEANUP_INTERVAL = 600.0
"""Seconds between deletions of expired keys (:func:`delete_expired`, run by the service runtime)."""


class KeyState(StrEnum):
    in_progress = "in_progress"  # claimed; nothing committed yet
    committed = "committed"  # the change committed with the claim; response not stored (yet)
    done = "done"  # the first response is stored: a repeat replays it


class IdempotencyRecord(SQLModel, table=True):
    """One caller's key, what it was first used for, and that request's response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    subject: str = Field(sa_column=Column(String(300), primary_key=True))
    key: str = Field(sa_column=Column(String(KEY_MAX), primary_key=True))
    claim: uuid.UUID = Field(description="the request holding the key; a takeover changes it")
    state: str = Field(sa_column=Column(String(20), nullable=False))
    method: str = Field(sa_column=Column(String(10), nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False),
                             description="SHA-256 of method, path, query and body")
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    lease_until: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False),
                                  description="wall time: past it, an in_progress row may be taken over "
                                              "and a committed one will get no response")
    response_status: int | None = Field(default=None, sa_column=Column(Integer))
    response_headers: str | None = Field(default=None, sa_column=Column(Text), description="JSON [[name, value]]")
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


TABLE = IdempotencyRecord.__table__
C = TABLE.c  # type: ignore[attr-defined]


def wall_clock() -> datetime:
    """Real time, for leases (the service clock may be a demonstration's, standing still)."""
    return datetime.now(UTC)


# -- the request in flight ---------------------------------------------------------------------------

@dataclass
class KeyedRequest:
    """A changing request that carries an Idempotency-Key, while it runs (set by the middleware)."""

    subject: str | None = None
    key: str | None = None
    claim: uuid.UUID | None = None  # set once this request holds the key
    committed: bool = False  # its change committed, the key's mark with it
    finished: bool = False
    sessions: async_sessionmaker[AsyncSession] | None = field(default=None, repr=False)

    def _this(self) -> Any:
        return and_(C.subject == self.subject, C.key == self.key, C.claim == self.claim)

    async def mark(self, session: AsyncSession) -> None:
        """In the unit of work's transaction: the key is ``committed`` with the change.
        Refuse the whole transaction if a retry took the key over (this request's lease ran out)."""
        result = await session.execute(
            update(TABLE).where(self._this(), C.state == KeyState.in_progress).values(state=KeyState.committed))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"this request ran longer than its {HEADER} lease and a retry took the key over; "
                           "nothing was changed by it")

    async def finish(self, status: int | None, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Store the first response, or release the key after a 5xx that committed nothing.
        ``status`` None: the app raised. Never raises: the response goes out regardless."""
        if self.finished:
            return
        self.finished = True
        if self.claim is None or self.sessions is None:
            return  # not claimed here: a replay, a refusal of the key, or a route without the dependency
        try:
            with anyio.CancelScope(shield=True):  # also when the request is being cancelled
                async with self.sessions() as session, session.begin():
                    if status is None or status >= 500:
                        # Nothing committed: free the key. Committed: it stays so, its lease ended at once
                        # (a repeat is told to read the resource rather than to wait).
                        await session.execute(delete(TABLE).where(self._this(), C.state == KeyState.in_progress))
                        await session.execute(update(TABLE).where(self._this(), C.state == KeyState.committed)
                                              .values(lease_until=wall_clock()))
                    else:
                        kept = [[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers if n in KEPT_HEADERS]
                        await session.execute(update(TABLE).where(self._this(), C.state != KeyState.done).values(
                            state=KeyState.done, response_status=status, response_headers=json.dumps(kept),
                            response_body=body))
        except Exception as exc:  # its lease or its `committed` state covers what was not written
            log.warning("idempotency key outcome not stored", error=type(exc).__name__, status=status)


_current: ContextVar[KeyedRequest | None] = ContextVar("idempotent_request", default=None)


def pending() -> KeyedRequest | None:
    """The keyed request this code runs for, if it holds its key and has not committed yet
    (``UnitOfWork.commit``: outside a keyed request, always None)."""
    request = _current.get()
    if request is None or request.claim is None or request.committed or request.finished:
        return None
    return request


class IdempotencyMiddleware:
    """Pure ASGI: around each changing request that carries the header, hold a
    :class:`KeyedRequest` for the dependency and the unit of work, capture the
    response, and store it (or release the key) before its last chunk is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in CHANGING
                or not any(name == b"idempotency-key" for name, _ in scope["headers"])):
            await self.app(scope, receive, send)
            return
        request = KeyedRequest()
        token = _current.set(request)
        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await request.finish(status, headers, b"".join(chunks))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await request.finish(None, [], b"")
            raise
        finally:
            request.finished = True  # a task it started cannot mark the key afterwards
            _current.reset(token)


# -- the dependency ----------------------------------------------------------------------------------

class Replay(Exception):
    """The first response of this key, answered instead of running the route again."""

    def __init__(self, response: Response) -> None:
        super().__init__("replay")
        self.response = response


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def idempotency_key(
    request: Request,
    caller: CallerDep,
    # Not `key`: FastAPI would take a parameter named like a path parameter for it.
    idempotency_key_value: Annotated[str | None, Header(
        alias=HEADER, min_length=1, max_length=KEY_MAX, pattern=KEY_PATTERN,
        description="Optional. Send the same key again (a retry, a double click) and get the first "
                    "response back, marked `Idempotent-Replayed: true`, with no second effect. Unique per "
                    "caller and request; kept IDEMPOTENCY_KEY_HOURS (24 h by default). The same key with "
                    "another body is a 422; while the first request runs, a 409 with Retry-After.",
        examples=["5f0c2b8e-1d2a-4c0e-9a57-3b1f0e6f9d42"],
    )] = None,
) -> None:
    """Claim the key for this request, or answer from it (replay, 409, 422)."""
    key = idempotency_key_value
    if key is None:
        return
    keyed = _current.get()
    if keyed is None or keyed.claim is not None:
        raise RuntimeError("IdempotencyMiddleware is not installed around this route")
    runtime = request.app.state.runtime
    settings: ServiceSettings = runtime.settings
    keyed.subject, keyed.key, keyed.sessions = caller.subject, key, runtime.sessions
    body = await request.body()  # already read by FastAPI: cached
    keyed.claim = await claim(
        runtime.sessions, subject=caller.subject, key=key, method=request.method, path=request.url.path,
        fingerprint=request_fingerprint(request.method, request.url.path, request.url.query, body),
        now=runtime.clock.now(), wall=wall_clock(), keep=timedelta(hours=settings.idempotency_key_hours),
        lease=timedelta(seconds=settings.idempotency_lease_seconds))


async def claim(sessions: async_sessionmaker[AsyncSession], *, subject: str, key: str, method: str, path: str,
                fingerprint: str, now: datetime, wall: datetime, keep: timedelta, lease: timedelta) -> uuid.UUID:
    """This request's claim on the key, in a transaction of its own; or raise the answer to give instead."""
    mine = uuid.uuid4()
    fresh = dict(claim=mine, state=KeyState.in_progress, method=method, path=path, fingerprint=fingerprint,
                 created_at=now, expires_at=now + keep, lease_until=wall + lease,
                 response_status=None, response_headers=None, response_body=None)
    for _ in range(5):  # a row deleted or taken over under us: look again
        async with sessions() as session, session.begin():
            row = (await session.execute(select(TABLE).where(C.subject == subject, C.key == key))).first()
            if row is None:
                if await _insert(session, dict(subject=subject, key=key, **fresh)):
                    return mine
                continue  # a concurrent first request inserted it: read it
            # Running: claimed or committed, its response not stored yet and its lease not over.
            running = row.state != KeyState.done and row.lease_until > wall
            if row.expires_at <= now and not running:
                pass  # expired: a new key
            elif row.fingerprint != fingerprint:
                log.info("idempotency key reused for another request", subject=subject, method=method, path=path)
                raise HTTPException(422, detail=[{
                    "type": "idempotency_key_reused", "loc": ["header", HEADER],
                    "msg": f"this {HEADER} was used for another request (method, path or body differ): "
                           "send a new key for a new request"}])
            elif row.state == KeyState.done:
                log.info("request answered from its idempotency key", subject=subject, method=method, path=path,
                         status=row.response_status)
                raise Replay(_replay(row))
            elif running:
                raise HTTPException(409, detail=f"a request with this {HEADER} is still being carried out; "
                                                "send it again once it ends",
                                    headers={"Retry-After": "1"})
            elif row.state == KeyState.committed:
                raise HTTPException(409, detail=f"the request with this {HEADER} was carried out, but its "
                                                "response was not kept: read the resource to see the result")
            # Expired, or claimed by a request that never committed and whose lease ran out: take it over.
            taken = await session.execute(update(TABLE).where(
                C.subject == subject, C.key == key, C.claim == row.claim, C.state == row.state).values(**fresh))
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                return mine
    raise HTTPException(409, detail=f"the {HEADER} is contended; send the request again",
                        headers={"Retry-After": "1"})


async def _insert(session: AsyncSession, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: False if another request holds the key. On PostgreSQL
    the insert waits for a concurrent one to commit; SQLite writers are serialised already."""
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    stmt = upsert(TABLE).values(**values).on_conflict_do_nothing(index_elements=["subject", "key"]).returning(C.claim)
    return (await session.execute(stmt)).first() is not None


def _replay(row: Any) -> Response:
    headers = {name: value for name, value in json.loads(row.response_headers or "[]")}
    headers[REPLAYED] = "true"
    return Response(content=row.response_body or b"", status_code=row.response_status, headers=headers)


# -- installing it -----------------------------------------------------------------------------------

IDEMPOTENT = Depends(idempotency_key)


def install(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Every changing route of ``routers`` takes the header (before they are included:
    FastAPI builds the included routes from theirs), and the middleware captures the responses."""
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.methods & CHANGING \
                    and not any(d is IDEMPOTENT for d in route.dependencies):
                # First, right after authentication: a repeat is answered before the route's own checks
                # look at today's state (a deleted contact's 404 is not the answer to its DELETE).
                route.dependencies.insert(0, IDEMPOTENT)
    app.add_middleware(IdempotencyMiddleware)

    async def replay(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Replay)
        return exc.response

    app.add_exception_handler(Replay, replay)


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    """Delete the keys expired by ``now`` (service clock) that no request still holds;
    return how many. Housekeeping: an expired key already acts as a new one."""
    result = await session.execute(delete(TABLE).where(
        C.expires_at <= now, or_(C.state == KeyState.done, C.lease_until <= wall_clock())))
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


# -- the migration (frozen, like create_audit_table_v1) ---------------------------------------------

def create_idempotency_table_v1() -> None:
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "idempotency_keys",
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("claim", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def drop_idempotency_table_v1() -> None:
    from alembic import op

    op.drop_index("ix_idempotency_keys_expires_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
