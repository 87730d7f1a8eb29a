"""The idempotent consumer: parse, deduplicate (inbox), handle, commit, then ack.

Failures never block the queue and never crash the service:

* a message that is not a valid v1 event goes straight to ``<queue>.dlq`` with
  the reason in ``x-error``;
* a handler that raises is rolled back and the message is re-published to the
  retry queue for that attempt (a fixed TTL, then dead-lettered back to the
  service's queue), with the attempt count in ``x-attempts``; after the last
  retry it goes to ``<queue>.dlq`` with ``x-error`` and ``x-attempts``;
* the original is acked only once its successor (retry or DLQ copy) is
  confirmed by the broker, or after the handler's transaction committed.

This does not rely on the broker's delivery limit, so it behaves the same on
RabbitMQ 3.10 and 4.x.

Events that arrive together are handled in one shared transaction (group
commit, see ``batch``): their handlers one after the other, one commit for
the batch, then each message is acked. A batch is what is waiting when a
driver is free (at most ``MAX_BATCH``; ``MAX_CONCURRENT_BATCHES`` drivers); at
low load that is a single event, handled in a transaction of its own as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any

from aiormq.abc import DeliveredMessage
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitRouter
from faststream.rabbit.message import RabbitMessage
from pydantic import WithJsonSchema
from sqlalchemy import text

from jumelage import context, tracing
from jumelage.events import CONTENT_TYPE, CloudEvent, EventData, EventParseError, registry
from jumelage.logging import get_logger
from jumelage.messaging.batch import SharedCommitFailed, SharedTransaction
from jumelage.messaging.topology import ServiceQueue, topic_exchange
from jumelage.tasks import spawn

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

    from jumelage.db import UnitOfWork

log = get_logger(__name__)

EventHandler = Callable[[CloudEvent[Any], Any], Awaitable[None]]

ATTEMPTS_HEADER = "x-attempts"
ERROR_HEADER = "x-error"
ROUTING_KEY_HEADER = "x-original-routing-key"
MAX_BATCH = 16
MAX_CONCURRENT_BATCHES = 2
"""Events per shared transaction, at most. Half the default prefetch (32): while
one batch is handled the broker keeps delivering the next."""


class Rejected(Exception):
    """Raised by a handler for an event it can never accept: dead-lettered at once."""


class EventConsumer:
    """Dispatches the events of one service queue to that service's handlers."""

    def __init__(
        self,
        queue: ServiceQueue,
        handlers: Mapping[type[EventData], EventHandler],
        unit_of_work: Callable[[], UnitOfWork],
        broker: RabbitBroker,
        *,
        max_batch: int = MAX_BATCH,
        metrics: Any = None,
    ) -> None:
        self.queue = queue
        self.metrics = metrics  # jumelage.metrics.Metrics, or None
        self.handlers = dict(handlers)
        self.unit_of_work = unit_of_work
        self.broker = broker
        self.max_batch = max(1, max_batch)
        self._waiting: list[_Member] = []  # events waiting for a turn
        self.max_concurrent = MAX_CONCURRENT_BATCHES
        self._drivers: set[asyncio.Task[None]] = set()

    async def consume(self, message: RabbitMessage) -> None:
        try:
            await self._consume(message)
        except Exception:
            # Only a broker failure while forwarding gets here: give the message
            # back (after a pause, so a lasting fault is not a hot loop).
            log.exception("event could not be settled, requeued")
            await asyncio.sleep(1.0)
            with suppress(Exception):
                await message.nack(requeue=True)

    async def _consume(self, message: RabbitMessage) -> None:
        raw: AbstractIncomingMessage = message.raw_message
        attempts = _attempts(raw) + 1
        try:
            event = registry.parse(raw.body)
        except EventParseError as exc:
            log.warning("poison message dead-lettered", reason=exc.reason, message_id=raw.message_id)
            await self._forward(raw, self.queue.dlq_name, {ERROR_HEADER: exc.reason, ATTEMPTS_HEADER: attempts})
            self._count("unparsable", "poison", dead_lettered=True)  # its type is whatever it says: unbounded
            await message.ack()
            return

        with (context.chain(correlation=event.correlationid, causation=str(event.id), event_id=str(event.id)),
              tracing.tracer().start_as_current_span(
                  f"process {event.type}", context=tracing.parent_context(event.traceparent),
                  kind=tracing.SpanKind.CONSUMER, record_exception=False,
                  attributes={"messaging.system": "rabbitmq", "messaging.operation.type": "process",
                              "messaging.destination.name": self.queue.name, "messaging.message.id": str(event.id),
                              "cloudevents.event_type": event.type, "cloudevents.event_source": event.source,
                              "messaging.rabbitmq.delivery_attempt": attempts})):
            handler = self.handlers.get(type(event.data))
            if handler is None:
                # The binding is a pattern; this service has no use for this type.
                self._count(event.type, "ignored")
                await message.ack()
                return
            began = time.perf_counter()
            try:
                handled = await self._handle_in_turn(event, handler)
            except Rejected as exc:
                reason = f"rejected: {exc}"
                log.warning("event rejected, dead-lettered", event_type=event.type, reason=reason)
                await self._forward(raw, self.queue.dlq_name, {ERROR_HEADER: reason, ATTEMPTS_HEADER: attempts})
                self._count(event.type, "rejected", began, dead_lettered=True)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempts < self.queue.max_attempts:
                    log.warning("event handler failed, will retry", event_type=event.type,
                                attempt=attempts, error=reason, exc_info=True)
                    await self._forward(raw, self.queue.retry_name(attempts), {ATTEMPTS_HEADER: attempts})
                    self._count(event.type, "retried", began)
                    if self.metrics is not None:
                        self.metrics.retries.labels(self.queue.name).inc()
                else:
                    log.error("event handler failed, dead-lettered", event_type=event.type,
                              attempts=attempts, error=reason, exc_info=True)
                    await self._forward(raw, self.queue.dlq_name, {ERROR_HEADER: reason, ATTEMPTS_HEADER: attempts})
                    self._count(event.type, "dead_lettered", began, dead_lettered=True)
            else:
                log.info("event handled" if handled else "duplicate event ignored", event_type=event.type)
                self._count(event.type, "handled" if handled else "duplicate", began)
            await message.ack()

    def _count(self, event_type: str, outcome: str, began: float | None = None, *, dead_lettered: bool = False) -> None:
        """The consumer's metrics for one delivery (``jumelage.metrics``)."""
        span = tracing.trace.get_current_span()
        if span.is_recording():
            span.set_attribute("jumelage.outcome", outcome)
            if outcome in ("retried", "dead_lettered", "rejected"):
                span.set_status(tracing.Status(tracing.StatusCode.ERROR, outcome))
        if self.metrics is None:
            return
        self.metrics.events_consumed.labels(self.queue.name, event_type, outcome).inc()
        if began is not None:
            self.metrics.event_seconds.labels(self.queue.name, event_type).observe(time.perf_counter() - began)
        if dead_lettered:
            self.metrics.dead_letters.labels(self.queue.name).inc()

    async def _handle_when_database_answers(self, event: CloudEvent[Any], handler: EventHandler, *,
                                            raced: bool = False) -> bool:
        """Handle; while our own database is unreachable, hold the message (unacked)
        and try again, rather than spend its bounded retries on an outage."""
        pause = 0.5
        while True:
            try:
                return await self._handle(event, handler)
            except Exception as exc:
                if _lost_a_lock_race(exc) and not raced:
                    # Another transaction wrote the same rows first (say two events
                    # of one new surgery, each inserting its replica): once more at
                    # once sees its write. Twice is the handler's own failure.
                    raced = True
                    log.info("event lost a race for a row, handled again", event_type=event.type,
                             error=type(exc).__name__)
                    continue
                if not await self._database_failed(exc):
                    raise  # the handler's own failure: bounded retries
                log.warning("database unreachable, holding event", event_type=event.type, retry_in=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)

    async def _database_failed(self, exc: BaseException) -> bool:
        """Whether ``exc`` is our database's fault, not the handler's: the
        connection was lost under it (say a restart; the pool has been reset), or
        the database does not answer now."""
        return bool(getattr(exc, "connection_invalidated", False)) or not await self._database_answers()

    async def _database_answers(self) -> bool:
        try:
            async with self.unit_of_work() as uow:
                await uow.session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _handle(self, event: CloudEvent[Any], handler: EventHandler) -> bool:
        async with self.unit_of_work() as uow:
            if not await uow.mark_handled(self.queue.name, event.id):
                return False
            await handler(event, uow)
            await uow.commit()
        return True

    # -- group commit ----------------------------------------------------------------

    async def _handle_in_turn(self, event: CloudEvent[Any], handler: EventHandler) -> bool:
        """Wait for a turn from a driver, then handle the event: alone (a batch of
        one), or in the shared transaction of its batch."""
        member = _Member(event.id)
        self._waiting.append(member)
        if len(self._drivers) < self.max_concurrent:
            driver = spawn(self._drive(), name=f"consumer-batches:{self.queue.name}")
            self._drivers.add(driver)
            driver.add_done_callback(self._drivers.discard)
        try:
            turn = await member.turn
        except asyncio.CancelledError:
            member.give_back()  # given a turn, cancelled before using it
            raise
        if turn is None:  # alone, the driver does not wait
            return await self._handle_when_database_answers(event, handler)
        if isinstance(turn, _Alone):  # a batch of one: its own transaction, as ever
            try:
                return await self._handle(event, handler)
            except Exception as exc:
                raced = _lost_a_lock_race(exc)
                if not (raced or await self._database_failed(exc)):
                    raise
            finally:
                turn.over.set()  # the next batch may start (this event may be held apart)
            return await self._handle_when_database_answers(event, handler, raced=raced)
        try:
            if isinstance(turn, _Duplicate):
                await turn.shared.committed()  # the copy seen may be earlier in this batch
                return False
            return await self._handle_shared(event, handler, turn)
        except SharedCommitFailed as exc:
            # Nothing of the batch was written: handle this event again, alone.
            log.info("batch not committed, event handled alone", event_type=event.type, reason=str(exc))
        except Exception as exc:
            # The handler's own failure (the batch is not committed), unless the
            # database is away (then hold the event as always) or the batch lost
            # a lock race (a deadlock or serialization failure, which holding
            # several events' locks makes likelier): then it goes again alone now,
            # without spending one of its retries.
            if _lost_a_lock_race(exc):
                log.info("batch lost a lock race, event handled alone", event_type=event.type,
                         error=type(exc).__name__)
            elif not await self._database_failed(exc):
                raise
        return await self._handle_when_database_answers(event, handler)

    async def _handle_shared(self, event: CloudEvent[Any], handler: EventHandler, shared: SharedTransaction) -> bool:
        uow = self.unit_of_work()
        uow.transaction = shared  # its part of the batch's transaction, not one of its own
        try:
            async with uow:
                await handler(event, uow)
                await uow.commit()  # returns once the shared transaction committed
        finally:
            shared.left()  # the next in the batch may go
        return True

    async def _drive(self) -> None:
        """Give turns: batches of what is waiting, one after the other."""
        try:
            while self._waiting:
                batch = [m for m in self._waiting[: self.max_batch] if not m.turn.done()]
                del self._waiting[: self.max_batch]
                if len(batch) == 1:
                    alone = _Alone()
                    batch[0].turn.set_result(alone)
                    await alone.over.wait()
                elif batch:
                    await self._run_shared(batch)
                await asyncio.sleep(0)  # let deliveries that just came in join the next batch
        except BaseException:
            for member in self._waiting:  # only if the driver itself failed: each goes alone
                if not member.turn.done():
                    member.turn.set_result(None)
            self._waiting.clear()
            raise

    async def _run_shared(self, batch: list[_Member]) -> None:
        shared = SharedTransaction(self.unit_of_work().sessions)
        try:
            try:
                fresh = await shared.mark_handled(self.queue.name, [m.event_id for m in batch])
            except Exception as exc:
                log.info("batch inbox marks failed, events handled alone", error=repr(exc))
                return  # the finally sends each alone
            for member in batch:
                if member.turn.done():  # cancelled while waiting
                    continue
                if not shared.usable:
                    break  # a handler failed: the others go alone
                if member.event_id in fresh:
                    fresh.discard(member.event_id)  # a second copy in this batch is a duplicate
                    await shared.turn(member.turn)
                else:
                    member.turn.set_result(_Duplicate(shared))
            await shared.commit_all()
        finally:
            for member in batch:
                if not member.turn.done():
                    member.turn.set_result(None)
            await shared.close()

    async def _forward(self, raw: AbstractIncomingMessage, queue_name: str, headers: dict[str, Any]) -> None:
        """Re-publish the message unchanged to one of our own queues (through our
        forward exchange) and wait for the confirm."""
        merged = {k: v for k, v in (raw.headers or {}).items() if k != "x-death"}
        merged.update(headers)
        merged.setdefault(ROUTING_KEY_HEADER, raw.routing_key)
        if ERROR_HEADER in merged:
            merged[ERROR_HEADER] = str(merged[ERROR_HEADER])[:4000]
        result = await self.broker.publish(
            raw.body,
            queue=queue_name,  # the routing key: the forward exchange binds each queue by its name
            exchange=self.queue.forward_exchange(),
            persist=True,
            mandatory=True,
            timeout=10.0,
            headers=merged,
            message_id=raw.message_id,
            correlation_id=raw.correlation_id,
            content_type=raw.content_type,
            message_type=raw.type,
        )
        if isinstance(result, DeliveredMessage):
            raise RuntimeError(f"queue {queue_name} does not exist: message returned")


