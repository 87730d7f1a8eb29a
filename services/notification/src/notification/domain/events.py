"""The one mapper per wire event this service emits. ``Notification`` records them
(``self.happened(...)``) when an attempt ends; the delivery flow hands the
notification to ``uow.record_from``. Nothing else builds these events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jumelage.events.notification import NotificationFailed, NotificationSent

if TYPE_CHECKING:
    from notification.domain.delivery import Notification


def _about(n: Notification) -> dict[str, Any]:
    return {"notification_id": n.id, "cause_event_id": n.cause_event_id, "channel": n.channel,
            "recipient_ref": n.recipient_ref, "template": n.template}


def notification_sent(n: Notification) -> NotificationSent:
    return NotificationSent(**_about(n))


def notification_failed(n: Notification, error: str) -> NotificationFailed:
    """``error``: the last attempt's whole reason (``last_error`` keeps 1000 characters of it)."""
    return NotificationFailed(**_about(n), error=error, attempts=n.attempts)
