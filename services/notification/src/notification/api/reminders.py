"""``/reminders``: the day-before reminders, planned, fired or cancelled (the notification desk)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from jumelage.api import Limit, Offset
from jumelage.service import BusDep
from notification import access
from notification.access import UoW
from notification.domain.commands import FindReminders
from notification.domain.reminders import ReminderKind, ReminderStatus


reminders = APIRouter(prefix="/reminders", tags=["reminders"])


class ReminderOut(BaseModel):
    id: uuid.UUID = Field(description="the cause_event_id of the notifications it fires")
    kind: ReminderKind
    subject_id: uuid.UUID = Field(description="the surgery or mission")
    due_on: date
    due_at: datetime
    subject_starts_at: datetime
    status: ReminderStatus
    fired_at: datetime | None


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    total: int
    limit: int
    offset: int


@reminders.get("", response_model=ReminderPage, summary="Day-before reminders: planned, fired, cancelled",
               dependencies=[access.DESK])
async def list_reminders(uow: UoW, bus: BusDep, subject_id: uuid.UUID | None = None,
                         status: ReminderStatus | None = None,
                         limit: Limit = 50, offset: Offset = 0) -> ReminderPage:
    items, total = await bus.handle(FindReminders(subject_id, status, limit, offset), uow)
    return ReminderPage(items=[ReminderOut(**vars(r)) for r in items], total=total, limit=limit, offset=offset)
