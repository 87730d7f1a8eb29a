"""The time the services live in: an injectable clock.

Dates that mean something to people (a convention's last day, tomorrow's
reminder) are taken in the programmes' local time zone. Two ways to replay a
past programme (demonstrations, training):

* ``simulated_start``: the clock starts at that instant and runs at normal speed;
* ``scenario_file``: the clock shows the instant written in that file, so the
  person (or script) telling the story moves time for every service at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self, timezone: str = "UTC", simulated_start: datetime | None = None,
                 scenario_file: Path | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        self._offset = timedelta(0)
        if simulated_start is not None:
            self._offset = simulated_start.astimezone(UTC) - datetime.now(UTC)
        self._scenario = scenario_file
        self._seen: tuple[float, datetime] | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Clock:
        return cls(settings.timezone, settings.simulated_start, settings.scenario_clock_file)

    def now(self) -> datetime:
        if self._scenario is not None:
            return self._scenario_now(self._scenario)
        return datetime.now(UTC) + self._offset

    def _scenario_now(self, path: Path) -> datetime:
        mtime = path.stat().st_mtime
        if self._seen is None or self._seen[0] != mtime:  # re-read only when the story moves
            self._seen = (mtime, datetime.fromisoformat(path.read_text().strip()).astimezone(UTC))
        return self._seen[1]

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
