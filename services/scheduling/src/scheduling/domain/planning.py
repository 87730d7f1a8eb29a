"""The surgery plan of a mission, as the domain sees it: what the optimiser answers (``Plan``: its
lines, the cases left out and why), the plan proposed to the caller in instants, and the
defaults a plan request leaves out. Pure: the optimiser (``scheduling.adapters.optimiser``)
computes a ``Plan``; ``handlers/planning.py`` translates it into a ``ProposedPlan``.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduling.domain.missions import Mission


class PlanStatus(StrEnum):
    optimal = "optimal"  # proven: no plan operates a better priority-weighted set with fewer moves
    feasible = "feasible"  # the best found within the time limit
    greedy = "greedy"  # the solver found nothing better than the greedy baseline
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
    bound: int  # no plan can score more
    optimal: bool
    solve_seconds: float
    moves: int = 0
    assignments: list[Assignment] = field(default_factory=list)
    unplanned: list[Unplanned] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    solver: str = "cp-sat"
    greedy_objective: int = 0
    tiebreak_optimal: bool = False
    primary_seconds: float = 0.0  # the first solve (priorities, then moves): when ``optimal`` was proven

    @property
    def gap(self) -> float:
        return 0.0 if self.bound <= 0 else (self.bound - self.objective) / self.bound


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
