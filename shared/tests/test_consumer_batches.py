"""Group commit in the consumer, over the real broker, on SQLite and PostgreSQL.

Events waiting together in the queue reach the consumer together (prefetch 32)
and are handled in shared transactions (``jumelage.messaging.batch``). Each test
checks first that batches of more than one event really formed, then what must
hold: a failing event does not cost the others their effect, a message is acked
only once its effect is committed, and after a crash (before the commit, or
after it and before the acks) every event has its effect exactly once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import aio_pika
import pytest
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.message import RabbitMessage
from sqlalchemy import func, select

from effects import Effect, bump, count_rows, effects

from jumelage.db import UnitOfWork
from jumelage.events import CloudEvent, ConventionSuspended, InstitutionRegistered, new_envelope
from jumelage.messaging.batch import SharedTransaction
from jumelage.messaging.consumer import event_router
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.messaging.topology import ServiceQueue, Topology
from jumelage.testkit.servers import Database, delete_queues
from jumelage.testkit.services import Deliveries, deliveries
from jumelage.testkit.waiting import eventually


@pytest.fixture
def queue(namespace: str) -> ServiceQueue:
    return Topology(namespace=namespace, retry_delays=(0.1, 0.2)).service_queue("batches", ("institution.*",))


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many events each shared transaction committed (or tried to)."""
    sizes: list[int] = []
    original = SharedTransaction.commit_all

    async def commit_all(self: SharedTransaction) -> None:
        sizes.append(self.members)
        await original(self)

    monkeypatch.setattr(SharedTransaction, "commit_all", commit_all)
    return sizes


def envelopes(n: int, prefix: str = "Hospital") -> list[CloudEvent[Any]]:
    return [new_envelope(InstitutionRegistered(institution_id=uuid.uuid4(), name=f"{prefix} {i}", kind="hospital",
                                               country="DZ", city="Oran"), correlation_id=None, causation_id=None)
            for i in range(n)]


