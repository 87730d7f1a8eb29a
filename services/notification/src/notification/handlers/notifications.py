"""Reads of the notifications and their delivery status."""

from __future__ import annotations

from jumelage.errors import NotFound
from notification.domain.commands import FindNotifications, GetNotification
from notification.domain.delivery import Notification
from notification.store.unit_of_work import NotificationUnitOfWork


async def find_notifications(query: FindNotifications,
                             uow: NotificationUnitOfWork) -> tuple[list[Notification], int, str | None]:
    async with uow:
        return await uow.notifications.search(query.filter, limit=query.limit, offset=query.offset,
                                              cursor=query.cursor)


async def get_notification(query: GetNotification, uow: NotificationUnitOfWork) -> Notification:
    async with uow:
        n = await uow.notifications.get(query.notification_id)
    if n is None:
        raise NotFound(f"no notification {query.notification_id}")
    return n
