"""The messaging core over the real broker, on SQLite and PostgreSQL.

Outbox atomicity, relay recovery after a broker outage, idempotent consumption,
poison messages and bounded retries, each observed from outside (a queue bound
to the exchange, the dead-letter queue, the database).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import pytest
from faststream.rabbit import Channel, RabbitBroker
from sqlalchemy import func, select
from yarl import URL

from effects import Effect, bump, count_rows, effect_of

from jumelage.db import UnitOfWork, create_engine, session_factory
from jumelage.events import CONTENT_TYPE, CloudEvent, InstitutionRegistered, new_envelope
from jumelage.messaging.consumer import Rejected, event_router
from jumelage.messaging.outbox import OutboxRelay
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.messaging.topology import ServiceQueue, Topology
from jumelage.testkit.servers import Database, TcpProxy, delete_queues
from jumelage.testkit.tap import event_tap
from jumelage.testkit.waiting import eventually


def passes_of(relay: OutboxRelay) -> dict[str, int]:
    """Count the relay's passes as its loop makes them, those that failed apart."""
    passes = {"done": 0, "failed": 0}
    original = relay.relay_once

    async def counted() -> int:
        try:
            sent = await original()
        except Exception:
            passes["failed"] += 1
            raise
        passes["done"] += 1
        return sent

    relay.relay_once = counted  # type: ignore[method-assign]
    return passes


def institution(name: str = "CMCI Bousmail") -> InstitutionRegistered:
    return InstitutionRegistered(institution_id=uuid.uuid4(), name=name, kind="clinic", country="DZ", city="Bou Ismail")


async def recorded(sessions: Any, n: int) -> list[str]:
    """``n`` institutions registered, each in a transaction of its own; their event ids in order."""
    ids = []
    for i in range(n):
        async with UnitOfWork(sessions) as uow:
            ids.append(str(uow.record(institution(f"Hospital {i}")).id))
            await uow.commit()
    return ids


# -- outbox ---------------------------------------------------------------------


async def test_rolled_back_transaction_leaves_neither_state_nor_event(
    sessions: Any, amqp_url: str, namespace: str
) -> None:
    topology = Topology(namespace=namespace)
    broker = RabbitBroker(amqp_url)
    relay = OutboxRelay(sessions, broker, name="t", exchange=topology.exchange)
    await broker.connect()
    try:
        async with event_tap(amqp_url, topology.exchange_name) as tap:
            with pytest.raises(RuntimeError, match="refused"):
                async with UnitOfWork(sessions) as uow:
                    await bump(uow, "rolled-back")
                    uow.record(institution("Never Registered"))
                    raise RuntimeError("refused before commit")
            assert await count_rows(sessions, Effect) == 0
            assert await count_rows(sessions, OutboxRecord) == 0

            async with UnitOfWork(sessions) as uow:
                await bump(uow, "committed")
                sent = uow.record(institution("CHU Oran"))
                await uow.commit()
            assert await relay.relay_once() == 1
            # Published in commit order: once a later event is here, anything else would be too.
            async with UnitOfWork(sessions) as uow:
                later = uow.record(institution("Later"))
                await uow.commit()
            assert await relay.relay_once() == 1
            await tap.wait_for(lambda bodies: str(later.id) in [b["id"] for b in bodies])
            assert [b["id"] for b in tap.bodies()] == [str(sent.id), str(later.id)]
            msg = tap.messages[0]
            assert msg.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert msg.content_type == CONTENT_TYPE
            assert msg.message_id == str(sent.id)
            assert msg.correlation_id == sent.correlationid
            assert msg.type == "InstitutionRegistered"
            assert msg.routing_key == "institution.registered"
            assert tap.bodies()[0]["data"]["name"] == "CHU Oran"
        async with sessions() as s:
            rows = list(await s.scalars(select(OutboxRecord).order_by(OutboxRecord.seq)))
        assert [r.event_id for r in rows] == [sent.id, later.id], "nothing of the rolled-back transaction"
        assert all(r.published_at is not None for r in rows)
        assert await effect_of(sessions, "committed") == 1
    finally:
        await broker.stop()


