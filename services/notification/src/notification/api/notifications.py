"""``/notifications``: what was sent to whom, and how its delivery went (the notification desk)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from jumelage.api import Cursor, Limit, Offset
from jumelage.events.notification import Channel
from jumelage.service import BusDep
from notification import access
from notification.access import UoW
from notification.domain.commands import FindNotifications, GetNotification, NotificationFilter
from notification.domain.delivery import Notification, NotificationStatus


notifications = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    id: uuid.UUID
    cause_event_id: uuid.UUID = Field(description="the event, or the reminder, that caused it")
    cause_type: str
    recipient_ref: str
    channel: Channel
    language: str
    template: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(id=n.id, cause_event_id=n.cause_event_id, cause_type=n.cause_type, recipient_ref=n.recipient_ref,
                   channel=n.channel, language=n.language, template=n.template, status=n.status,
                   attempts=n.attempts,
                   next_attempt_at=n.next_attempt_at if n.status is NotificationStatus.pending else None,
                   last_error=n.last_error, created_at=n.created_at, sent_at=n.sent_at)


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(None, description="the next page's `cursor` (keyset paging; null on the last page)")


@notifications.get("", response_model=NotificationPage, summary="Notifications and their delivery status, newest first",
                   dependencies=[access.DESK])
async def list_notifications(
    uow: UoW,
    bus: BusDep,
    cause_event_id: uuid.UUID | None = None,
    recipient_ref: Annotated[str | None, Query(max_length=200)] = None,
    status: NotificationStatus | None = None,
    cause_type: Annotated[str | None, Query(max_length=100,
                                            description="an event type, SurgeryReminder or MissionReminder")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> NotificationPage:
    """Paged by `offset`, or by keyset: each page's `next` is the `cursor` of the page after
    it, which costs the same however deep (give one or the other)."""
    f = NotificationFilter(cause_event_id=cause_event_id, recipient_ref=recipient_ref, status=status,
                           cause_type=cause_type)
    items, total, after = await bus.handle(FindNotifications(f, limit, offset, cursor), uow)
    return NotificationPage(items=[NotificationOut.of(n) for n in items], total=total, limit=limit, offset=offset,
                            next=after)


@notifications.get("/{notification_id}", response_model=NotificationOut, dependencies=[access.DESK])
async def get_notification(notification_id: uuid.UUID, uow: UoW, bus: BusDep) -> NotificationOut:
    return NotificationOut.of(await bus.handle(GetNotification(notification_id), uow))
