"""The delivery worker: sends notifications outside any consumer transaction.

A new notification is created already claimed for its first attempt (``sending``,
a lease) in the transaction of its cause; once that commits, the unit of work
hands it over (``hand_over``) and it is sent at once. Everything else (retries,
and anything whose worker stopped before sending) goes through rounds: claim due
rows in a short transaction (``sending``, a lease, one more attempt; PostgreSQL
``FOR UPDATE SKIP LOCKED`` so replicas share the work). Either way each is sent
with no transaction open, then its outcome is recorded in its own transaction
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
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta

from jumelage import context
from jumelage.events.notification import Channel, NotificationFailed, NotificationSent
from jumelage.logging import get_logger
from notification.channels import Address, Outgoing, Sender
from notification.domain.contacts import Contact
from notification.domain.delivery import (
    DeliveryFailure, Notification, NotificationStatus, PermanentFailure, TransientFailure,
)
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
        self._handed: set[asyncio.Task[None]] = set()

    def hand_over(self, claimed: Sequence[tuple[Notification, Contact | None]], claim: uuid.UUID) -> None:
        """Send notifications claimed under ``claim`` by a transaction that just committed."""
        task = asyncio.create_task(self._deliver_all(claimed, claim), name="deliver-handed-over")
        self._handed.add(task)
        task.add_done_callback(self._handed.discard)

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
                await asyncio.sleep(await self._until_next_due())
        finally:
            await self._finish_handed_over()
            if self.on_stop is not None:
                with suppress(Exception):
                    result = self.on_stop()
                    if asyncio.iscoroutine(result):
                        await result

    async def _finish_handed_over(self, grace: float = 5.0) -> None:
        """Let sends under way end (a cancelled one is sent again once its lease runs out)."""
        if self._handed:
            _done, running = await asyncio.wait(set(self._handed), timeout=grace)
            for task in running:
                task.cancel()

    async def _until_next_due(self) -> float:
        """Sleep until the next retry is due or the poll interval."""
        async with self.unit_of_work() as uow:
            next_due = await uow.notifications.next_due_at()
            now = uow.now
        if next_due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (next_due - now).total_seconds()))

    async def deliver_due(self) -> int:
        """One round: claim, send, record. Returns how many were claimed."""
        claim = uuid.uuid4()
        async with self.unit_of_work() as uow:
            now = uow.now
            claimed: list[tuple[Notification, Contact | None]] = []
            wall = uow.wall
            for notification in await uow.notifications.due(now, wall, self.batch_size):
                notification.take(now, uow.services.retry, claim, wall)
                await uow.notifications.save(notification)
                claimed.append((notification, await uow.contacts.get(notification.contact_id)))
            await uow.commit()
        await self._deliver_all(claimed, claim)
        return len(claimed)

    async def _deliver_all(self, claimed: Sequence[tuple[Notification, Contact | None]], claim: uuid.UUID) -> None:
        await asyncio.gather(*(self._deliver(n, c, claim) for n, c in claimed))

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
            await self._record(notification, claim, failure)

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

    async def _record(self, notification: Notification, claim: uuid.UUID, failure: DeliveryFailure | None) -> None:
        async with self.unit_of_work() as uow:
            now = uow.now
            fields = {
                "notification_id": notification.id, "cause_event_id": notification.cause_event_id,
                "channel": notification.channel, "recipient_ref": notification.recipient_ref,
                "template": notification.template,
            }
            if failure is None:
                notification.delivered(now)
                uow.record(NotificationSent(**fields))
            elif notification.attempt_failed(failure, now, uow.services.retry):
                uow.record(NotificationFailed(**fields, error=failure.reason, attempts=notification.attempts))
            if not await uow.notifications.record_attempt(notification, claim):
                # Our lease ran out and another round took the row: it records the outcome.
                log.warning("delivery outcome not recorded: claim lost", notification_id=str(notification.id))
                return  # rolled back: nor the event
            await uow.commit()
        where = {"notification_id": str(notification.id), "recipient_ref": notification.recipient_ref,
                 "channel": notification.channel.value, "attempts": notification.attempts}
        if failure is None:
            log.info("notification sent", **where)
        elif notification.status is NotificationStatus.failed:
            log.warning("notification failed", **where, error=failure.reason)
        else:
            log.info("notification attempt failed, will retry", **where, error=failure.reason,
                     retry_in=_seconds(notification.next_attempt_at, now))


def _seconds(at: datetime | None, now: datetime) -> float | None:
    return round((at - now) / timedelta(seconds=1), 3) if at else None
