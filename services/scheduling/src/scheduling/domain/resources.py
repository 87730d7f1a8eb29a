"""A host institution's resources: its time zone, intensive-care beds and operating rooms.

Instants are UTC everywhere; a room's opening hours and a mission's dates are
the host's wall clock and calendar, so every check converts to the host's
IANA time zone first. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jumelage.errors import Conflict, Invalid

if TYPE_CHECKING:  # commands name the aggregates' value types: imported for annotations only
    from scheduling.domain.commands import ChangeRoom, OpenRoom

DEFAULT_TIMEZONE = "Africa/Algiers"

DEFAULT_TURNOVER_MINUTES = 30
"""Between two surgeries in a room (cleaning, setting up), where neither the room nor its specialty says."""

SPECIALTY_TURNOVER_MINUTES: tuple[tuple[str, int], ...] = (
    ("cardi", 45),  # cardiac surgery, chirurgie cardiaque (pump, perfusion lines, sterile field)
    ("neuro", 45),  # neurosurgery, neurochirurgie
    ("ortho", 40),  # orthopaedic surgery, chirurgie orthopédique (implants, table set-up)
    ("traumato", 40),
)
"""A default turnover by specialty: the first keyword the mission's specialty contains
(ignoring case and accents' absence); any other specialty: ``DEFAULT_TURNOVER_MINUTES``."""

MAX_TURNOVER_MINUTES = 240


def default_turnover(specialty: str) -> int:
    name = specialty.casefold()
    return next((minutes for key, minutes in SPECIALTY_TURNOVER_MINUTES if key in name), DEFAULT_TURNOVER_MINUTES)


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{name!r} is not an IANA time zone (e.g. Africa/Algiers)", field=field) from None


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The host-calendar days a span [start, end) touches."""
    last = end - timedelta(microseconds=1) if end > start else end
    return start.astimezone(tz).date(), last.astimezone(tz).date()


def hhmm(t: datetime | time) -> str:
    return t.strftime("%H:%M")


@dataclass
class HostResources:
    institution_id: uuid.UUID
    timezone: str = DEFAULT_TIMEZONE
    icu_beds: int = 0

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def update(self, *, timezone: str, icu_beds: int) -> None:
        self.timezone = zone(timezone).key
        if icu_beds < 0:
            raise Invalid("the number of intensive-care beds cannot be negative", field="icu_beds")
        self.icu_beds = icu_beds


@dataclass
class OperatingRoom:
    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    opens_at: time
    closes_at: time
    turnover_minutes: int | None = None  # None: the mission's specialty's default

    def turnover_for(self, specialty: str) -> int:
        """The minutes this room needs between two surgeries of a mission of ``specialty``: the
        room's own if set, else the specialty's default. The optimiser and every booking use it."""
        return default_turnover(specialty) if self.turnover_minutes is None else self.turnover_minutes

    @classmethod
    def open(cls, cmd: OpenRoom, existing: list[OperatingRoom]) -> OperatingRoom:
        room = cls(id=uuid.uuid4(), institution_id=cmd.institution_id, name=cmd.name,
                   opens_at=cmd.opens_at, closes_at=cmd.closes_at, turnover_minutes=cmd.turnover_minutes)
        room._check(existing)
        return room

    def change(self, cmd: ChangeRoom, existing: list[OperatingRoom]) -> None:
        changed = replace(self, name=self.name if cmd.name is None else cmd.name,
                          opens_at=self.opens_at if cmd.opens_at is None else cmd.opens_at,
                          closes_at=self.closes_at if cmd.closes_at is None else cmd.closes_at,
                          turnover_minutes=None if cmd.default_turnover else (
                              self.turnover_minutes if cmd.turnover_minutes is None else cmd.turnover_minutes))
        changed._check(existing)  # on a copy: a refused change leaves the room as it was
        self.name, self.opens_at, self.closes_at = changed.name, changed.opens_at, changed.closes_at
        self.turnover_minutes = changed.turnover_minutes

    def _check(self, existing: list[OperatingRoom]) -> None:
        self.name = " ".join(self.name.split())
        if not self.name:
            raise Invalid("an operating room needs a name", field="name")
        for other in existing:
            same_place = other.institution_id == self.institution_id and other.id != self.id
            if same_place and other.name.casefold() == self.name.casefold():
                raise Conflict(f"institution {self.institution_id} already has an operating room named "
                               f"{other.name!r} (id {other.id})")
        for name in ("opens_at", "closes_at"):
            value: time = getattr(self, name)
            if value.tzinfo is not None:
                raise Invalid("opening hours are the host's wall-clock time, without a UTC offset", field=name)
            setattr(self, name, value.replace(second=0, microsecond=0))
        if self.turnover_minutes is not None and not 0 <= self.turnover_minutes <= MAX_TURNOVER_MINUTES:
            raise Invalid(f"a turnover is 0 to {MAX_TURNOVER_MINUTES} minutes", field="turnover_minutes")
        if self.closes_at <= self.opens_at:
            raise Invalid(f"the room closes ({hhmm(self.closes_at)}) before it opens ({hhmm(self.opens_at)})",
                          field="closes_at")

    @property
    def hours(self) -> str:
        return f"{hhmm(self.opens_at)}-{hhmm(self.closes_at)}"

    def require_open(self, start: datetime, end: datetime, tz: ZoneInfo) -> None:
        """[start, end) lies within one day's opening hours, on the host's wall clock."""
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        fits = (
            local_start.date() == local_end.date()
            and local_start.time() >= self.opens_at
            and local_end.time() <= self.closes_at
        )
        if not fits:
            raise Conflict(
                f"operating room {self.name!r} is open {self.hours} ({tz.key}); the surgery would run from "
                f"{local_start:%Y-%m-%d %H:%M} to {local_end:%Y-%m-%d %H:%M} local time"
            )
