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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from aiormq.abc import DeliveredMessage
from faststream import AckPolicy, Context
from faststream.rabbit import RabbitBroker, RabbitRouter
from faststream.rabbit.annotations import RabbitMessage
from sqlalchemy import text

from jumelage import context
from jumelage.events import CloudEvent, EventData, EventParseError, registry
from jumelage.logging import get_logger
from jumelage.messaging.topology import ServiceQueue, topic_exchange

if TYPE_CHECKING:
    from aio_pika.abc import AbstractIncomingMessage

    from jumelage.db import UnitOfWork

log = get_logger(__name__)

EventHandler = Callable[[CloudEvent[Any], Any], Awaitable[None]]

ATTEMPTS_HEADER = "x-attempts"
ERROR_HEADER = "x-error"
ROUTING_KEY_HEADER = "x-original-routing-key"


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
    ) -> None:
        self.queue = queue
        self.handlers = dict(handlers)
        self.unit_of_work = unit_of_work
        self.broker = broker

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
            await message.ack()
            return

        with context.chain(correlation=event.correlationid, causation=str(event.id), event_id=str(event.id)):
            handler = self.handlers.get(type(event.data))
            if handler is None:
                # The binding is a pattern; this service has no use for this type.
                await message.ack()
                return
            try:
                handled = await self._handle_when_database_answers(event, handler)
            except Rejected as exc:
                reason = f"rejected: {exc}"
                log.warning("event rejected, dead-lettered", event_type=event.type, reason=reason)
                await self._forward(raw, self.queue.dlq_name, {ERROR_HEADER: reason, ATTEMPTS_HEADER: attempts})
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if attempts < self.queue.max_attempts:
                    log.warning("event handler failed, will retry", event_type=event.type,
                                attempt=attempts, error=reason, exc_info=True)
                    await self._forward(raw, self.queue.retry_name(attempts), {ATTEMPTS_HEADER: attempts})
                else:
                    log.error("event handler failed, dead-lettered", event_type=event.type,
                              attempts=attempts, error=reason, exc_info=True)
                    await self._forward(raw, self.queue.dlq_name, {ERROR_HEADER: reason, ATTEMPTS_HEADER: attempts})
            else:
                log.info("event handled" if handled else "duplicate event ignored", event_type=event.type)
            await message.ack()

    async def _handle_when_database_answers(self, event: CloudEvent[Any], handler: EventHandler) -> bool:
        """Handle; while our own database is unreachable, hold the message (unacked)
        and try again, rather than spend its bounded retries on an outage."""
        pause = 0.5
        while True:
            try:
                return await self._handle(event, handler)
            except Exception:
                if await self._database_answers():
                    raise  # the handler's own failure: bounded retries
                log.warning("database unreachable, holding event", event_type=event.type, retry_in=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)

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

    async def _forward(self, raw: AbstractIncomingMessage, queue_name: str, headers: dict[str, Any]) -> None:
        """Re-publish the message unchanged to one of our own queues and wait for the confirm."""
        merged = {k: v for k, v in (raw.headers or {}).items() if k != "x-death"}
        merged.update(headers)
        merged.setdefault(ROUTING_KEY_HEADER, raw.routing_key)
        if ERROR_HEADER in merged:
            merged[ERROR_HEADER] = str(merged[ERROR_HEADER])[:4000]
        result = await self.broker.publish(
            raw.body,
            queue=queue_name,  # default exchange: straight to that queue
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


def _attempts(raw: AbstractIncomingMessage) -> int:
    try:
        return max(0, int((raw.headers or {}).get(ATTEMPTS_HEADER, 0)))
    except (TypeError, ValueError):
        return 0  # a header we did not write: count from here


def event_router(queue: ServiceQueue, handlers: Mapping[type[EventData], EventHandler]) -> RabbitRouter:
    """A FastStream router with the one subscriber of a service's queue.

    The unit-of-work factory comes from the broker context (``unit_of_work``),
    set by the service's composition root.
    """
    router = RabbitRouter()
    consumed = ", ".join(sorted(h.event_type for h in handlers))

    @router.subscriber(
        queue.queue(),
        topic_exchange(queue.exchange),
        ack_policy=AckPolicy.MANUAL,  # acked by EventConsumer, after commit
        title=queue.name,
        description=f"CloudEvents ({', '.join(queue.bindings)}); handled: {consumed or 'none'}",
    )
    async def on_event(
        message: RabbitMessage,
        unit_of_work: Any = Context("unit_of_work"),
        broker: RabbitBroker = Context("broker"),
    ) -> None:
        await EventConsumer(queue, handlers, unit_of_work, broker).consume(message)

    return router
