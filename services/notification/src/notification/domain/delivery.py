"""A notification's life:

    pending -> sending (claimed for an attempt, under a lease)
            -> transmitting (the send begins: written before it)
            -> sent, or back to pending with a later attempt after a transient
               failure, or failed after the last attempt or a permanent failure.

Delivery happens outside the transaction that created the notification. At most
one send: a row still ``sending`` when its lease runs out was never sent (its
worker stopped before beginning), so another worker takes it over; a row still
``transmitting`` when its lease runs out may or may not have gone out (its
worker stopped, or could not record the outcome), so it becomes ``unknown`` and
is never sent again. Its worker, if it is still running, records the real
outcome over ``unknown`` when it can.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from jumelage.domain import Aggregate
from jumelage.events.notification import Channel
from notification.domain import events


class NotificationStatus(StrEnum):
    pending = "pending"
    sending = "sending"            # claimed for an attempt that has not begun
    transmitting = "transmitting"  # the attempt has begun: the message may be on its way
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"  # the contact was deleted or withdrew consent before delivery
    unknown = "unknown"  # the attempt began and its outcome was never recorded: not sent again

# The statement, in the history and the logs, for a notification whose outcome is unknown.
OUTCOME_UNKNOWN = "outcome unknown: the send began and its outcome was never recorded; not sent again"


class DeliveryFailure(Exception):
    """A channel could not deliver. ``reason`` goes into ``NotificationFailed``:
    it names what failed (a status code, an error class), never an address."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientFailure(DeliveryFailure):
    """Worth another attempt later: a 5xx, a timeout, a server away."""


class PermanentFailure(DeliveryFailure):
    """Another attempt would fail the same way: a 4xx, a refused address."""

    permanent = True


class OutcomeUnknown(DeliveryFailure):
    """The send failed after the message had left (the connection lost after DATA
    began, no reply to a request sent): it may have arrived. Never sent again."""

    permanent = True


@dataclass(frozen=True)
class RetryPolicy:
    delays: tuple[float, ...]  # seconds before the 2nd, 3rd, ... attempt
    lease: float = 120.0  # longer than any send takes: only a stopped worker's rows are taken over or in doubt

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.delays)

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` attempts; None when they are spent."""
        if attempts >= self.max_attempts:
            return None
        return now + timedelta(seconds=self.delays[attempts - 1])


@dataclass(frozen=True)
class Message:
    """What is sent, rendered when the notification is created.

    Email: subject, text and HTML. SMS: text. Webhook: ``payload``, the JSON
    document posted (the event and recipient info, no contact details)."""

    text: str
    subject: str | None = None
    html: str | None = None
    payload: dict[str, Any] | None = None


@dataclass
class Notification(Aggregate):
    id: uuid.UUID
    cause_event_id: uuid.UUID  # the event, or the reminder, that caused it
    cause_type: str
    contact_id: uuid.UUID
    recipient_ref: str
    channel: Channel
    language: str
    template: str
    message: Message
    created_at: datetime
    correlation_id: str | None = None
    status: NotificationStatus = NotificationStatus.pending
    attempts: int = 0
    next_attempt_at: datetime | None = None
    lease_until: datetime | None = None
    claim: uuid.UUID | None = None
    last_error: str | None = None
    sent_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.next_attempt_at is None and self.status is NotificationStatus.pending:
            self.next_attempt_at = self.created_at

    def take(self, now: datetime, policy: RetryPolicy, claim: uuid.UUID, wall: datetime | None = None) -> None:
        """Claim for one attempt: a due pending row, or a row whose worker's lease ran out.

        ``wall`` is the real time the lease runs on (default ``now``): a lease is a
        technical timeout, and a scenario clock that jumps days ahead must not hand
        a notification being sent to a second worker."""
        wall = wall or now
        if not self.due(now, wall):
            raise ValueError(f"notification {self.id} is not due")
        self.status = NotificationStatus.sending
        self.attempts += 1
        self.claim = claim
        self.lease_until = wall + timedelta(seconds=policy.lease)

    def due(self, now: datetime, wall: datetime | None = None) -> bool:
        """Due for an attempt: a pending row whose time has come, or a claimed row whose
        worker stopped before beginning to send (nothing went out: taken over)."""
        if self.status is NotificationStatus.pending:
            return self.next_attempt_at is None or self.next_attempt_at <= now
        wall = wall or now
        return self.status is NotificationStatus.sending and self.lease_until is not None and self.lease_until < wall

    def begin(self, policy: RetryPolicy, claim: uuid.UUID, wall: datetime) -> None:
        """The send is about to begin (written before it): from now on a lost outcome
        is unknown, never a reason to send again. The lease is how long its worker has
        to record the outcome before the row is said to be in doubt."""
        if not self.holds(claim) or self.status is not NotificationStatus.sending:
            raise ValueError(f"notification {self.id} is not claimed under {claim}")
        self.status = NotificationStatus.transmitting
        self.lease_until = wall + timedelta(seconds=policy.lease)

    def in_doubt(self, wall: datetime) -> bool:
        """Begun, and its worker did not record the outcome within the lease."""
        return (self.status is NotificationStatus.transmitting and self.lease_until is not None
                and self.lease_until < wall)

    def outcome_unknown(self, reason: str = OUTCOME_UNKNOWN) -> None:
        """Say so rather than send again or claim it was sent. The claim stays: the
        worker that began it, if it still runs, may record the real outcome later."""
        if self.status is not NotificationStatus.transmitting:
            raise ValueError(f"notification {self.id} is not being sent")
        self.status, self.lease_until, self.last_error = NotificationStatus.unknown, None, reason[:1000]

    def holds(self, claim: uuid.UUID) -> bool:
        """Is this attempt still ours? (Not if the lease ran out and another worker took it.)"""
        return self.status in _ATTEMPTING and self.claim == claim

    def delivered(self, now: datetime) -> None:
        self.status, self.sent_at = NotificationStatus.sent, now
        self.lease_until = self.claim = None
        self.last_error = None
        self.happened(events.notification_sent(self))

    def attempt_failed(self, failure: DeliveryFailure, now: datetime, policy: RetryPolicy) -> bool:
        """Record a failed attempt; True if it was the last (the notification failed)."""
        self.last_error = failure.reason[:1000]
        self.lease_until = self.claim = None
        retry_at = None if failure.permanent else policy.next_attempt(self.attempts, now)
        if retry_at is None:
            self.status = NotificationStatus.failed
            self.happened(events.notification_failed(self, failure.reason))
            return True
        self.status, self.next_attempt_at = NotificationStatus.pending, retry_at
        return False

    def cancel(self) -> None:
        if self.status is NotificationStatus.pending:
            self.status = NotificationStatus.cancelled


# An attempt under way (or lost): its worker's outcome is still welcome.
_ATTEMPTING = frozenset({NotificationStatus.sending, NotificationStatus.transmitting, NotificationStatus.unknown})