async def test_relay_publishes_in_commit_order_and_wakes_on_commit(
    sessions: Any, amqp_url: str, namespace: str
) -> None:
    topology = Topology(namespace=namespace)
    broker = RabbitBroker(amqp_url)
    # A poll far longer than the test: only the wake-up after commit can deliver in time.
    relay = OutboxRelay(sessions, broker, name="t", exchange=topology.exchange, poll_interval=3600, batch_size=7)
    passes = passes_of(relay)
    await broker.connect()
    relay.start()
    try:
        async with event_tap(amqp_url, topology.exchange_name) as tap:
            await eventually(lambda: passes["done"] >= 1)  # the relay's first, empty pass: it now sleeps
            ids = []
            for i in range(25):
                async with UnitOfWork(sessions, on_commit=relay.wake) as uow:
                    ids.append(str(uow.record(institution(f"Hospital {i}")).id))
                    await uow.commit()
            await tap.wait_for(lambda bodies: len(bodies) >= 25)
            assert [b["id"] for b in tap.bodies()] == ids
    finally:
        await relay.stop()
        await broker.stop()


async def test_relay_resumes_after_broker_outage_and_loses_nothing(
    sessions: Any, amqp_url: str, namespace: str
) -> None:
    topology = Topology(namespace=namespace)
    target = URL(amqp_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5672)
    port = await proxy.start()
    broker = RabbitBroker(str(target.with_port(port)), reconnect_interval=0.2)
    relay = OutboxRelay(sessions, broker, name="t", exchange=topology.exchange, poll_interval=0.2,
                        confirm_timeout=2.0, max_backoff=0.5)
    passes = passes_of(relay)
    await broker.connect()
    relay.start()

    async def write(n: int, prefix: str) -> list[str]:
        ids = []
        for i in range(n):
            async with UnitOfWork(sessions, on_commit=relay.wake) as uow:
                ids.append(str(uow.record(institution(f"{prefix} {i}")).id))
                await uow.commit()
        return ids

    try:
        async with event_tap(amqp_url, topology.exchange_name) as tap:  # direct, not through the proxy
            before = await write(20, "before")
            await tap.wait_for(lambda bodies: len(bodies) >= 20)

            await proxy.cut()
            failed_before = passes["failed"]
            during = await write(30, "during")
            await eventually(lambda: passes["failed"] >= failed_before + 2)  # the relay tried, failed, backed off
            async with sessions() as s:
                pending = await s.scalar(
                    select(func.count()).select_from(OutboxRecord).where(OutboxRecord.published_at.is_(None))
                )
            assert pending == 30, "rows written while the broker is away wait in the outbox"

            await proxy.restore()
            await tap.wait_for(lambda bodies: {b["id"] for b in bodies} >= set(before + during))
            received = [b["id"] for b in tap.bodies()]
            assert set(received) == set(before + during)
            # Order holds for what was first published after the outage.
            first_seen = list(dict.fromkeys(received))
            assert first_seen == before + during
        await eventually(lambda: _all_published(sessions))
    finally:
        await relay.stop()
        await broker.stop()
        await proxy.cut()


@pytest.mark.parametrize("batch_size", [40, 10], ids=["one batch", "four batches in one transaction"])
async def test_relay_marks_only_the_confirmed_leading_run_and_sends_the_rest_again_in_order(
    sessions: Any, amqp_url: str, namespace: str, batch_size: int
) -> None:
    """40 rows in one relay transaction (one batch, or four read one after the other while
    the last one's confirms come back), marked as their confirms come back: when row 25
    fails, exactly rows 1-24 are marked published, row 25 carries the attempt and its
    error, and the rest stay pending (sent again, in order, by the next transaction)."""
    topology = Topology(namespace=namespace)
    broker = RabbitBroker(amqp_url)

    class FailingAt(OutboxRelay):
        fail_seq: int | None = None

        async def _publish(self, row: Any) -> Any:
            if row.seq == self.fail_seq:
                raise ConnectionError("broker went away")
            return await super()._publish(row)

    relay = FailingAt(sessions, broker, name="t", exchange=topology.exchange, batch_size=batch_size)
    await broker.connect()
    try:
        async with event_tap(amqp_url, topology.exchange_name) as tap:
            ids = await recorded(sessions, 40)
            async with sessions() as s:
                seqs = list(await s.scalars(select(OutboxRecord.seq).order_by(OutboxRecord.seq)))
            relay.fail_seq = seqs[24]
            with pytest.raises(Exception, match="published 24 of 40"):
                await relay.relay_once()
            async with sessions() as s:
                rows = list(await s.scalars(select(OutboxRecord).order_by(OutboxRecord.seq)))
            assert [r.published_at is not None for r in rows] == [True] * 24 + [False] * 16
            assert (rows[24].attempts, "broker went away" in (rows[24].last_error or "")) == (1, True)
            assert all(r.attempts == 0 for r in rows[25:])
            await tap.wait_for(lambda bodies: len(bodies) >= 24)
            assert [b["id"] for b in tap.bodies()][:24] == ids[:24], "in order"

            relay.fail_seq = None
            assert await relay.relay_once() == 16
            await tap.wait_for(lambda bodies: ids[-1] in [b["id"] for b in bodies])
            seen = [b["id"] for b in tap.bodies()]
            assert set(seen) == set(ids)
            assert seen[-16:] == ids[24:], "the rest in order, after what went before"
        assert await _all_published(sessions)
    finally:
        await broker.stop()


