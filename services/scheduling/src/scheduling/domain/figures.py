"""A host's waiting-list figures by period (issue 21, "Waiting lists and periods"): how many cases
wait at the end of each period, how many were registered, treated and left it (by reason), and how
long the treated ones waited. Counts only: no patient identity.

The periods are calendar months, quarters or years cut to the range asked, on the host's clock
(its time zone: ``HostResources.timezone``); a period ends at midnight after its last day there.
Pure: no I/O (the store counts, this cuts the periods and takes the median).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from jumelage.errors import Invalid
from scheduling.domain.values import CaseStatus

MAX_YEARS = 10
MAX_DAYS = 366 * MAX_YEARS  # "at most ten years": 3660 days, whatever the leap years

LEFT_REASONS = (CaseStatus.cancelled, CaseStatus.referred_elsewhere)
"""How a case leaves the waiting list without surgery: the closures the domain has (an erased
identity does not close a case: it stays on the list under its reference)."""


class Granularity(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date
    starts_at: datetime  # the first day's midnight on the host's clock, in UTC
    ends_at: datetime  # the midnight after the last day, in UTC: the period is [starts_at, ends_at)

    @property
    def label(self) -> str:
        return f"{self.first_day.isoformat()}/{self.last_day.isoformat()}"


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def _next_start(day: date, by: Granularity) -> date:
    """The first day of the calendar period after the one ``day`` is in."""
    if by is Granularity.year:
        return date(day.year + 1, 1, 1)
    months = 1 if by is Granularity.month else 3
    first_month = day.month if by is Granularity.month else (day.month - 1) // 3 * 3 + 1
    month = first_month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def periods(by: Granularity, first: date, last: date, tz: ZoneInfo) -> list[Period]:
    """The calendar periods from ``first`` to ``last`` (both included), the first and the last cut
    to the range."""
    if last < first:
        raise Invalid(f"'to' ({last}) is before 'from' ({first})", field="query.to")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"the range holds at most {MAX_YEARS} years ({MAX_DAYS} days)", field="query.to")
    out, day = [], first
    while day <= last:
        end = min(_next_start(day, Granularity(by)) - timedelta(days=1), last)
        out.append(Period(day, end, _midnight(day, tz), _midnight(end + timedelta(days=1), tz)))
        day = end + timedelta(days=1)
    return out


def days_waited(registered_at: datetime, completed_at: datetime, tz: ZoneInfo) -> int:
    """Whole days from the registration's day to the surgery's completion's day, on the host's clock."""
    return (completed_at.astimezone(tz).date() - registered_at.astimezone(tz).date()).days


def median(values: Iterable[int]) -> float | None:
    """The middle value, or the mean of the two middle ones; None for none."""
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


RULE = (
    "Periods: calendar {by}s from {first} to {last} (both included; the first and last cut to the range), "
    "each from midnight of its first day to midnight after its last day on the host's clock ({tz}). "
    "A case is on the waiting list from its registration until it is treated (its surgery completed: "
    "'completed_at') or leaves it without surgery (cancelled, or referred elsewhere: when it was closed); a "
    "scheduled case still waits, and an erased identity does not take a case off the list. "
    "waiting_at_end: cases registered before the period's end and neither treated nor left by then. "
    "registered / treated / left: cases registered, treated, closed without surgery within the period, left by "
    "reason (cancelled, referred_elsewhere). median_days_waited: the median of the whole days from the "
    "registration's day to the completion's day of the cases treated in the period (null when none). "
    "total: the same over the whole range (waiting_at_end: at its end). Counts only, computed on read."
)
CONVENTION_RULE = (
    " With convention_id: treated and median_days_waited count only the surgeries completed in missions of "
    "convention {convention}; registered, left and waiting_at_end stay the host's whole waiting list (a waiting "
    "case belongs to no convention), so a case treated in a mission of another convention leaves the list "
    "without counting as treated here."
)


def rule(by: Granularity, first: date, last: date, tz: str, convention: str | None) -> str:
    text = RULE.format(by=by.value, first=first, last=last, tz=tz)
    return text + (CONVENTION_RULE.format(convention=convention) if convention else "")
