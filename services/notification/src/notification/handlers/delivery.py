"""The delivery flow: the worker that sends notifications outside any consumer
transaction, through the channel adapters (``adapters/channels.py``).

A new notification is created already claimed for its first attempt (``sending``,
a lease) in the transaction of its cause; once that commits, it is handed over
(``hand_over``, ``handlers/notify.py``) and sent at once. Everything else (retries,
and anything whose worker stopped before sending) goes through rounds: claim due
rows in a short transaction (``sending``, a lease, one more attempt; PostgreSQL
``FOR UPDATE SKIP LOCKED`` so replicas share the work).

At most one send. Before sending, one small transaction marks the claimed rows
``transmitting`` (``begin``); then each is sent with no transaction open, and its
outcome recorded in its own transaction together with ``NotificationSent`` or,
after the last attempt, ``NotificationFailed`` (the outbox), so each is emitted
exactly once. An error after a send never leads to a second send: recording the
outcome is retried (with backoff, until it is recorded or the process stops),
never the delivery. A row left ``sending`` when its lease runs out was never
sent: a round takes it over. A row left ``transmitting`` (its worker stopped
mid-send, or could not record the outcome for a whole lease) may or may not have
gone out: a round marks it ``unknown`` and nobody sends it again; its worker, if
it still runs, records the real outcome over that when it can.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import datetime, timedelta

from jumelage import context, tracing
from jumelage.clock import Clock
from jumelage.events.notification import Channel
from jumelage.logging import get_logger
from jumelage.metrics import NOTIFICATION_SECONDS, notification_outcome, timed
from jumelage.tasks import spawn
from notification.adapters.channels import Address, Outgoing, Sender
from notification.domain.contacts import Contact
from notification.domain.delivery import (
    OUTCOME_UNKNOWN, DeliveryFailure, Notification, NotificationStatus, OutcomeUnknown, PermanentFailure,
    RetryPolicy,
)
from notification.store.unit_of_work import NotificationUnitOfWork

log = get_logger(__name__)


class DeliveryWorker:
    """``clock``: the service's time (due dates, ``sent_at``); ``wall``: the real time the
    leases run on, whatever ``clock`` shows. ``unit_of_work`` makes one unit per
    transaction: the runtime's, given by ``attach`` once it exists (the runtime
    runs this worker, so each needs the other)."""

    def __init__(
        self,
        senders: Mapping[Channel, Sender],
        *,
        clock: Clock,
        wall: Clock,
        retry: RetryPolicy,
        batch_size: int = 20,
        poll_interval: float = 1.0,
        on_stop: Callable[[], object] | None = None,
        max_record_backoff: float = 10.0,
    ) -> None:
        self.unit_of_work: Callable[[], NotificationUnitOfWork] = _unattached
        self.senders = dict(senders)
        self.clock, self.wall, self.retry = clock, wall, retry
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_stop = on_stop
        self.max_record_backoff = max_record_backoff
        self._handed: set[asyncio.Task[None]] = set()

    def attach(self, unit_of_work: Callable[[], NotificationUnitOfWork]) -> None:
        self.unit_of_work = unit_of_work

    def hand_over(self, claimed: Sequence[tuple[Notification, Contact | None]], claim: uuid.UUID) -> None:
        """Send notifications claimed under ``claim`` by a transaction that just committed."""
        task = spawn(self._deliver_all(claimed, claim), name="deliver-handed-over")  # a failure is logged
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
        """Let sends under way end. One cancelled before it began is sent again once its
        lease runs out; one cancelled after becomes ``unknown`` (at most one send)."""
        if self._handed:
            _done, running = await asyncio.wait(set(self._handed), timeout=grace)
            for task in running:
                task.cancel()

    async def _until_next_due(self) -> float:
        """Sleep until the next retry is due or the poll interval."""
        async with self.unit_of_work() as uow:
            next_due = await uow.notifications.next_due_at()
            now = self.clock.now()
        if next_due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (next_due - now).total_seconds()))

    async def deliver_due(self) -> int:
        """One round: say which begun sends are in doubt, claim, send, record.
        Returns how many were claimed."""
        claim = uuid.uuid4()
        async with self.unit_of_work() as uow:
            now, wall = self.clock.now(), self.wall.now()
            for lost in await uow.notifications.in_doubt(wall, self.batch_size):
                lost.outcome_unknown()
                await uow.notifications.save(lost)
                log.warning("notification outcome unknown, not sent again", notification_id=str(lost.id),
                            recipient_ref=lost.recipient_ref, channel=lost.channel.value, attempts=lost.attempts,
                            reason=OUTCOME_UNKNOWN)
            claimed: list[tuple[Notification, Contact | None]] = []
            for notification in await uow.notifications.due(now, wall, self.batch_size):
                notification.take(now, self.retry, claim, wall)
                await uow.notifications.save(notification)
                claimed.append((notification, await uow.contacts.get(notification.contact_id)))
            await uow.commit()
        await self._deliver_all(claimed, claim)
        return len(claimed)

    async def _deliver_all(self, claimed: Sequence[tuple[Notification, Contact | None]], claim: uuid.UUID) -> None:
        if not claimed:
            return
        # Written before any send: from here a lost outcome is "unknown", never a second send.
        # If this fails nothing was sent, and the rows, still "sending", are taken over after their lease.
        async with self.unit_of_work() as uow:
            begun = await uow.notifications.begin([n for n, _ in claimed], claim, self.retry, self.wall.now())
            await uow.commit()
        await asyncio.gather(*(self._deliver(n, c, claim) for n, c in claimed if n.id in begun))

    async def _deliver(self, notification: Notification, contact: Contact | None, claim: uuid.UUID) -> None:
        with (context.chain(correlation=notification.correlation_id, causation=str(notification.cause_event_id)),
              tracing.tracer().start_as_current_span(  # under the consumer's span when handed over by it
                  f"deliver {notification.channel.value}", kind=tracing.SpanKind.CLIENT,
                  attributes={"jumelage.notification_id": str(notification.id)})):
            failure: DeliveryFailure | None = None
            try:
                with timed(NOTIFICATION_SECONDS.labels(notification.channel.value)):
                    await self._send(notification, contact)
            except DeliveryFailure as exc:
                failure = exc
            except Exception as exc:  # a bug or an unexpected library error: it may have gone out
                failure = OutcomeUnknown(f"outcome unknown: the sender raised an unexpected {type(exc).__name__}")
                log.exception("sender raised unexpectedly", notification_id=str(notification.id),
                              channel=notification.channel.value)
            await self._record_until_done(notification, claim, failure)

    async def _record_until_done(self, notification: Notification, claim: uuid.UUID,
                                 failure: DeliveryFailure | None) -> None:
        """Record the outcome, again and again if need be (the database away, a clock
        that cannot be read): the send happened, and it is never made again."""
        backoff = 0.1
        while True:
            try:
                # A fresh copy each time: a try that failed may have changed the one it had.
                await self._record(dataclasses.replace(notification), claim, failure)
                return
            except asyncio.CancelledError:
                log.error("delivery outcome not recorded: stopped", notification_id=str(notification.id),
                          delivered=failure is None, reason="the notification's outcome becomes unknown")
                raise
            except Exception as exc:
                log.warning("delivery outcome not recorded, retrying", notification_id=str(notification.id),
                            error=type(exc).__name__, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_record_backoff)

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
            now = self.clock.now()
            if failure is None:
                notification.delivered(now)  # records NotificationSent
            elif isinstance(failure, OutcomeUnknown):
                notification.outcome_unknown(failure.reason)  # neither sent nor failed: no event claims either
            else:
                notification.attempt_failed(failure, now, self.retry)  # the last one records NotificationFailed
            uow.record_from(notification)
            if not await uow.notifications.record_attempt(notification, claim):
                # Our lease ran out and another round took the row: it records the outcome.
                log.warning("delivery outcome not recorded: claim lost", notification_id=str(notification.id))
                return  # rolled back: nor the event
            await uow.commit()
        where = {"notification_id": str(notification.id), "recipient_ref": notification.recipient_ref,
                 "channel": notification.channel.value, "attempts": notification.attempts}
        notification_outcome(notification.channel.value, failure is None, notification.status.value)
        if failure is None:
            log.info("notification sent", **where)
        elif notification.status is NotificationStatus.unknown:
            log.warning("notification outcome unknown, not sent again", **where, reason=failure.reason)
        elif notification.status is NotificationStatus.failed:
            log.warning("notification failed", **where, error=failure.reason)
        else:
            log.warning("notification attempt failed, will retry", **where, error=failure.reason,
                     retry_in=_seconds(notification.next_attempt_at, now))


def _unattached() -> NotificationUnitOfWork:
    raise RuntimeError("the delivery worker is not attached to a runtime (DeliveryWorker.attach)")


def _seconds(at: datetime | None, now: datetime) -> float | None:
    return round((at - now) / timedelta(seconds=1), 3) if at else None
