"""The delivery worker: sends pending notifications outside any consumer transaction.

One round: claim due rows in a short transaction (``sending``, a lease, one more
attempt; PostgreSQL ``FOR UPDATE SKIP LOCKED`` so replicas share the work), send
each with no transaction open, then record each outcome in its own transaction
together with ``NotificationSent`` or, after the last attempt,
``NotificationFailed`` (the outbox), so each is emitted exactly once.

At-least-once to the outside world: a worker that stops after sending and
before recording leaves the row ``sending``; once the lease runs out, another
round sends it again. The window is kept to one send plus one small commit,
recorded at once after each send (not after the batch), and the lease is longer
than a send's timeout so a slow send is never taken over while still running.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime, timedelta

from jumelage import context
from jumelage.events.notification import Channel, NotificationFailed, NotificationSent
from jumelage.logging import get_logger
from notification.channels import Address, Outgoing, Sender
from notification.domain.contacts import Contact
from notification.domain.delivery import DeliveryFailure, Notification, PermanentFailure, TransientFailure
from notification.store import NotificationUnitOfWork

log = get_logger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        unit_of_work: Callable[[], NotificationUnitOfWork],
        senders: Mapping[Channel, Sender],
        *,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.senders = dict(senders)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_stop = on_stop
        self._wakeup = asyncio.Event()
        self.worker_id = uuid.uuid4()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, _uow: object = None) -> None:
        """Deliver until cancelled (the runtime runs this as a periodic job that never returns)."""
        backoff = 0.1
        try:
            while True:
                try:
                    delivered = await self.deliver_due()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # database away: wait, lose nothing
                    log.warning("delivery round failed, retrying", error=type(exc).__name__, retry_in=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                backoff = 0.1
                if delivered >= self.batch_size:
                    continue  # more may be due
                await self._sleep(await self._until_next_due())
        finally:
            if self.on_stop is not None:
                with suppress(Exception):
                    result = self.on_stop()
                    if asyncio.iscoroutine(result):
                        await result

    async def _until_next_due(self) -> float:
        """Sleep until the next retry is due, the poll interval, or a commit's wake-up."""
        async with self.unit_of_work() as uow:
            next_due = await uow.notifications.next_due_at()
            now = uow.now
        if next_due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (next_due - now).total_seconds()))

    async def _sleep(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        self._wakeup.clear()

    async def deliver_due(self) -> int:
        """One round: claim, send, record. Returns how many were claimed."""
        claim = uuid.uuid4()
        async with self.unit_of_work() as uow:
            now = uow.now
            claimed: list[tuple[Notification, Contact | None]] = []
            for notification in await uow.notifications.due(now, self.batch_size):
                notification.take(now, uow.services.retry, claim)
                await uow.notifications.save(notification)
                claimed.append((notification, await uow.contacts.get(notification.contact_id)))
            await uow.commit()
        if claimed:
            await asyncio.gather(*(self._deliver(n, c, claim) for n, c in claimed))
        return len(claimed)

    async def _deliver(self, notification: Notification, contact: Contact | None, claim: uuid.UUID) -> None:
        with context.chain(correlation=notification.correlation_id, causation=str(notification.cause_event_id)):
            failure: DeliveryFailure | None = None
            try:
                await self._send(notification, contact)
            except DeliveryFailure as exc:
                failure = exc
            except Exception as exc:  # a bug or an unexpected library error: retry, name only its class
                failure = TransientFailure(f"unexpected {type(exc).__name__}")
                log.exception("sender raised unexpectedly", notification_id=str(notification.id),
                              channel=notification.channel.value)
            await self._record(notification.id, claim, failure)

    async def _send(self, notification: Notification, contact: Contact | None) -> None:
        if contact is None:
            raise PermanentFailure("recipient contact was deleted")
        to = contact.address(notification.channel)
        if not to:
            raise PermanentFailure(f"recipient has no {notification.channel} address any more")
        sender = self.senders.get(notification.channel)
        if sender is None:
            raise PermanentFailure(f"no {notification.channel} sender configured")
        secret = contact.webhook_secret if notification.channel is Channel.webhook else None
        await sender.send(Outgoing(str(notification.id), notification.language, notification.message),
                          Address(to, secret))

    async def _record(self, notification_id: uuid.UUID, claim: uuid.UUID, failure: DeliveryFailure | None) -> None:
        async with self.unit_of_work() as uow:
            notification = await uow.notifications.get(notification_id, for_update=True)
            if notification is None or not notification.holds(claim):
                # Our lease ran out and another round took the row: it records the outcome.
                log.warning("delivery outcome not recorded: claim lost", notification_id=str(notification_id))
                return
            now = uow.now
            fields = {
                "notification_id": notification.id, "cause_event_id": notification.cause_event_id,
                "channel": notification.channel, "recipient_ref": notification.recipient_ref,
                "template": notification.template,
            }
            if failure is None:
                notification.delivered(now)
                uow.record(NotificationSent(**fields))
                log.info("notification sent", notification_id=str(notification.id),
                         recipient_ref=notification.recipient_ref, channel=notification.channel.value,
                         attempts=notification.attempts)
            elif notification.attempt_failed(failure, now, uow.services.retry):
                uow.record(NotificationFailed(**fields, error=failure.reason, attempts=notification.attempts))
                log.warning("notification failed", notification_id=str(notification.id),
                            recipient_ref=notification.recipient_ref, channel=notification.channel.value,
                            attempts=notification.attempts, error=failure.reason)
            else:
                log.info("notification attempt failed, will retry", notification_id=str(notification.id),
                         recipient_ref=notification.recipient_ref, channel=notification.channel.value,
                         attempts=notification.attempts, error=failure.reason,
                         retry_in=_seconds(notification.next_attempt_at, now))
            await uow.notifications.save(notification)
            await uow.commit()


def _seconds(at: datetime | None, now: datetime) -> float | None:
    return round((at - now) / timedelta(seconds=1), 3) if at else None
