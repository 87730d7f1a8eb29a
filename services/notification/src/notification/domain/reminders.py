"""Reminders the day before a surgery or a mission start, at a local hour; and on the
thirtieth day after a surgery, the reminder to record its 30-day follow-up.

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

from notification.domain.routing import FOLLOW_UP_REMINDER, MISSION_REMINDER, SURGERY_REMINDER

FOLLOW_UP_DAYS = 30
"""The follow-up reminder goes out this many days after the surgery (host's calendar)."""

FOLLOW_UP_GRACE = timedelta(days=30)
"""A follow-up reminder the service could not send on its day (it was down) still goes out
within this long after; later it expires."""


class ReminderKind(StrEnum):
    surgery = "surgery"
    mission = "mission"
    follow_up = "follow_up"  # the surgery's 30-day follow-up is to be recorded

    @property
    def occurrence_type(self) -> str:
        return {ReminderKind.surgery: SURGERY_REMINDER, ReminderKind.mission: MISSION_REMINDER,
                ReminderKind.follow_up: FOLLOW_UP_REMINDER}[self]


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


    def follow_up(self, subject_id: uuid.UUID, completed_at: datetime, now: datetime) -> Reminder | None:
        """The reminder to record a surgery's 30-day follow-up: on the thirtieth local day after
        it, at ``hour``; due at once if planned late, none once its grace has run out."""
        due_on = completed_at.astimezone(self.timezone).date() + timedelta(days=FOLLOW_UP_DAYS)
        due_at = datetime.combine(due_on, time(self.hour), tzinfo=self.timezone).astimezone(UTC)
        # ``subject_starts_at`` is when it stops being useful (Reminder.fire expires it then).
        until = due_at + FOLLOW_UP_GRACE
        if until <= now:
            return None
        return Reminder(id=uuid.uuid4(), kind=ReminderKind.follow_up, subject_id=subject_id, due_on=due_on,
                        due_at=due_at, subject_starts_at=until)


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
