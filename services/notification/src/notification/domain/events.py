"""The one mapper per wire event this service emits. ``Notification`` (``delivery.py``)
records them (``self.happened(...)``) when an attempt ends; the delivery flow hands
the notification to ``uow.record_from``. Nothing else builds these events."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from jumelage.events.notification import Channel, NotificationFailed, NotificationSent


class Notified(Protocol):
    """What the events say of a ``Notification`` (typed so, as ``delivery.py`` imports this module)."""

    id: uuid.UUID
    cause_event_id: uuid.UUID
    channel: Channel
    recipient_ref: str
    template: str
    attempts: int


def _about(n: Notified) -> dict[str, Any]:
    return {"notification_id": n.id, "cause_event_id": n.cause_event_id, "channel": n.channel,
            "recipient_ref": n.recipient_ref, "template": n.template}


def notification_sent(n: Notified) -> NotificationSent:
    return NotificationSent(**_about(n))


def notification_failed(n: Notified, error: str) -> NotificationFailed:
    """``error``: the last attempt's whole reason (``last_error`` keeps 1000 characters of it)."""
    return NotificationFailed(**_about(n), error=error, attempts=n.attempts)
