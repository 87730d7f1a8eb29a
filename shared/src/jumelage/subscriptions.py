"""Topic-based subscriptions over HTTP, for partners without AMQP access (after FHIR's).

A partner (a token with the role ``subscriber``, or an administrator) creates a
subscription on a service: its **topic** is a list of routing-key patterns
(``institution.*``, ``convention.signed``; AMQP topic rules). From then on every
event the service publishes whose routing key matches is given the subscription's
next **event number** (1, 2, 3, ...: FHIR's ``eventsSinceSubscriptionStart``), and
the partner pulls them:

    GET /subscriptions/{id}/events?since=41&wait=60

answers the events numbered 42 on, each with its number and its CloudEvent as
published (same id: a partner deduplicates on it), in an ``event-notification``;
when none comes within ``wait`` seconds (at most the subscription's
``heartbeat_period``) it answers a ``heartbeat`` with the counter. A partner that
finds a number missing (the first it gets is past ``since + 1``, or the counter is
past what it has) knows it has a gap: the events it missed are those the service
no longer keeps (older than ``OUTBOX_KEEP_DAYS``, the replay window) and it must
resynchronise otherwise (read the resources).

How it is kept: a periodic job of every service (``match``, every
``SUBSCRIPTION_MATCH_SECONDS``) walks the published outbox past each
subscription's cursor, in sequence order, and writes a row (subscription,
number, outbox seq) per matching event, in one transaction with the counter and
the cursor (two replicas: the subscriptions' rows are locked ``FOR UPDATE``, and
(subscription, number) is the primary key). It numbers only events published at
least ``SUBSCRIPTION_SETTLE_SECONDS`` ago and stops at the first one not yet
published, so an event committed late, with an earlier sequence number, is not
skipped. The events themselves are read from the outbox; the rows are pruned
with it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import BigInteger, Column, Index, Integer, String, delete, func, insert, select, update
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from jumelage.api import Command, Limit, Offset
from jumelage.auth import Caller, CallerDep, Role, deny, require
from jumelage.columns import UtcDateTime
from jumelage.errors import Conflict, NotFound
from jumelage.logging import get_logger
from jumelage.messaging.tables import OutboxRecord
from jumelage.replay import MAX_PATTERN_LENGTH, MAX_PATTERNS, check_patterns, topic_matches

log = get_logger(__name__)

MAX_SUBSCRIPTIONS = 100
"""Active subscriptions a service keeps at most (a new one past them is a 409)."""
MATCH_BATCH = 2000
"""Outbox rows one pass of the matcher reads at most."""
MAX_WAIT_SECONDS = 60
MAX_EVENT_NUMBER = 10**15


class SubscriptionRecord(SQLModel, table=True):
    __tablename__ = "event_subscription"
    __table_args__ = (Index("ix_event_subscription_owner", "owner"),)

    id: uuid.UUID = SQLField(primary_key=True)
    owner: str = SQLField(sa_column=Column(String(256), nullable=False))
    topic: str = SQLField(sa_column=Column(String(5000), nullable=False), description="JSON: the patterns")
    description: str | None = SQLField(default=None, sa_column=Column(String(300)))
    heartbeat_seconds: int = SQLField(sa_column=Column(Integer, nullable=False))
    created_at: datetime = SQLField(sa_column=Column(UtcDateTime(), nullable=False))
    start_seq: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    cursor_seq: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    events_since_start: int = SQLField(sa_column=Column(BigInteger, nullable=False))


class SubscriptionEventRecord(SQLModel, table=True):
    __tablename__ = "event_subscription_event"
    __table_args__ = (Index("ix_event_subscription_event_published", "published_at"),)

    subscription_id: uuid.UUID = SQLField(primary_key=True)
    number: int = SQLField(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    seq: int = SQLField(sa_column=Column(BigInteger, nullable=False))
    published_at: datetime = SQLField(sa_column=Column(UtcDateTime(), nullable=False))


SUBSCRIPTION = SubscriptionRecord.__table__
NUMBERED = SubscriptionEventRecord.__table__


# -- the migration (frozen, like create_audit_table_v1) ----------------------------------------------

def create_subscription_tables_v1() -> None:
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "event_subscription",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("topic", sa.String(5000), nullable=False),
        sa.Column("description", sa.String(300), nullable=True),
        sa.Column("heartbeat_seconds", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_seq", sa.BigInteger(), nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), nullable=False),
        sa.Column("events_since_start", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_event_subscription_owner", "event_subscription", ["owner"])
    op.create_table(
        "event_subscription_event",
        sa.Column("subscription_id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_event_subscription_event_published", "event_subscription_event", ["published_at"])


def drop_subscription_tables_v1() -> None:
    from alembic import op

    op.drop_index("ix_event_subscription_event_published", table_name="event_subscription_event")
    op.drop_table("event_subscription_event")
    op.drop_index("ix_event_subscription_owner", table_name="event_subscription")
    op.drop_table("event_subscription")


# -- numbering the published events (the periodic job) --------------------------------------------

async def any_subscription(read_sessions: Any) -> bool:
    async with read_sessions() as session:
        return (await session.scalar(select(SUBSCRIPTION.c.id).limit(1))) is not None


async def match(uow: Any, *, now: datetime, settle_seconds: float) -> int:
    """Number, for each subscription, the events published since its cursor that match
    its topic; how many numbers were given."""
    outbox = OutboxRecord.__table__.c
    given = 0
    async with uow:
        session = uow.session
        subs = list((await session.execute(
            select(SUBSCRIPTION).order_by(SUBSCRIPTION.c.id).limit(MAX_SUBSCRIPTIONS).with_for_update())).all())
        if not subs:
            return 0
        low = min(s.cursor_seq for s in subs)
        rows = (await session.execute(
            select(outbox.seq, outbox.routing_key, outbox.published_at).where(outbox.seq > low)
            .order_by(outbox.seq).limit(MATCH_BATCH))).all()
        settled_before = now - timedelta(seconds=settle_seconds)
        settled = []
        for row in rows:
            if row.published_at is None or _aware(row.published_at) > settled_before:
                break  # in order, or an event committed late with an earlier number would be skipped
            settled.append(row)
        if not settled:
            return 0
        last = settled[-1].seq
        for sub in subs:
            if sub.cursor_seq >= last:
                continue
            patterns = json.loads(sub.topic)
            number = sub.events_since_start
            numbered = []
            for row in settled:
                if row.seq > sub.cursor_seq and topic_matches(patterns, row.routing_key):
                    number += 1
                    numbered.append({"subscription_id": sub.id, "number": number, "seq": row.seq,
                                     "published_at": row.published_at})
            if numbered:
                await session.execute(insert(NUMBERED), numbered)
            await session.execute(update(SUBSCRIPTION).where(SUBSCRIPTION.c.id == sub.id)
                                  .values(cursor_seq=last, events_since_start=number))
            given += len(numbered)
        await uow.commit()
    return given


async def prune_numbers(sessions: Any, *, now: datetime, keep_days: float, batch: int = 5000) -> int:
    """Delete the numbered events older than the replay window (their outbox rows go too)."""
    before = now - timedelta(days=keep_days)
    old = (select(NUMBERED.c.subscription_id, NUMBERED.c.number).where(NUMBERED.c.published_at < before)
           .limit(batch))
    from sqlalchemy import tuple_

    statement = delete(NUMBERED).where(tuple_(NUMBERED.c.subscription_id, NUMBERED.c.number).in_(old))
    total = 0
    while True:
        async with sessions() as session, session.begin():
            deleted = (await session.execute(statement)).rowcount or 0
        total += deleted
        if deleted < batch:
            return total


# -- the HTTP API --------------------------------------------------------------------------------------

Pattern = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATTERN_LENGTH, strip_whitespace=True)]


class SubscriptionRequest(Command):
    """A new subscription: which events (routing-key patterns), and the heartbeat."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"topic": ["institution.*", "convention.signed"], "heartbeat_period": 60,
         "description": "partner hospital information system"}]})

    topic: list[Pattern] = Field(
        min_length=1, max_length=MAX_PATTERNS,
        description="routing-key patterns (AMQP topic rules: * one word, # any words), e.g. convention.* or #")
    heartbeat_period: int = Field(
        default=60, ge=1, le=3600,
        description="seconds: a pull that waits finds a heartbeat at least this often when nothing happens")
    description: str | None = Field(default=None, min_length=1, max_length=300, description="what it is for")

    @field_validator("topic")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        return list(check_patterns(value))


