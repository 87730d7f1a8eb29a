"""The surgery plan of a mission, as the domain sees it: what the optimiser answers (``Plan``: its
lines, the cases left out and why), the plan proposed to the caller in instants, and the
defaults a plan request leaves out. Pure: the optimiser (``scheduling.adapters.optimiser``)
computes a ``Plan``; ``handlers/planning.py`` translates it into a ``ProposedPlan``.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduling.domain.missions import Mission


class PlanStatus(StrEnum):
    optimal = "optimal"  # proven: no plan operates a better priority-weighted set with fewer moves
    feasible = "feasible"  # the best found within the time limit
    heuristic = "heuristic"  # the greedy plan: the solver found nothing better (bound: the solver's if it
    # proved one, else every case operated)
    greedy = "greedy"  # no longer answered (before issue 20: what ``heuristic`` is now); kept for clients
    empty = "empty"  # nothing to plan (reasons say why)
    infeasible = "infeasible"  # the constraints cannot hold (reasons say which)


@dataclass(frozen=True)
class Assignment:
    case_id: Hashable
    ref: str
    day: int
    room_id: Hashable
    start_minute: int
    duration_minutes: int
    surgeon_id: Hashable
    anaesthetist_id: Hashable | None
    icu_days: int
    surgery_id: Hashable | None = None  # an existing surgery
    moved: bool = False
    fixed: bool = False
    pinned: bool = False  # a scheduled surgery the coordinator pinned (or on a locked day): it stays
    moved_minutes: int = 0  # how far a moved surgery moves (days included), in minutes

    @property
    def end_minute(self) -> int:
        return self.start_minute + self.duration_minutes


@dataclass(frozen=True)
class Unplanned:
    case_id: Hashable
    ref: str
    reason: str


@dataclass
class Plan:
    status: PlanStatus
    objective: int  # priority-weighted count of cases operated (bookings included)
    bound: int  # no plan can score more (a proven bound, or every case operated)
    optimal: bool  # the solver's proof, or the greedy plan operates everything
    solve_seconds: float
    moves: int = 0  # surgeries moved
    assignments: list[Assignment] = field(default_factory=list)
    unplanned: list[Unplanned] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    solver: str = "cp-sat"
    greedy_objective: int = 0
    tiebreak_optimal: bool = False
    primary_seconds: float = 0.0  # the first solve (priorities, then moves): when ``optimal`` was proven

    @property
    def moved_minutes(self) -> int:
        return sum(a.moved_minutes for a in self.assignments)

    @property
    def gap(self) -> float:
        return 0.0 if self.bound <= 0 else (self.bound - self.objective) / self.bound


POST_OPERATIVE_DAYS: dict[tuple[str, int | None], int] = {
    **{("RACHS-1", c): d for c, d in {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3}.items()},
    **{("STAT", c): d for c, d in {1: 1, 2: 1, 3: 2, 4: 2, 5: 3}.items()},
    ("none", None): 0,
}
"""Days after the day of surgery during which the visiting operating team should still be on
site, by risk category (the critical post-operative window: most complications of congenital
heart surgery come in the first 48-72 hours, longer for the highest categories; shorter than the
intensive-care stay, ``ICU_DAYS``, whose end the host's own team sees to). A case is
planned no later than the mission's last day minus these days. Defaults, not clinical
guidance: a proposal may override them (``post_operative_days``); a category missing here is 0."""


def post_operative_days(table: Mapping[tuple[str, int | None], int], scheme: str, category: int | None) -> int:
    return table.get((scheme, category), 0)


@dataclass(frozen=True)
class PlannerDefaults:
    """What a plan request leaves out (the service's PLANNER_* settings): a bus dependency."""

    time_limit_seconds: float = 10.0
    turnover_minutes: int | None = None  # None: each room's (``resources.OperatingRoom.turnover_for``)
    max_daily_minutes_per_surgeon: int = 8 * 60


@dataclass(frozen=True)
class ProposedSurgery:
    """One line of a proposed plan, in instants."""

    case_id: uuid.UUID
    patient_ref: str
    surgery_id: uuid.UUID | None
    operating_room_id: uuid.UUID
    operating_room: str
    scheduled_start: datetime
    scheduled_end: datetime
    expected_duration_minutes: int
    lead_surgeon_id: uuid.UUID
    anaesthetist_id: uuid.UUID | None
    icu_days: int
    change: str  # new, moved, kept (scheduled, stays), fixed (started, completed or begun)
    moved_minutes: int = 0  # how far it moves (a moved surgery)
    pinned: bool = False  # pinned by the coordinator (or on a locked day)


@dataclass(frozen=True)
class ProposedPlan:
    mission_id: uuid.UUID
    plan: Plan
    surgeries: list[ProposedSurgery]
    settings: PlannerDefaults  # the values this plan was made with
    room_turnover_minutes: dict[uuid.UUID, int] = field(default_factory=dict)


def away_days(mission: Mission) -> dict[uuid.UUID, frozenset[int]]:
    """Each team member who is not on site the whole mission -> the days of the mission (0: its
    first) they are away: the optimiser uses a practitioner only on the days they are there."""
    days = (mission.ends_on - mission.starts_on).days + 1
    away = {}
    for member in mission.team:
        gone = frozenset(d for d in range(days) if not member.on_site(mission.starts_on + timedelta(days=d)))
        if gone:
            away[member.practitioner_id] = gone
    return away
