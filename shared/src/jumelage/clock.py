"""The time the services live in: an injectable clock.

Dates that mean something to people (a convention's last day, tomorrow's
reminder) are taken in the programmes' local time zone. ``simulated_start``
lets a demonstration or a training session replay a past programme: the clock
starts at that instant and runs at normal speed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, timezone: str = "UTC", simulated_start: datetime | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        self._offset = timedelta(0)
        if simulated_start is not None:
            self._offset = simulated_start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)


class FixedClock(Clock):
    """A clock that only moves when told to (tests)."""

    def __init__(self, at: datetime, timezone: str = "UTC") -> None:
        super().__init__(timezone)
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


__all__ = ["Clock", "FixedClock"]