class SubscriptionStatus(BaseModel):
    """A subscription and its counter (FHIR's SubscriptionStatus)."""

    id: uuid.UUID
    type: Literal["handshake", "query-status"] = Field(description="handshake: just created")
    status: Literal["active"] = "active"
    owner: str
    topic: list[str]
    description: str | None
    heartbeat_period: int
    created_at: datetime
    events_since_subscription_start: int = Field(
        description="events numbered so far (FHIR's eventsSinceSubscriptionStart): the last event's number")


class SubscriptionPage(BaseModel):
    items: list[SubscriptionStatus]
    total: int
    limit: int
    offset: int


class NumberedEvent(BaseModel):
    event_number: int = Field(description="its number in this subscription: 1, 2, 3, ...")
    event: dict[str, Any] = Field(description="the CloudEvent as published (structured JSON)")


class SubscriptionNotification(BaseModel):
    """What a pull answers: the events since the number asked, or a heartbeat."""

    type: Literal["event-notification", "heartbeat"]
    subscription: uuid.UUID
    status: Literal["active"] = "active"
    topic: list[str]
    heartbeat_period: int
    events_since_subscription_start: int = Field(
        description="the counter: a number past the last event received means events were missed")
    events: list[NumberedEvent]


SubscriptionId = Annotated[uuid.UUID, Path(description="the subscription's id")]