class Subscriber:
    """A service's subscriber wired as ServiceRuntime wires it, prefetch 32; the
    events are published first, so that they arrive together."""

    def __init__(self, amqp_url: str, sessions: Any, queue: ServiceQueue, handlers: dict,
                 unit_of_work: Any = None) -> None:
        self.amqp_url, self.queue = amqp_url, queue
        self.broker = RabbitBroker(amqp_url, default_channel=Channel(prefetch_count=32))
        self.broker.include_router(event_router(queue, handlers, unit_of_work=unit_of_work or (
            lambda: UnitOfWork(sessions)), broker=self.broker))

    async def declare(self) -> None:
        await self.broker.connect()
        await Topology(namespace=self.queue.exchange.removesuffix("jumelage.events")).declare(
            self.broker, [self.queue])

    async def publish(self, items: list[CloudEvent[Any]]) -> None:
        conn = await aio_pika.connect(self.amqp_url)
        try:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange(self.queue.exchange)
            for e in items:
                await ex.publish(aio_pika.Message(e.to_json().encode(), message_id=str(e.id),
                                                  delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                 routing_key="institution.registered")
        finally:
            await conn.close()

    async def dead_letters(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        got = []
        conn = await aio_pika.connect(self.amqp_url)
        try:
            dlq = await (await conn.channel()).get_queue(self.queue.dlq_name)
            while (msg := await dlq.get(fail=False)) is not None:
                await msg.ack()
                got.append(msg)
        finally:
            await conn.close()
        return got


@pytest.fixture
async def subscribers(amqp_url: str, queue: ServiceQueue) -> AsyncIterator[list[Subscriber]]:
    made: list[Subscriber] = []
    yield made
    for s in made:
        with suppress(Exception):
            await s.broker.stop()
    await delete_queues(amqp_url, [q.name for q in queue.all_queues()], exchanges=[queue.forward_exchange_name])


async def test_a_failing_event_in_a_batch_does_not_cost_the_others_their_effect(
    amqp_url: str, sessions: Any, queue: ServiceQueue, subscribers: list, batch_sizes: list[int]
) -> None:
    items = envelopes(24)
    bad = items[5].data.name

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        await bump(uow, event.data.name)
        uow.record(ConventionSuspended(convention_id=uuid.uuid4(), reason=event.data.name))
        if event.data.name == bad:
            raise RuntimeError("this one is broken")

    s = Subscriber(amqp_url, sessions, queue, {InstitutionRegistered: handle})
    subscribers.append(s)
    await s.declare()
    await s.publish(items)
    with deliveries() as seen:
        await s.broker.start()
        # Every event delivered and settled: the broken one three times (then dead-lettered).
        await eventually(lambda: seen.all_finished({str(e.id): 3 if e is items[5] else 1 for e in items}))
        await eventually(lambda: settled(seen, amqp_url, queue))

    good = {e.data.name for e in items} - {bad}
    dead = await s.dead_letters()

    assert max(batch_sizes) > 1, f"no batch formed: {batch_sizes}"
    assert await effects(sessions) == {name: 1 for name in good}, "each other event once, the broken one never"
    assert await count_rows(sessions, InboxRecord) == len(good)
    assert await count_rows(sessions, OutboxRecord) == len(good), "the events recorded by the others, once each"
    (letter,) = dead
    assert letter.message_id == str(items[5].id)
    assert letter.headers["x-error"] == "RuntimeError: this one is broken"
    assert letter.headers["x-attempts"] == 3


async def test_copies_of_an_event_in_one_batch_have_one_effect(
    amqp_url: str, sessions: Any, queue: ServiceQueue, subscribers: list, batch_sizes: list[int]
) -> None:
    items = envelopes(12)
    twice = items[3]
    calls: list[str] = []

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        calls.append(event.data.name)
        await bump(uow, event.data.name)

    s = Subscriber(amqp_url, sessions, queue, {InstitutionRegistered: handle})
    subscribers.append(s)
    await s.declare()
    await s.publish([*items[:6], twice, twice, *items[6:], twice])  # the same event id three times
    with deliveries() as seen:
        await s.broker.start()
        await eventually(lambda: seen.all_finished({str(e.id): 3 if e is twice else 1 for e in items}))
    names = {e.data.name for e in items}

    assert max(batch_sizes) > 1, f"no batch formed: {batch_sizes}"
    assert await effects(sessions) == {name: 1 for name in names}
    assert calls.count(twice.data.name) == 1, "the copies are duplicates, not handled again"
    assert await count_rows(sessions, InboxRecord) == len(items)


async def test_a_message_is_acked_only_after_its_batch_committed(
    amqp_url: str, sessions: Any, queue: ServiceQueue, subscribers: list, batch_sizes: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At each ack, the event's inbox row and effect are visible from another
    connection: committed, not merely written in an open transaction."""
    items = envelopes(40)
    by_id = {str(e.id): e.data.name for e in items}
    seen_at_ack: dict[str, tuple[bool, int]] = {}
    original_ack = RabbitMessage.ack

    async def ack(self: RabbitMessage, multiple: bool = False) -> None:
        event_id = self.raw_message.message_id or ""
        async with sessions() as other:
            inbox = await other.scalar(select(func.count()).select_from(InboxRecord)
                                       .where(InboxRecord.event_id == uuid.UUID(event_id)))
            effect = await other.get(Effect, by_id[event_id])
        seen_at_ack[event_id] = (inbox == 1, effect.count if effect else 0)
        await original_ack(self, multiple)

    monkeypatch.setattr(RabbitMessage, "ack", ack)

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        await bump(uow, event.data.name)

    s = Subscriber(amqp_url, sessions, queue, {InstitutionRegistered: handle})
    subscribers.append(s)
    await s.declare()
    await s.publish(items)
    await s.broker.start()
    await eventually(lambda: _at_least(lambda: len(seen_at_ack), len(items)))

    assert max(batch_sizes) > 1, f"no batch formed: {batch_sizes}"
    assert seen_at_ack == {str(e.id): (True, 1) for e in items}


async def _at_least(value: Any, n: int) -> bool:
    return value() >= n


async def waiting_for_a_lock(sessions: Any) -> bool:
    """Whether a backend waits for the row lock on r2 (the batch's handler does, behind us)."""
    from sqlalchemy import text

    async with sessions() as s:
        return bool(await s.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
            "AND query LIKE '%key = ''r2'' FOR UPDATE%'")))


async def settled(seen: Deliveries, amqp_url: str, queue: ServiceQueue) -> bool:
    return await seen.settled(amqp_url, [q.name for q in queue.all_queues() if q.name != queue.dlq_name])


class ProcessDied(BaseException):
    """What the first consumer's stalled code raises once it is "dead"."""


@pytest.mark.parametrize("crash", ["before_commit", "after_commit_before_acks"])
async def test_after_a_crash_every_event_has_its_effect_once(
    amqp_url: str, sessions: Any, queue: ServiceQueue, subscribers: list, batch_sizes: list[int],
    monkeypatch: pytest.MonkeyPatch, crash: str,
) -> None:
    """The first consumer dies (its broker connection closed, its database access
    gone) either before a batch commits or after the commit and before the acks;
    a second one gets the messages again: each event has its effect exactly once."""
    items = envelopes(20)
    stalled, resume = asyncio.Event(), asyncio.Event()
    dead = False
    original_commit = SharedTransaction.commit_all  # the recording one of batch_sizes
    original_ack = RabbitMessage.ack

    stalled_batch: list[int] = []
    handled_in: dict[str, int | None] = {}  # event -> the shared transaction it was handled in (last time)

    async def commit_all(self: SharedTransaction) -> None:
        if crash == "before_commit" and not stalled.is_set():
            stalled_batch.append(id(self))
            stalled.set()
            await resume.wait()
            raise ProcessDied  # the process is gone: this transaction never commits
        await original_commit(self)

    async def ack(self: RabbitMessage, multiple: bool = False) -> None:
        if crash == "after_commit_before_acks" and not dead:
            stalled.set()
            await resume.wait()
            raise ProcessDied  # committed, never acked
        await original_ack(self, multiple)

    original_close = SharedTransaction.close
    closed: set[int] = set()

    async def close(self: SharedTransaction) -> None:
        try:
            await original_close(self)
        finally:
            closed.add(id(self))

    monkeypatch.setattr(SharedTransaction, "commit_all", commit_all)
    monkeypatch.setattr(SharedTransaction, "close", close)
    monkeypatch.setattr(RabbitMessage, "ack", ack)

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        handled_in[event.data.name] = id(uow.transaction)  # a batch's, or one of its own
        await bump(uow, event.data.name)

    def first_unit_of_work() -> UnitOfWork:
        if dead:
            raise ConnectionError("this process is dead")
        return UnitOfWork(sessions)

    def in_stalled() -> set[str]:
        return {name for name, batch in handled_in.items() if batch in stalled_batch}

    first = Subscriber(amqp_url, sessions, queue, {InstitutionRegistered: handle}, first_unit_of_work)
    subscribers.append(first)
    await first.declare()
    await first.publish(items)
    await first.broker.start()
    await eventually(stalled.is_set)
    if crash == "before_commit":  # the stalled transaction holds a batch
        await eventually(lambda: len(in_stalled()) > 1)
    else:  # the first batch is committed, its acks held
        await eventually(lambda: effects(sessions))
    # The crash: the connection goes, every delivery unacked goes back to the queue.
    await first.broker._connection.close()  # type: ignore[union-attr]
    dead = True
    resume.set()
    await eventually(lambda: set(stalled_batch) <= closed)  # the stalled transactions ended (rolled back)
    committed_before = await effects(sessions)
    if crash == "before_commit":
        assert len(in_stalled()) > 1, "the stalled transaction held a batch"
        assert not in_stalled() & set(committed_before), "nothing of the stalled batch committed"
    else:
        assert committed_before, "the first batch committed before the crash"

    second = Subscriber(amqp_url, sessions, queue, {InstitutionRegistered: handle})
    subscribers.append(second)
    await second.declare()
    names = {e.data.name for e in items}
    with deliveries() as by_second:
        await second.broker.start()
        await eventually(lambda: _effects_cover(sessions, names))
        await eventually(lambda: settled(by_second, amqp_url, queue))  # every redelivery settled

    assert max(batch_sizes) > 1, f"no batch formed: {batch_sizes}"
    assert await effects(sessions) == {name: 1 for name in names}
    assert await count_rows(sessions, InboxRecord) == len(items)
    assert not await second.dead_letters()


async def _effects_cover(sessions: Any, names: set[str]) -> bool:
    return set(await effects(sessions)) >= names


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)  # row locks and deadlock detection
async def test_a_batch_that_loses_a_deadlock_sends_its_events_alone_without_spending_a_retry(
    amqp_url: str, sessions: Any, database: Database, queue: ServiceQueue, subscribers: list,
    batch_sizes: list[int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A handler in a batch deadlocks with another transaction (PostgreSQL picks the
    batch as the victim): its event is handled again alone at once, not sent to a
    retry queue; every event has its effect once."""
    assert database.kind == "postgresql"
    from sqlalchemy import text

    from jumelage.messaging.consumer import EventConsumer

    forwarded: list[str] = []
    original_forward = EventConsumer._forward

    async def forward(self: EventConsumer, raw: Any, queue_name: str, headers: dict[str, Any]) -> None:
        forwarded.append(queue_name)
        await original_forward(self, raw, queue_name, headers)

    monkeypatch.setattr(EventConsumer, "_forward", forward)
    async with sessions() as s, s.begin():
        s.add_all([Effect(key="r1", count=0), Effect(key="r2", count=0)])
    items = envelopes(8)
    locker = items[2].data.name
    holds_r1 = asyncio.Event()
    calls: list[str] = []

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        calls.append(event.data.name)
        if event.data.name == locker:
            await uow.session.execute(text("SELECT 1 FROM effect WHERE key = 'r1' FOR UPDATE"))
            holds_r1.set()
            await uow.session.execute(text("SELECT 1 FROM effect WHERE key = 'r2' FOR UPDATE"))
        await bump(uow, event.data.name)

    async with sessions() as other:
        await other.begin()
        await other.execute(text("SELECT 1 FROM effect WHERE key = 'r2' FOR UPDATE"))
        s = Subscriber(amqp_url, sessions, queue, {InstitutionRegistered: handle})
        subscribers.append(s)
        await s.declare()
        await s.publish(items)
        with deliveries() as seen:
            await s.broker.start()
            await eventually(holds_r1.is_set)
            # The batch now waits for our r2 (PostgreSQL says so), and we for its r1: a deadlock.
            await eventually(lambda: waiting_for_a_lock(sessions))
            await other.execute(text("SELECT 1 FROM effect WHERE key = 'r1' FOR UPDATE"))
            await other.commit()
            await eventually(lambda: seen.all_finished({str(e.id): 1 for e in items}))

    names = {e.data.name for e in items}
    await eventually(lambda: _effects_cover(sessions, names))

    assert batch_sizes, "a batch formed"
    assert {k: v for k, v in (await effects(sessions)).items() if k in names} == {n: 1 for n in names}
    assert calls.count(locker) == 2, "once in the batch (the deadlock victim), once alone"
    assert await count_rows(sessions, InboxRecord) == len(items)
    assert forwarded == [], "no retry spent, nothing dead-lettered"
