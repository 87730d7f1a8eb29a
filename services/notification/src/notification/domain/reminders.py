"""Reminders the day before a surgery or a mission start, at a local hour.

A reminder is a row with a unique key (kind, subject, due date): rescheduling
cancels the old date's row and plans the new one; firing marks the row in the
transaction that creates its notifications, so it never fires twice, not even
across a restart.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from notification.domain.routing import MISSION_REMINDER, SURGERY_REMINDER


class ReminderKind(StrEnum):
    surgery = "surgery"
    mission = "mission"

    @property
    def occurrence_type(self) -> str:
        return SURGERY_REMINDER if self is ReminderKind.surgery else MISSION_REMINDER


class ReminderStatus(StrEnum):
    scheduled = "scheduled"
    fired = "fired"
    cancelled = "cancelled"  # the subject was cancelled or moved to another day
    expired = "expired"  # came due only after its subject had begun (service was down)


@dataclass(frozen=True)
class ReminderPolicy:
    hour: int
    timezone: tzinfo

    def mission_start(self, starts_on: date) -> datetime:
        """A mission begins at the start of its first local day."""
        return datetime.combine(starts_on, time(0), tzinfo=self.timezone).astimezone(UTC)

    def plan(self, kind: ReminderKind, subject_id: uuid.UUID, starts_at: datetime, now: datetime) -> Reminder | None:
        """The reminder for a subject starting at ``starts_at``; none once it has begun.

        Due the local day before at ``hour``; if that is already past (planned
        late), it is due at once and still useful.
        """
        if starts_at <= now:
            return None
        due_on = starts_at.astimezone(self.timezone).date() - timedelta(days=1)
        due_at = datetime.combine(due_on, time(self.hour), tzinfo=self.timezone).astimezone(UTC)
        return Reminder(id=uuid.uuid4(), kind=kind, subject_id=subject_id, due_on=due_on, due_at=due_at,
                        subject_starts_at=starts_at)


@dataclass
class Reminder:
    id: uuid.UUID
    kind: ReminderKind
    subject_id: uuid.UUID
    due_on: date
    due_at: datetime
    subject_starts_at: datetime
    status: ReminderStatus = ReminderStatus.scheduled
    fired_at: datetime | None = None

    def fire(self, now: datetime) -> bool:
        """True if the reminder is to be sent now; a reminder whose subject has
        already begun (the service was down past it) expires instead."""
        if self.status is not ReminderStatus.scheduled:
            return False
        if self.subject_starts_at <= now:
            self.status = ReminderStatus.expired
            return False
        self.status, self.fired_at = ReminderStatus.fired, now
        return True
