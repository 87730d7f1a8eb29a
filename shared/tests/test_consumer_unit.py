"""The idempotent consumer (``event_router``) in memory: FastStream's
``TestRabbitBroker`` and a real SQLite database, no RabbitMQ.

What the in-memory broker supports faithfully: dispatch by routing key to the
subscriber, the manual ack/nack calls on the incoming message, and publishing
to a queue by name (the consumer's forward to ``<queue>.retry.*`` and
``<queue>.dlq``), which reaches a subscriber declared on that queue. What it
cannot do: TTLs and dead-lettering (a retry queue giving the message back after
its delay), publisher confirms and returned messages, redelivery after a nack.
Those paths are covered over the real broker in ``test_messaging.py``; here a
redelivery from a retry queue is simulated by publishing the forwarded copy
again, headers included.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from faststream.rabbit import RabbitBroker, TestRabbitBroker
from faststream.rabbit.annotations import RabbitMessage as Delivered
from faststream.rabbit.message import RabbitMessage
from faststream.rabbit.testing import PatchedMessage
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from jumelage import context
from effects import bump, count_rows, effect_of, effect_sessions

from jumelage.db import UnitOfWork
from jumelage.events import CloudEvent, ConventionSuspended, InstitutionRegistered, new_envelope
from jumelage.messaging.consumer import Rejected, event_router
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.messaging.topology import Topology

NAMESPACE = "unit."
TOPOLOGY = Topology(namespace=NAMESPACE, retry_delays=(0.1, 0.2))
# "#": the in-memory broker routes by the subscriber's first binding only.
QUEUE = TOPOLOGY.service_queue("probe", ("#",))


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Any]:
    async with effect_sessions(f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}") as factory:
        yield factory


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """What happened, in order: ("ack"|"nack", routing key, message id) for each
    message settled, ("forward", queue, message id) for each copy the consumer made.

    (The in-memory message has no delivery tag, so aio-pika's own ack is a no-op:
    the settlement is observed on FastStream's message, where the consumer calls it.)
    """
    entries: list[tuple[str, str, str]] = []
    original_ack, original_nack = RabbitMessage.ack, RabbitMessage.nack

    async def ack(self: RabbitMessage, multiple: bool = False) -> None:
        entries.append(("ack", self.raw_message.routing_key, self.raw_message.message_id or ""))
        await original_ack(self, multiple)

    async def nack(self: RabbitMessage, multiple: bool = False, requeue: bool = True) -> None:
        entries.append(("nack" if requeue else "nack-drop", self.raw_message.routing_key,
                        self.raw_message.message_id or ""))
        await original_nack(self, multiple, requeue)

    monkeypatch.setattr(RabbitMessage, "ack", ack)
    monkeypatch.setattr(RabbitMessage, "nack", nack)
    return entries


class Harness:
    def __init__(self, broker: RabbitBroker, forwarded: dict[str, list[PatchedMessage]]) -> None:
        self.broker = broker
        self.forwarded = forwarded

    async def deliver(self, body: str | bytes, routing_key: str = "institution.registered",
                      headers: dict[str, Any] | None = None, message_id: str | None = None) -> None:
        await self.broker.publish(body, exchange=TOPOLOGY.exchange, routing_key=routing_key, headers=headers,
                                  message_id=message_id)

    async def redeliver(self, copy: PatchedMessage) -> None:
        """What RabbitMQ does when a retry queue's TTL runs out: the same message, same headers."""
        await self.deliver(copy.body, routing_key=copy.headers["x-original-routing-key"],
                           headers=dict(copy.headers), message_id=copy.message_id)


def side_queue(name: str, into: list[PatchedMessage], journal: list[tuple[str, str, str]]) -> Any:
    """A subscriber standing for a retry queue or the DLQ: keeps what reaches it."""

    async def receive(message: Delivered) -> None:
        raw = message.raw_message
        journal.append(("forward", name, raw.message_id or ""))
        into.append(raw)

    return receive


@pytest.fixture
def consumer(sessions: Any, journal: list[tuple[str, str, str]]) -> Callable[..., Any]:
    @contextlib.asynccontextmanager
    async def make(handlers: dict[type, Any], *, with_side_queues: bool = True,
                   metrics: Any = None) -> AsyncIterator[Harness]:
        broker = RabbitBroker()
        broker.include_router(event_router(QUEUE, handlers, unit_of_work=lambda: UnitOfWork(sessions), broker=broker,
                                           metrics=metrics))
        forwarded: dict[str, list[PatchedMessage]] = {}
        if with_side_queues:
            for name in [QUEUE.dlq_name, *(q.name for q in QUEUE.retry_queues())]:
                forwarded[name] = []
                broker.subscriber(name, QUEUE.forward_exchange())(side_queue(name, forwarded[name], journal))

        async with TestRabbitBroker(broker) as test_broker:
            yield Harness(test_broker, forwarded)

    return make


def institution(name: str = "CMCI Bousmail") -> CloudEvent[Any]:
    data = InstitutionRegistered(institution_id=uuid.uuid4(), name=name, kind="clinic", country="DZ",
                                 city="Bou Ismail")
    return new_envelope(data, correlation_id="programme-cnas-2024", causation_id="request-1")


async def inbox(sessions: Any) -> list[tuple[str, uuid.UUID]]:
    async with sessions() as s:
        return [(r.consumer, r.event_id) for r in await s.scalars(select(InboxRecord))]


def settled(journal: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The consumer's own settlements and forwards (not those of the side-queue subscribers)."""
    side = {QUEUE.dlq_name, *(q.name for q in QUEUE.retry_queues())}
    return [e for e in journal if not (e[0] != "forward" and e[1] in side)]


# -- handled once ------------------------------------------------------------------------


async def test_handled_event_has_its_effect_and_inbox_row_and_is_acked_after_commit(
    sessions: Any, consumer: Any, journal: list[tuple[str, str, str]]
) -> None:
    seen: list[dict[str, Any]] = []

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        seen.append({"acked_before": list(journal), "correlation": context.correlation_id.get(),
                     "causation": context.causation_id.get(), "name": event.data.name})
        await bump(uow, event.data.name)
        uow.record(ConventionSuspended(convention_id=uuid.uuid4(), reason="follow-up"))

    envelope = institution()
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))

    assert len(seen) == 1
    assert seen[0]["acked_before"] == [], "not acked before the handler ran"
    assert seen[0]["name"] == "CMCI Bousmail"
    assert seen[0]["correlation"] == "programme-cnas-2024"
    assert seen[0]["causation"] == str(envelope.id)
    assert await effect_of(sessions, "CMCI Bousmail") == 1
    assert await inbox(sessions) == [(QUEUE.name, envelope.id)]
    assert settled(journal) == [("ack", "institution.registered", str(envelope.id))]
    assert context.correlation_id.get() is None, "the chain does not leak out of the message"

    async with sessions() as s:
        (row,) = (await s.scalars(select(OutboxRecord))).all()
    out = json.loads(row.envelope)
    assert out["correlationid"] == "programme-cnas-2024", "the chain goes on"
    assert out["causationid"] == str(envelope.id), "caused by the event handled"