may_subscribe = require(Role.administrator, Role.subscriber, to="subscribe to events")


def _status(row: Any, kind: Literal["handshake", "query-status"] = "query-status") -> SubscriptionStatus:
    return SubscriptionStatus(id=row.id, type=kind, owner=row.owner, topic=json.loads(row.topic),
                              description=row.description, heartbeat_period=row.heartbeat_seconds,
                              created_at=_aware(row.created_at), events_since_subscription_start=row.events_since_start)


async def _own(session: Any, caller: Caller, subscription_id: uuid.UUID, what: str) -> Any:
    row = (await session.execute(select(SUBSCRIPTION).where(SUBSCRIPTION.c.id == subscription_id))).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    if row.owner != caller.subject and not caller.has(Role.administrator):
        raise deny(caller, f"{what} subscription {subscription_id} (it is {row.owner}'s)")
    return row


async def _unit_of_work(request: Request, caller: CallerDep) -> Any:
    """The request's unit of work (audited on a change), as ``jumelage.service.unit_of_work``
    gives it, from the running service (which imports this module)."""
    return request.app.state.runtime.request_unit_of_work(request, caller)


Uow = Annotated[Any, Depends(_unit_of_work)]


def subscriptions_router() -> APIRouter:
    router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], dependencies=[may_subscribe])

    @router.post("", status_code=201, response_model=SubscriptionStatus,
                 summary="Subscribe to this service's events (subscribers, administrators)")
    async def create(body: SubscriptionRequest, caller: CallerDep, uow: Uow) -> SubscriptionStatus:
        outbox = OutboxRecord.__table__.c
        async with uow:
            active = await uow.session.scalar(select(func.count()).select_from(SUBSCRIPTION))
            if (active or 0) >= MAX_SUBSCRIPTIONS:
                raise Conflict(f"this service keeps {MAX_SUBSCRIPTIONS} subscriptions at most: delete one first")
            start = await uow.session.scalar(select(func.max(outbox.seq))) or 0
            values = {"id": uuid.uuid4(), "owner": caller.subject, "topic": json.dumps(body.topic),
                      "description": body.description, "heartbeat_seconds": body.heartbeat_period,
                      "created_at": datetime.now(UTC), "start_seq": start, "cursor_seq": start,
                      "events_since_start": 0}
            await uow.session.execute(insert(SUBSCRIPTION), values)
            uow.actor = uow.actor and _target(uow.actor, values["id"])
            await uow.commit()
        log.info("subscription created", subscription=str(values["id"]), topic=body.topic)
        return _status(_Row(values), "handshake")

    @router.get("", response_model=SubscriptionPage,
                summary="The caller's subscriptions (an administrator's: every one)")
    async def listed(request: Request, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> SubscriptionPage:
        where = [] if caller.has(Role.administrator) else [SUBSCRIPTION.c.owner == caller.subject]
        async with request.app.state.runtime.read_sessions() as session:
            total = await session.scalar(select(func.count()).select_from(SUBSCRIPTION).where(*where))
            rows = (await session.execute(select(SUBSCRIPTION).where(*where).order_by(SUBSCRIPTION.c.created_at,
                                                                                      SUBSCRIPTION.c.id)
                                          .limit(limit).offset(offset))).all()
        return SubscriptionPage(items=[_status(r) for r in rows], total=total or 0, limit=limit, offset=offset)

    @router.get("/{subscription_id}", response_model=SubscriptionStatus,
                summary="A subscription's status and counter (FHIR's $status)")
    async def status(request: Request, caller: CallerDep, subscription_id: SubscriptionId) -> SubscriptionStatus:
        async with request.app.state.runtime.read_sessions() as session:
            return _status(await _own(session, caller, subscription_id, "read"))

    @router.get("/{subscription_id}/events", response_model=SubscriptionNotification,
                summary="The events numbered after `since`, or a heartbeat when none comes within `wait`")
    async def events(
        request: Request, caller: CallerDep, subscription_id: SubscriptionId,
        since: Annotated[int, Query(ge=0, le=MAX_EVENT_NUMBER,
                                    description="the last event number received (0: from the start)")] = 0,
        limit: Limit = 100,
        wait: Annotated[int, Query(ge=0, le=MAX_WAIT_SECONDS, description=(
            "seconds to wait for an event when none is there yet, at most the subscription's heartbeat period; "
            "then a heartbeat"))] = 0,
    ) -> SubscriptionNotification:
        runtime = request.app.state.runtime
        began = time.monotonic()
        while True:
            async with runtime.read_sessions() as session:
                row = await _own(session, caller, subscription_id, "read the events of")
                numbered = (await session.execute(
                    select(NUMBERED.c.number, OutboxRecord.__table__.c.envelope)
                    .join(OutboxRecord.__table__, OutboxRecord.__table__.c.seq == NUMBERED.c.seq)
                    .where(NUMBERED.c.subscription_id == subscription_id, NUMBERED.c.number > since)
                    .order_by(NUMBERED.c.number).limit(limit))).all()
            deadline = min(wait, row.heartbeat_seconds)
            if numbered or time.monotonic() - began >= deadline:
                break
            await asyncio.sleep(min(0.25, max(0.0, deadline - (time.monotonic() - began))))
        return SubscriptionNotification(
            type="event-notification" if numbered else "heartbeat", subscription=row.id,
            topic=json.loads(row.topic), heartbeat_period=row.heartbeat_seconds,
            events_since_subscription_start=max([row.events_since_start, *(n.number for n in numbered)]),
            events=[NumberedEvent(event_number=n.number, event=json.loads(n.envelope)) for n in numbered])

    @router.delete("/{subscription_id}", status_code=204, summary="End a subscription")
    async def end(caller: CallerDep, subscription_id: SubscriptionId, uow: Uow) -> Response:
        async with uow:
            await _own(uow.session, caller, subscription_id, "end")
            await uow.session.execute(delete(NUMBERED).where(NUMBERED.c.subscription_id == subscription_id))
            await uow.session.execute(delete(SUBSCRIPTION).where(SUBSCRIPTION.c.id == subscription_id))
            await uow.commit()
        return Response(status_code=204)

    return router


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _target(actor: Any, subscription_id: uuid.UUID) -> Any:
    from dataclasses import replace

    return replace(actor, target=f"/subscriptions/{subscription_id}")


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