async def _all_published(sessions: Any) -> bool:
    async with sessions() as s:
        pending = await s.scalar(
            select(func.count()).select_from(OutboxRecord).where(OutboxRecord.published_at.is_(None))
        )
    return pending == 0


# -- consumer ---------------------------------------------------------------------


class Consumer:
    """A service's subscriber wired the way ServiceRuntime wires it, with test handlers."""

    def __init__(self, amqp_url: str, sessions: Any, queue: ServiceQueue, handlers: dict) -> None:
        self.broker = RabbitBroker(amqp_url, default_channel=Channel(prefetch_count=1))
        self.broker.include_router(event_router(queue, handlers, unit_of_work=lambda: UnitOfWork(sessions),
                                                broker=self.broker))
        self.queue = queue
        self.topology = Topology(namespace=queue.exchange.removesuffix("jumelage.events"),
                                 retry_delays=queue.retry_delays)

    async def __aenter__(self) -> Consumer:
        await self.broker.connect()
        await self.topology.declare(self.broker, [self.queue])
        await self.broker.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.broker.stop()
        await delete_queues(self.broker_url, [q.name for q in self.queue.all_queues()],
                            exchanges=[self.queue.forward_exchange_name])

    @property
    def broker_url(self) -> str:
        return self._url

    async def publish(self, body: bytes | str, routing_key: str = "institution.registered", **props: Any) -> None:
        conn = await aio_pika.connect(self._url)
        try:
            ch = await conn.channel()
            ex = await ch.get_exchange(self.queue.exchange)
            raw = body.encode() if isinstance(body, str) else body
            await ex.publish(aio_pika.Message(raw, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **props),
                             routing_key=routing_key)
        finally:
            await conn.close()

    async def dead_letters(self, expected: int, timeout: float = 60.0) -> list[aio_pika.abc.AbstractIncomingMessage]:
        got: list[aio_pika.abc.AbstractIncomingMessage] = []
        conn = await aio_pika.connect(self._url)
        try:
            ch = await conn.channel()
            dlq = await ch.get_queue(self.queue.dlq_name)

            async def fetch() -> bool:
                msg = await dlq.get(fail=False)
                if msg is not None:
                    await msg.ack()
                    got.append(msg)
                return len(got) >= expected

            await eventually(fetch, timeout=timeout)
            # A poison probe published after everything else is dead-lettered at once, behind
            # anything dead-lettered before it: nothing but the probe may be left in the queue.
            probe = f"probe {uuid.uuid4()}: not an event".encode()
            await self.publish(probe)
            extra: list[bytes] = []

            async def probe_arrived() -> bool:
                msg = await dlq.get(fail=False)
                if msg is not None:
                    await msg.ack()
                    if msg.body == probe:
                        return True
                    extra.append(msg.body)
                return False

            await eventually(probe_arrived, timeout=timeout)
            assert not extra, f"unexpected dead letters: {[b[:200] for b in extra]!r}"
        finally:
            await conn.close()
        return got


@pytest.fixture
def consumer_factory(amqp_url: str, namespace: str, sessions: Any) -> Any:
    def make(handlers: dict, bindings: tuple[str, ...] = ("institution.*",)) -> Consumer:
        queue = Topology(namespace=namespace, retry_delays=(0.1, 0.2)).service_queue("probe", bindings)
        c = Consumer(amqp_url, sessions, queue, handlers)
        c._url = amqp_url
        return c

    return make


async def test_duplicate_delivery_has_one_effect(sessions: Any, consumer_factory: Any) -> None:
    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        await bump(uow, event.data.name)

    envelope = new_envelope(institution("Twice Delivered"), correlation_id=None, causation_id=None)
    sentinel = new_envelope(institution("Sentinel"), correlation_id=None, causation_id=None)
    async with consumer_factory({InstitutionRegistered: handle}) as consumer:
        for _ in range(3):
            await consumer.publish(envelope.to_json(), message_id=str(envelope.id))
        await consumer.publish(sentinel.to_json())
        # prefetch 1: once the sentinel is handled, every copy before it was settled.
        await eventually(lambda: effect_of(sessions, "Sentinel"))
    assert await effect_of(sessions, "Twice Delivered") == 1
    assert await count_rows(sessions, InboxRecord) == 2


