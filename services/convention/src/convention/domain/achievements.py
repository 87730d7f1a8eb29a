"""What a convention's surgeries say beyond their count: the local teams' autonomy (who led them,
the steps each practitioner of the host has climbed) and how the children are thirty days after.

These figures are kept as tallies, raised as each fact arrives (``handlers/progress.py``), never
recomputed from every fact on a read. This module is the pure part: the keys the tallies go by,
the order of the steps, and the shares and rates derived from a tally. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from jumelage.events.scheduling import LOCAL_ROLE_STEPS, FollowUpOutcome, LocalRole

UNKNOWN_RISK = "unknown"
"""The risk key of a surgery reported without its risk (before the contract carried it)."""

SCHEMES = ("STAT", "RACHS-1", "none", UNKNOWN_RISK)

COMPLICATIONS = (FollowUpOutcome.readmitted, FollowUpOutcome.reoperated, FollowUpOutcome.surgical_site_infection)

OUTCOMES_RULE = (
    "Each surgery completed under the convention counts once as operated, in its case's risk category. "
    "A patient who died at surgery counts as followed up and as a death within 30 days; every other "
    "patient counts as followed up once the host's clinicians record the 30-day follow-up. The 30-day "
    "mortality and the complication rates are taken over the patients followed up whose outcome is known "
    "(those lost to follow-up left out); the share followed up is over the patients operated.")

AUTONOMY_RULE = (
    "A surgery is led by the local team when its lead surgeon's home institution is the mission's host (or one of its host sites). "
    "Each local practitioner's steps are the roles they held in the convention's surgeries (observer, "
    "assistant, primary surgeon under supervision, independent), each with the first time and how often; "
    "the highest role reached is the last step.")


def risk_key(scheme: str | None, category: int | None) -> str:
    """``STAT 3``, ``RACHS-1 2``, ``none`` (non-cardiac), or ``unknown``."""
    if scheme is None:
        return UNKNOWN_RISK
    if scheme == "none" or category is None:
        return scheme
    return f"{scheme} {category}"


def risk_order(key: str) -> tuple[int, int]:
    scheme, _, category = key.partition(" ")
    rank = SCHEMES.index(scheme) if scheme in SCHEMES else len(SCHEMES)
    return rank, int(category) if category.isdigit() else 0


def split_risk(key: str) -> tuple[str, int | None]:
    scheme, _, category = key.partition(" ")
    return scheme, int(category) if category.isdigit() else None


def month_of(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m")


def quarter_of(month: str) -> str:
    year, m = month.split("-")
    return f"{year}-Q{(int(m) - 1) // 3 + 1}"


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class LedTally:
    """Surgeries of one risk category (and period), and how many the local team led."""

    risk: str
    surgeries: int
    led_locally: int

    @property
    def share(self) -> float | None:
        return percent(self.led_locally, self.surgeries)


def merged(tallies: Iterable[LedTally]) -> list[LedTally]:
    """The tallies summed per risk category, in the categories' order."""
    sums: dict[str, list[int]] = {}
    for t in tallies:
        s = sums.setdefault(t.risk, [0, 0])
        s[0] += t.surgeries
        s[1] += t.led_locally
    return [LedTally(risk, *sums[risk]) for risk in sorted(sums, key=risk_order)]


@dataclass(frozen=True)
class Step:
    role: LocalRole
    first_at: datetime
    surgeries: int


@dataclass(frozen=True)
class Climb:
    """A local practitioner's steps, lowest role first."""

    practitioner_ref: str
    full_name: str | None
    steps: tuple[Step, ...]

    @property
    def highest(self) -> Step:
        return self.steps[-1]


def climbs(rows: Iterable[tuple[str, str | None, Step]]) -> list[Climb]:
    """(practitioner_ref, full_name, step) rows -> each practitioner's climb, the highest role first
    among practitioners, then by name."""
    by_ref: dict[str, tuple[list[str | None], list[Step]]] = {}
    for ref, name, step in rows:
        names, steps = by_ref.setdefault(ref, ([], []))
        names.append(name)
        steps.append(step)
    out = [Climb(ref, next((n for n in names if n), None),
                 tuple(sorted(steps, key=lambda s: LOCAL_ROLE_STEPS.index(s.role))))
           for ref, (names, steps) in by_ref.items()]
    return sorted(out, key=lambda c: (-LOCAL_ROLE_STEPS.index(c.highest.role), c.full_name or c.practitioner_ref))


@dataclass(frozen=True)
class OutcomeTally:
    """One risk category's 30-day outcomes."""

    risk: str
    operated: int = 0
    died_at_surgery: int = 0
    recorded: dict[str, int] = field(default_factory=dict)  # per FollowUpOutcome: follow-ups recorded

    def count(self, outcome: FollowUpOutcome) -> int:
        return self.recorded.get(outcome.value, 0)

    @property
    def followed_up(self) -> int:
        return self.died_at_surgery + sum(self.recorded.values())

    @property
    def known(self) -> int:
        """Followed up with a known outcome (not lost to follow-up)."""
        return self.followed_up - self.count(FollowUpOutcome.lost_to_follow_up)

    @property
    def deaths(self) -> int:
        return self.died_at_surgery + self.count(FollowUpOutcome.deceased)

    @property
    def complications(self) -> int:
        return sum(self.count(o) for o in COMPLICATIONS)

    @property
    def followed_up_share(self) -> float | None:
        return percent(self.followed_up, self.operated)

    @property
    def mortality(self) -> float | None:
        return percent(self.deaths, self.known)

    @property
    def complication_rate(self) -> float | None:
        return percent(self.complications, self.known)


def total(tallies: Iterable[OutcomeTally]) -> OutcomeTally:
    recorded: dict[str, int] = {}
    operated = died = 0
    for t in tallies:
        operated += t.operated
        died += t.died_at_surgery
        for k, v in t.recorded.items():
            recorded[k] = recorded.get(k, 0) + v
    return OutcomeTally("all", operated, died, recorded)