class _Member:
    """An event waiting for its turn."""

    __slots__ = ("event_id", "turn")

    def __init__(self, event_id: Any) -> None:
        self.event_id = event_id
        self.turn: asyncio.Future[Turn] = asyncio.get_running_loop().create_future()

    def give_back(self) -> None:
        if self.turn.done() and not self.turn.cancelled():
            given = self.turn.result()
            if isinstance(given, SharedTransaction):
                given.left()
            elif isinstance(given, _Alone):
                given.over.set()


class _Alone:
    """The turn of a batch of one: handled in a transaction of its own."""

    def __init__(self) -> None:
        self.over = asyncio.Event()


class _Duplicate:
    """The turn of an event already in the inbox (or twice in its batch)."""

    def __init__(self, shared: SharedTransaction) -> None:
        self.shared = shared


Turn = SharedTransaction | _Alone | _Duplicate | None  # None: alone, and the driver does not wait


# PostgreSQL: deadlock_detected, serialization_failure, and unique_violation (two
# transactions inserting one new key; SQLite's writers never overlap).
_LOCK_RACES = {"40P01", "40001", "23505"}


def _lost_a_lock_race(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in _LOCK_RACES or getattr(orig, "pgcode", None) in _LOCK_RACES


def _attempts(raw: AbstractIncomingMessage) -> int:
    try:
        return max(0, int((raw.headers or {}).get(ATTEMPTS_HEADER, 0)))
    except (TypeError, ValueError):
        return 0  # a header we did not write: count from here


# What AsyncAPI says the subscriber receives: the body as is (FastDepends still checks only that it is bytes).
_EnvelopeBytes = Annotated[bytes, WithJsonSchema({
    "type": "string", "format": "binary", "contentMediaType": CONTENT_TYPE,
    "description": "a CloudEvents 1.0 JSON document (v1 envelope) of one of the types this queue handles; "
                   "each type's schema is under the operation of the service that publishes it",
})]

# The message being handled, for ``event_router``'s handler (each delivery runs in a task of its own).
_delivery: ContextVar[RabbitMessage] = ContextVar("delivery")


async def _body_keeping_message(message: RabbitMessage) -> bytes:
    """The decoder: the body as is (``EventConsumer`` parses the envelope itself, so
    JSON is not decoded twice), and the message kept in this delivery's context
    for the handler to ack. A ``Context("message")`` parameter would do the same,
    but any ``Context`` parameter makes FastDepends open an anyio task group and
    resolve it per message: with the three the handler had, about a tenth of the
    consumer's CPU (py-spy, ``scripts/bench.py`` (d2))."""
    _delivery.set(message)
    return message.body  # type: ignore[no-any-return]


def event_router(
    queue: ServiceQueue,
    handlers: Mapping[type[EventData], EventHandler],
    *,
    unit_of_work: Callable[[], UnitOfWork],
    broker: RabbitBroker,
    metrics: Any = None,
) -> RabbitRouter:
    """A FastStream router with the one subscriber of a service's queue, for
    ``broker`` (the one that includes it), handling each event with a unit of
    work from ``unit_of_work``."""
    router = RabbitRouter()
    consumed = ", ".join(sorted(h.event_type for h in handlers))
    consumer = EventConsumer(queue, handlers, unit_of_work, broker, metrics=metrics)

    @router.subscriber(
        queue.queue(),
        topic_exchange(queue.exchange),
        ack_policy=AckPolicy.MANUAL,  # acked by EventConsumer, after commit
        decoder=_body_keeping_message,
        title=queue.name,
        description=f"CloudEvents ({', '.join(queue.bindings)}); handled: {consumed or 'none'}",
    )
    async def on_event(body: _EnvelopeBytes) -> None:
        await consumer.consume(_delivery.get())

    return router