async def test_concurrent_duplicates_have_one_effect(sessions: Any) -> None:
    """Two replicas handling the same event at once: the inbox key lets one through."""

    async def handle(uow: UnitOfWork, event_id: uuid.UUID) -> bool:
        async with uow:
            if not await uow.mark_handled("probe.events", event_id):
                return False
            await bump(uow, "concurrent")
            await asyncio.sleep(0.05)
            await uow.commit()
        return True

    event_id = uuid.uuid4()
    results = await asyncio.gather(*(handle(UnitOfWork(sessions), event_id) for _ in range(4)),
                                   return_exceptions=True)
    assert sum(r is True for r in results) == 1, results
    assert await effect_of(sessions, "concurrent") == 1


async def test_poison_messages_are_dead_lettered_with_reason_and_queue_goes_on(
    sessions: Any, consumer_factory: Any
) -> None:
    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        await bump(uow, event.data.name)

    valid = new_envelope(institution("After The Poison"), correlation_id=None, causation_id=None)
    missing_name = json.loads(new_envelope(institution("x"), correlation_id=None, causation_id=None).to_json())
    del missing_name["data"]["name"]
    async with consumer_factory({InstitutionRegistered: handle}) as consumer:
        await consumer.publish(b"\x00not json at all")
        await consumer.publish(json.dumps({**missing_name, "type": "InstitutionDemolished"}))
        await consumer.publish(json.dumps(missing_name))
        await consumer.publish(valid.to_json())
        await eventually(lambda: effect_of(sessions, "After The Poison"))
        dead = await consumer.dead_letters(3)
    reasons = [m.headers["x-error"] for m in dead]
    assert "not JSON" in reasons[0]
    assert "unknown event type 'InstitutionDemolished'" in reasons[1]
    assert "data.name" in reasons[2]
    assert all(m.headers["x-original-routing-key"] == "institution.registered" for m in dead)
    assert dead[2].body == json.dumps(missing_name).encode(), "the dead letter is the message as received"