async def test_same_event_id_twice_has_one_effect(sessions: Any, consumer: Any, journal: list) -> None:
    calls = 0

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await bump(uow, event.data.name)

    envelope = institution("Twice Delivered")
    other = institution("Other")
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        await c.deliver(other.to_json(), message_id=str(other.id))

    assert calls == 2
    assert await effect_of(sessions, "Twice Delivered") == 1
    assert await effect_of(sessions, "Other") == 1
    assert sorted(await inbox(sessions)) == sorted([(QUEUE.name, envelope.id), (QUEUE.name, other.id)])
    assert [e[0] for e in settled(journal)] == ["ack", "ack", "ack"], "the duplicate is acked, not redelivered"


async def test_the_same_event_id_for_another_consumer_is_not_a_duplicate(sessions: Any) -> None:
    event_id = uuid.uuid4()
    firsts = []
    for consumer_name in ("scheduling.events", "notification.events", "scheduling.events"):
        async with UnitOfWork(sessions) as uow:
            firsts.append(await uow.mark_handled(consumer_name, event_id))
            await uow.commit()
    assert firsts == [True, True, False]
    assert await count_rows(sessions, InboxRecord) == 2


async def test_event_without_handler_is_acked_with_no_effect(sessions: Any, consumer: Any, journal: list) -> None:
    calls = 0

    async def handle(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1

    suspended = new_envelope(ConventionSuspended(convention_id=uuid.uuid4(), reason="audit"),
                             correlation_id=None, causation_id=None)
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(suspended.to_json(), routing_key="convention.suspended", message_id=str(suspended.id))

    assert calls == 0
    assert await inbox(sessions) == []
    assert settled(journal) == [("ack", "convention.suspended", str(suspended.id))]


# -- failures ----------------------------------------------------------------------------


async def test_unparseable_and_invalid_messages_go_to_the_dlq_with_the_reason(
    sessions: Any, consumer: Any, journal: list
) -> None:
    calls = 0

    async def handle(event: CloudEvent[Any], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1

    invalid = json.loads(institution().to_json())
    del invalid["data"]["name"]
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(b"\x00not json", message_id="m-1")
        await c.deliver(json.dumps(invalid), message_id="m-2")
        await c.deliver(json.dumps({**invalid, "type": "InstitutionDemolished"}), message_id="m-3")
        dead = c.forwarded[QUEUE.dlq_name]

    assert calls == 0
    assert [m.message_id for m in dead] == ["m-1", "m-2", "m-3"]
    assert "not JSON" in dead[0].headers["x-error"]
    assert "data.name" in dead[1].headers["x-error"]
    assert "unknown event type 'InstitutionDemolished'" in dead[2].headers["x-error"]
    assert all(m.headers["x-attempts"] == 1 for m in dead)
    assert all(m.headers["x-original-routing-key"] == "institution.registered" for m in dead)
    assert dead[0].body == b"\x00not json", "the dead letter is the message as received"
    # Each is forwarded first, then acked.
    assert settled(journal) == [
        (step, where, mid)
        for mid in ("m-1", "m-2", "m-3")
        for step, where in (("forward", QUEUE.dlq_name), ("ack", "institution.registered"))
    ]
    assert await inbox(sessions) == []


async def test_rejected_event_is_dead_lettered_at_once(sessions: Any, consumer: Any) -> None:
    async def refuse(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        await bump(uow, "refused")
        raise Rejected("country not served")

    envelope = institution()
    async with consumer({InstitutionRegistered: refuse}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        (dead,) = c.forwarded[QUEUE.dlq_name]
        assert all(not copies for name, copies in c.forwarded.items() if name != QUEUE.dlq_name)

    assert dead.headers["x-error"] == "rejected: country not served"
    assert await effect_of(sessions, "refused") == 0
    assert await inbox(sessions) == []


async def test_failing_handler_goes_through_each_retry_queue_then_the_dlq(
    sessions: Any, consumer: Any, journal: list
) -> None:
    calls = 0

    async def broken(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await bump(uow, "half-written")
        raise RuntimeError("registry unavailable")

    envelope = institution()
    first_retry, second_retry = (q.name for q in QUEUE.retry_queues())
    async with consumer({InstitutionRegistered: broken}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        (copy1,) = c.forwarded[first_retry]
        assert copy1.headers["x-attempts"] == 1
        assert copy1.body == envelope.to_json().encode()
        assert copy1.message_id == str(envelope.id)

        await c.redeliver(copy1)
        (copy2,) = c.forwarded[second_retry]
        assert copy2.headers["x-attempts"] == 2

        await c.redeliver(copy2)
        (dead,) = c.forwarded[QUEUE.dlq_name]

    assert calls == 3, "one delivery and one per retry delay"
    assert dead.headers["x-attempts"] == 3
    assert dead.headers["x-error"] == "RuntimeError: registry unavailable"
    assert dead.headers["x-original-routing-key"] == "institution.registered"
    assert await effect_of(sessions, "half-written") == 0, "every failed attempt is rolled back"
    assert await inbox(sessions) == []
    assert [(e[0], e[1]) for e in settled(journal)] == [
        ("forward", first_retry), ("ack", "institution.registered"),
        ("forward", second_retry), ("ack", "institution.registered"),
        ("forward", QUEUE.dlq_name), ("ack", "institution.registered"),
    ]


async def test_metrics_count_each_outcome_retries_and_dead_letters_by_queue(sessions: Any, consumer: Any) -> None:
    from jumelage.metrics import Metrics

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        if event.data.name == "Broken":
            raise RuntimeError("registry unavailable")
        await bump(uow, event.data.name)

    metrics = Metrics("probe")
    good, broken, unhandled = institution("Good"), institution("Broken"), new_envelope(
        ConventionSuspended(convention_id=uuid.uuid4(), reason="audit"), correlation_id="c", causation_id=None)
    async with consumer({InstitutionRegistered: handle}, metrics=metrics) as c:
        for envelope in (good, good, unhandled, broken):
            await c.deliver(envelope.to_json(), routing_key=envelope.routing_key, message_id=str(envelope.id))
        await c.deliver(b"\x00not json", message_id="m-1")
        await c.redeliver(c.forwarded[QUEUE.retry_queues()[0].name][0])
        await c.redeliver(c.forwarded[QUEUE.retry_queues()[1].name][0])

    def count(name: str, **labels: str) -> float:
        return metrics.registry.get_sample_value(name, labels) or 0.0

    consumed = "jumelage_events_consumed_total"
    assert count(consumed, queue=QUEUE.name, type="InstitutionRegistered", outcome="handled") == 1
    assert count(consumed, queue=QUEUE.name, type="InstitutionRegistered", outcome="duplicate") == 1
    assert count(consumed, queue=QUEUE.name, type="ConventionSuspended", outcome="ignored") == 1
    assert count(consumed, queue=QUEUE.name, type="InstitutionRegistered", outcome="retried") == 2
    assert count(consumed, queue=QUEUE.name, type="InstitutionRegistered", outcome="dead_lettered") == 1
    assert count(consumed, queue=QUEUE.name, type="unparsable", outcome="poison") == 1
    assert count("jumelage_event_retries_total", queue=QUEUE.name) == 2
    assert count("jumelage_dead_letters_total", queue=QUEUE.name) == 2, "the poison message and the broken one"
    assert count("jumelage_event_handling_seconds_count", queue=QUEUE.name, type="InstitutionRegistered") == 5


async def test_handler_that_recovers_on_redelivery_has_its_effect_once(sessions: Any, consumer: Any) -> None:
    calls = 0

    async def flaky(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await bump(uow, "flaky")
        if calls == 1:
            raise ConnectionError("hiccup")

    envelope = institution()
    async with consumer({InstitutionRegistered: flaky}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        (copy,) = c.forwarded[QUEUE.retry_name(1)]
        await c.redeliver(copy)
        assert c.forwarded[QUEUE.dlq_name] == []

    assert calls == 2
    assert await effect_of(sessions, "flaky") == 1
    assert await inbox(sessions) == [(QUEUE.name, envelope.id)]


async def test_a_connection_lost_under_the_handler_does_not_spend_a_retry(sessions: Any, consumer: Any) -> None:
    """The database restarted since the pooled connection's last use: the first
    statement fails with the connection invalidated (SQLAlchemy resets the pool)."""
    calls = 0

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await bump(uow, "after a restart")
        if calls == 1:
            raise DBAPIError("SELECT 1", None, ConnectionResetError("server closed the connection"),
                             connection_invalidated=True)

    envelope = institution()
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        assert all(copies == [] for copies in c.forwarded.values()), "no retry queue, no DLQ"

    assert calls == 2, "handled again at once"
    assert await effect_of(sessions, "after a restart") == 1
    assert await inbox(sessions) == [(QUEUE.name, envelope.id)]


class _Raced(Exception):
    """What asyncpg raises (as ``orig``) when another transaction committed the same key first."""
    sqlstate = "23505"  # unique_violation


async def test_a_lost_race_for_a_new_row_is_handled_again_at_once_without_a_retry(
    sessions: Any, consumer: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two events of one new surgery handled side by side both find its replica
    # absent and insert it; the second commit fails on the key. Handled again, it
    # finds the row: no retry spent, no traceback in the logs (CI, 2026-12-02).
    calls = 0

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        await bump(uow, "raced")
        if calls == 1:
            raise IntegrityError("INSERT INTO surgery", None, _Raced("duplicate key value"))

    envelope = institution()
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        assert all(copies == [] for copies in c.forwarded.values()), "no retry queue, no DLQ"

    assert calls == 2, "handled again at once"
    assert await effect_of(sessions, "raced") == 1
    assert "Traceback" not in capsys.readouterr().out


async def test_a_key_that_fails_again_is_the_handlers_own_failure_and_spends_a_retry(
    sessions: Any, consumer: Any
) -> None:
    calls = 0

    async def handle(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise IntegrityError("INSERT INTO surgery", None, _Raced("duplicate key value"))

    envelope = institution()
    async with consumer({InstitutionRegistered: handle}) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))
        assert [m.message_id for m in c.forwarded[QUEUE.retry_name(1)]] == [str(envelope.id)]
    assert calls == 2, "once more at once, then the bounded retries"


async def test_attempts_header_it_did_not_write_counts_from_one(sessions: Any, consumer: Any) -> None:
    async def broken(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        raise RuntimeError("no")

    envelope = institution()
    async with consumer({InstitutionRegistered: broken}) as c:
        await c.deliver(envelope.to_json(), headers={"x-attempts": "lots"})
        await c.deliver(envelope.to_json(), headers={"x-attempts": -5})
        assert [m.headers["x-attempts"] for m in c.forwarded[QUEUE.retry_name(1)]] == [1, 1]


async def test_when_the_forward_fails_the_message_is_nacked_for_redelivery_not_acked(
    sessions: Any, consumer: Any, journal: list
) -> None:
    """No retry queue to take the copy (in memory: no subscriber on it, so the
    publish raises): the original must go back to the queue, never be acked."""

    async def broken(event: CloudEvent[InstitutionRegistered], uow: UnitOfWork) -> None:
        raise RuntimeError("no")

    envelope = institution()
    async with consumer({InstitutionRegistered: broken}, with_side_queues=False) as c:
        await c.deliver(envelope.to_json(), message_id=str(envelope.id))  # the consumer pauses 1 s first

    assert settled(journal) == [("nack", "institution.registered", str(envelope.id))]
