"""Events produced by the notification service (source ``/services/notification``).

Only ``recipient_ref`` travels: the recipient's address stays in this service.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

from jumelage.events.envelope import EventData

SOURCE = "/services/notification"


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    webhook = "webhook"


class NotificationEvent(EventData, source=SOURCE, abstract=True):
    pass


# A shared abstract base rather than NotificationFailed(NotificationSent), so a
# failure is never an instance of the "sent" event.
class _Notification(NotificationEvent, abstract=True):
    subject_of = ("notifications", "notification_id")

    notification_id: uuid.UUID
    cause_event_id: uuid.UUID
    channel: Channel
    recipient_ref: str = Field(min_length=1)
    template: str = Field(min_length=1)


class NotificationSent(_Notification):
    pass


class NotificationFailed(_Notification):
    """Published once retries are exhausted."""

    error: str = Field(min_length=1)
    attempts: int = Field(ge=1)


__all__ = ["Channel", "NotificationEvent", "NotificationFailed", "NotificationSent"]