async def test_failing_handler_is_retried_then_dead_lettered(sessions: Any, consumer_factory: Any) -> None:
    calls: list[float] = []

    async def broken(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        calls.append(asyncio.get_running_loop().time())
        await bump(uow, "half-written")  # must be rolled back every time
        raise RuntimeError("registry unavailable")

    envelope = new_envelope(institution("Unlucky"), correlation_id=None, causation_id=None)
    async with consumer_factory({InstitutionRegistered: broken}) as consumer:
        await consumer.publish(envelope.to_json(), message_id=str(envelope.id))
        dead = await consumer.dead_letters(1)
    assert len(calls) == 3, "one delivery and one per retry delay (0.1 s, 0.2 s)"
    assert calls[1] - calls[0] >= 0.09 and calls[2] - calls[1] >= 0.19, "growing delays"
    assert dead[0].headers["x-attempts"] == 3
    assert dead[0].headers["x-error"] == "RuntimeError: registry unavailable"
    assert json.loads(dead[0].body)["id"] == str(envelope.id)
    assert await effect_of(sessions, "half-written") == 0
    assert await count_rows(sessions, InboxRecord) == 0


async def test_handler_that_recovers_has_its_effect_once(sessions: Any, consumer_factory: Any) -> None:
    calls = 0

    async def flaky(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await bump(uow, "flaky")
        if calls < 3:
            raise ConnectionError("database hiccup")

    async with consumer_factory({InstitutionRegistered: flaky}) as consumer:
        await consumer.publish(new_envelope(institution(), correlation_id=None, causation_id=None).to_json())
        await eventually(lambda: effect_of(sessions, "flaky"))
        await consumer.dead_letters(0)
    assert calls == 3
    assert await effect_of(sessions, "flaky") == 1


async def test_rejected_event_is_dead_lettered_at_once(sessions: Any, consumer_factory: Any) -> None:
    calls = 0

    async def refuse(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise Rejected("institution country not served")

    async with consumer_factory({InstitutionRegistered: refuse}) as consumer:
        await consumer.publish(new_envelope(institution(), correlation_id=None, causation_id=None).to_json())
        dead = await consumer.dead_letters(1)
    assert calls == 1
    assert dead[0].headers["x-error"] == "rejected: institution country not served"


async def test_two_relay_replicas_publish_each_event_once_in_order(
    sessions: Any, amqp_url: str, namespace: str
) -> None:
    topology = Topology(namespace=namespace)
    brokers = [RabbitBroker(amqp_url), RabbitBroker(amqp_url)]
    relays = [OutboxRelay(sessions, b, name="t", exchange=topology.exchange, poll_interval=0.05, batch_size=20)
              for b in brokers]
    for b in brokers:
        await b.connect()
    try:
        async with event_tap(amqp_url, topology.exchange_name) as tap:
            ids = await recorded(sessions, 100)
            for r in relays:
                r.start()
            await tap.wait_for(lambda bodies: len(bodies) >= 100)
            await eventually(lambda: _all_published(sessions))
            # Published in commit order, one replica at a time: once a later event is here,
            # a duplicate of an earlier one would be here too.
            (later,) = await recorded(sessions, 1)
            await tap.wait_for(lambda bodies: later in [b["id"] for b in bodies])
            assert [b["id"] for b in tap.bodies()] == [*ids, later]
        await eventually(lambda: _all_published(sessions))  # marked once confirmed: after the tap saw it
        assert sum(r.published for r in relays) == 101
    finally:
        for r in relays:
            await r.stop()
        for b in brokers:
            await b.stop()


async def test_events_recorded_by_a_handler_carry_the_chain(
    sessions: Any, consumer_factory: Any, amqp_url: str, namespace: str
) -> None:
    """An event caused by an event: same correlation id, causation = the cause's id."""
    from jumelage.events import ConventionSuspended

    async def cascade(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        uow.record(ConventionSuspended(convention_id=uuid.uuid4(), reason=f"{event.data.name} closed"))

    cause = new_envelope(institution("Cause"), correlation_id="programme-42", causation_id="request-1")
    async with consumer_factory({InstitutionRegistered: cascade}) as consumer:
        await consumer.publish(cause.to_json())
        await eventually(lambda: count_rows(sessions, InboxRecord))
    async with sessions() as s:
        (row,) = (await s.scalars(select(OutboxRecord))).all()
    effect = json.loads(row.envelope)
    assert effect["type"] == "ConventionSuspended"
    assert effect["correlationid"] == "programme-42"
    assert effect["causationid"] == str(cause.id)
    assert row.correlation_id == "programme-42"


def held_for_the_database(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the times a consumer finds its database away and holds the event."""
    from jumelage.messaging.consumer import EventConsumer

    held = {"times": 0}
    original = EventConsumer._database_failed

    async def counted(self: EventConsumer, exc: BaseException) -> bool:
        failed = await original(self, exc)
        held["times"] += failed
        return failed

    monkeypatch.setattr(EventConsumer, "_database_failed", counted)
    return held


async def test_consumer_database_outage_holds_events_without_spending_retries(
    postgres_url: str, amqp_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL unreachable for longer than all retry delays: nothing is
    dead-lettered, everything is handled once when it is back."""
    from jumelage.testkit.servers import execute as _execute

    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _execute(postgres_url, f'CREATE SCHEMA "{schema}"')
    target = URL(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    port = await proxy.start()
    engine = create_engine(str(target.with_port(port)), schema=schema, pool_pre_ping=True)
    try:
        async with engine.begin() as conn:
            for table in (OutboxRecord.__table__, InboxRecord.__table__, Effect.__table__):
                await conn.run_sync(table.create)
        sessions = session_factory(engine)

        async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
            await bump(uow, event.data.name)

        queue = Topology(namespace=namespace, retry_delays=(0.1, 0.2)).service_queue("probe", ("institution.*",))
        consumer = Consumer(amqp_url, sessions, queue, {InstitutionRegistered: handle})
        consumer._url = amqp_url
        async with consumer:
            await consumer.publish(new_envelope(institution("Before"), correlation_id=None, causation_id=None).to_json())
            await eventually(lambda: effect_of(sessions, "Before"))
            await proxy.cut()
            names = [f"During {i}" for i in range(5)]
            held = held_for_the_database(monkeypatch)
            for name in names:
                await consumer.publish(new_envelope(institution(name), correlation_id=None, causation_id=None).to_json())
            # Held more times than its whole retry budget (3 attempts) would allow.
            await eventually(lambda: held["times"] > queue.max_attempts)
            await proxy.restore()
            for name in names:
                assert await eventually(lambda n=name: effect_of(sessions, n)) == 1
            await consumer.dead_letters(0)
    finally:
        await proxy.cut()
        await engine.dispose()
        await _execute(postgres_url, f'DROP SCHEMA "{schema}" CASCADE')
