"""Instants against a mission's calendar and against the clock. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduling.domain.missions import Mission
from scheduling.domain.resources import local_days
from jumelage.errors import Conflict, Invalid

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a reported instant may be: clocks of the devices that
record a surgery or a consultation differ a little from ours."""


def require_within_mission(mission: Mission, start: datetime, end: datetime, tz: ZoneInfo, *, what: str) -> None:
    """[start, end) lies on the mission's days, in the host's calendar."""
    first, last = local_days(start, end, tz)
    if first < mission.starts_on or last > mission.ends_on:
        raise Conflict(
            f"{what} would take place on {first}{'' if first == last else f' to {last}'} ({tz.key}), outside "
            f"mission {mission.id} ({mission.starts_on} to {mission.ends_on})"
        )


def require_past(at: datetime, now: datetime, *, field: str) -> datetime:
    if at.tzinfo is None:
        raise Invalid("give a time zone (e.g. Z or +01:00)", field=field)
    at = at.astimezone(UTC)
    if at > now + CLOCK_SKEW:
        raise Invalid(f"{at:%Y-%m-%d %H:%M} UTC is in the future", field=field)
    return at
