"""The time the services live in: an injectable clock.

Dates that mean something to people (a convention's last day, tomorrow's
reminder) are taken in the programmes' local time zone. Two ways to replay a
past programme (demonstrations, training):

* ``simulated_start``: the clock starts at that instant and runs at normal speed;
* ``scenario_file``: the clock shows the instant written in that file, so the
  person (or script) telling the story moves time for every service at once.
  Write it with :func:`write_scenario_instant` (atomically: a reader sees the
  old instant or the new one, never a file half written). A reader that finds
  the file unreadable or not an instant keeps the last instant it read (a
  warning, once), and never raises: a clock is read everywhere, by handlers,
  the delivery worker and the reminder job, and must not fail them.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jumelage.logging import get_logger

log = get_logger(__name__)


def write_scenario_instant(path: Path, instant: datetime | str) -> None:
    """Move a scenario clock: a temporary file in the same folder, then ``os.replace``
    (atomic on POSIX and Windows), so a service reading meanwhile never sees ''."""
    text = instant.isoformat() if isinstance(instant, datetime) else instant.strip()
    datetime.fromisoformat(text)  # refuse to write what no reader could read
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class Clock:
    def __init__(self, timezone: str = "UTC", simulated_start: datetime | None = None,
                 scenario_file: Path | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        self._offset = timedelta(0)
        if simulated_start is not None:
            self._offset = simulated_start.astimezone(UTC) - datetime.now(UTC)
        self._scenario = scenario_file
        self._seen: tuple[tuple[int, int, int], datetime] | None = None
        self._unreadable = False

    @classmethod
    def from_settings(cls, settings: Any) -> Clock:
        return cls(settings.timezone, settings.simulated_start, settings.scenario_clock_file)

    def now(self) -> datetime:
        if self._scenario is not None:
            return self._scenario_now(self._scenario)
        return datetime.now(UTC) + self._offset

    def _scenario_now(self, path: Path) -> datetime:
        try:
            st = path.stat()
            # Re-read only when the story moves: a new file (os.replace), or one rewritten in place.
            version = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._seen is None or self._seen[0] != version:
                self._seen = (version, datetime.fromisoformat(path.read_text(encoding="utf-8").strip())
                              .astimezone(UTC))
                self._unreadable = False
            return self._seen[1]
        except Exception as exc:  # missing, half written, not an instant: never the caller's failure
            keeping = self._seen[1] if self._seen is not None else datetime.now(UTC) + self._offset
            if not self._unreadable:  # once per spell, not on every reading
                self._unreadable = True
                log.warning("scenario clock file unreadable, keeping the last instant read", path=str(path),
                            error=type(exc).__name__, keeping=keeping.isoformat(),
                            last_read=self._seen is not None)
            return keeping

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


__all__ = ["Clock", "FixedClock", "write_scenario_instant"]
