"""The surgery plan of a mission: propose (the optimiser, no writes) and apply (all or none)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body, Instant
from scheduling.api.surgeries import SurgeryOut
from scheduling.domain.commands import ApplyPlan, PlannedSurgery, ProposePlan
from scheduling.domain.planning import ProposedPlan
from jumelage.service import BusDep

router = APIRouter(prefix="/missions", tags=["planning"])


MAX_CASES = 500  # cases a plan weighs, or lines it applies


class PostOperativeDays(Body):
    risk: str = Field(pattern=r"^(RACHS-1 [1-6]|STAT [1-5]|none)$", max_length=10,
                      description='a risk category: "RACHS-1 1" to "RACHS-1 6", "STAT 1" to "STAT 5", "none"')
    days: int = Field(ge=0, le=30, description="days after the day of surgery with the team on site")


class PlanIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"time_limit_seconds": 10, "turnover_minutes": 30, "max_daily_minutes_per_surgeon": 480}]})

    time_limit_seconds: float | None = Field(default=None, gt=0, le=300,
                                             description="default: the service's PLANNER_TIME_LIMIT_SECONDS")
    turnover_minutes: int | None = Field(default=None, ge=0, le=240, description="between cases in every room, "
                                         "a what-if: applying checks each room's own; default: each room's "
                                         "turnover (its own, else its specialty's)")
    max_daily_minutes_per_surgeon: int | None = Field(
        default=None, gt=0, le=24 * 60, description="default: PLANNER_MAX_DAILY_MINUTES_PER_SURGEON (480)")
    case_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_CASES,
                                             description="default: every waiting case of the host")
    include_unready: bool = Field(default=False, description="plan cases whose readiness checklist is not "
                                  "complete too; by default they are left out, each with what it lacks")
    post_operative_days: list[PostOperativeDays] | None = Field(
        default=None, max_length=20,
        description="days after surgery the visiting team should be on site, by risk category, over the "
                    "defaults (RACHS-1 1-6: 1 1 2 2 3 3; STAT 1-5: 1 1 2 2 3; none: 0): a case is planned no "
                    "later than the mission's last day minus these")
    pinned_surgery_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=MAX_CASES, description="surgeries of the mission this proposal never moves")
    locked_days: list[date] | None = Field(
        default=None, max_length=366, description="days of the mission locked: nothing there moves, nothing new "
                                                  "goes there")
    icu_beds_after_mission: int | None = Field(
        default=None, ge=0, le=1000, description="intensive-care beds the host gives the mission's patients after "
                                                 "its last day (default: all its beds)")

    def post_operative_table(self) -> tuple[tuple[str, int | None, int], ...]:
        out = []
        for item in self.post_operative_days or []:
            scheme, _, category = item.risk.partition(" ")
            out.append((scheme, int(category) if category else None, item.days))
        return tuple(out)


class ProposedSurgeryOut(BaseModel):
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
    change: Literal["new", "moved", "kept", "fixed"]
    moved_minutes: int = Field(0, description="how far a moved surgery moves, in minutes (days included)")
    pinned: bool = Field(False, description="pinned by the coordinator or on a locked day: it stays")


class UnplannedOut(BaseModel):
    case_id: uuid.UUID
    patient_ref: str
    reason: str


class PlanOut(BaseModel):
    mission_id: uuid.UUID
    status: Literal["optimal", "feasible", "heuristic", "greedy", "empty", "infeasible"] = Field(
        description="what was proven: optimal (the solver's proof), feasible (a plan, `gap` from the solver's "
                    "bound), heuristic (the greedy plan: `bound` is the solver's if it proved one, else every "
                    "case operated), empty, infeasible; greedy is no longer answered")
    objective: int = Field(description="priority-weighted count of cases operated (weights 16, 8, 4, 2, 1)")
    bound: int = Field(description="no plan can score more")
    optimal: bool
    gap: float
    solve_seconds: float
    primary_seconds: float = Field(description="the first solve (priorities, then moves), where optimality is proven")
    solver: str
    greedy_objective: int
    tiebreak_optimal: bool
    moves: int = Field(description="already scheduled surgeries the plan moves")
    moved_minutes: int = Field(description="how far they move, in all (minutes): the size counts in the objective")
    time_limit_seconds: float
    turnover_minutes: int | None = Field(description="the request's, if it set one for every room")
    room_turnover_minutes: dict[str, int] = Field(description="each room's turnover in this plan, by room id")
    max_daily_minutes_per_surgeon: int
    reasons: list[str]
    assignments: list[ProposedSurgeryOut]
    unplanned: list[UnplannedOut]

    @classmethod
    def of(cls, p: ProposedPlan) -> PlanOut:
        plan = p.plan
        return cls(
            mission_id=p.mission_id, status=plan.status.value, objective=plan.objective, bound=plan.bound,
            optimal=plan.optimal, gap=round(plan.gap, 4), solve_seconds=round(plan.solve_seconds, 3),
            primary_seconds=round(plan.primary_seconds, 3),
            solver=plan.solver, greedy_objective=plan.greedy_objective, tiebreak_optimal=plan.tiebreak_optimal,
            moves=plan.moves, moved_minutes=plan.moved_minutes, time_limit_seconds=p.settings.time_limit_seconds,
            turnover_minutes=p.settings.turnover_minutes,
            room_turnover_minutes={str(k): v for k, v in p.room_turnover_minutes.items()},
            max_daily_minutes_per_surgeon=p.settings.max_daily_minutes_per_surgeon, reasons=plan.reasons,
            assignments=[ProposedSurgeryOut.model_validate(s, from_attributes=True) for s in p.surgeries],
            unplanned=[UnplannedOut(case_id=u.case_id, patient_ref=u.ref, reason=u.reason) for u in plan.unplanned],
        )


class AssignmentIn(Body):
    """A line of the plan. A proposed line can be posted back as is: the fields it has for
    reading only (patient_ref, operating_room, scheduled_end, icu_days, change, moved_minutes, pinned)
    are ignored."""

    case_id: uuid.UUID
    operating_room_id: uuid.UUID
    scheduled_start: Instant
    lead_surgeon_id: uuid.UUID
    anaesthetist_id: uuid.UUID | None = Field(default=None, description="recorded on a new surgery")
    surgery_id: uuid.UUID | None = None
    expected_duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    patient_ref: str | None = Field(default=None, max_length=100, description="ignored")
    operating_room: str | None = Field(default=None, max_length=200, description="ignored")
    scheduled_end: datetime | None = Field(default=None, description="ignored")
    icu_days: int | None = Field(default=None, ge=0, le=1000, description="ignored")
    change: str | None = Field(default=None, max_length=20, description="ignored")
    moved_minutes: int | None = Field(default=None, ge=0, le=1000 * 24 * 60, description="ignored")
    pinned: bool | None = Field(default=None, description="ignored")


class ApplyIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"assignments": [{
        "case_id": "6d1c2b3a-4e5f-4a6b-9c7d-8e9f0a1b2c3d", "operating_room_id": "3f4e5d6c-7b8a-4d9e-8f0a-1b2c3d4e5f6a",
        "scheduled_start": "2030-06-10T08:00:00+01:00", "lead_surgeon_id": "2b7e1f3a-9c4d-4e8b-a1f2-3c4d5e6f7a8b"}],
        "reason": "mission plan re-optimised"}]})

    assignments: list[AssignmentIn] = Field(min_length=1, max_length=MAX_CASES)
    reason: str = Field(default="mission plan re-optimised", min_length=1, max_length=2000,
                        description="of each SurgeryRescheduled")


class AppliedOut(BaseModel):
    scheduled: list[SurgeryOut]
    rescheduled: list[SurgeryOut]


@router.post("/{mission_id}/plan", response_model=PlanOut,
             summary="Propose the best surgery plan for the mission (changes nothing)",
             dependencies=[access.mission(access.MANAGE)])
async def propose(mission_id: uuid.UUID, uow: UoW, bus: BusDep, body: PlanIn | None = None) -> PlanOut:
    body = body or PlanIn()
    # What the body leaves out (None) is the service's default (the PLANNER_* settings), applied by the handler.
    cmd = ProposePlan(
        mission_id=mission_id, time_limit_seconds=body.time_limit_seconds, turnover_minutes=body.turnover_minutes,
        max_daily_minutes_per_surgeon=body.max_daily_minutes_per_surgeon,
        case_ids=tuple(body.case_ids) if body.case_ids is not None else None, include_unready=body.include_unready,
        post_operative_days=body.post_operative_table(), icu_beds_after_mission=body.icu_beds_after_mission,
        pinned_surgery_ids=tuple(body.pinned_surgery_ids or ()), locked_days=tuple(body.locked_days or ()),
    )
    return PlanOut.of(await bus.handle(cmd, uow))


@router.post("/{mission_id}/plan/apply", response_model=AppliedOut,
             summary="Schedule (or reschedule) a plan's surgeries, all or none",
             dependencies=[access.mission(access.MANAGE)])
async def apply(mission_id: uuid.UUID, body: ApplyIn, uow: UoW, bus: BusDep) -> AppliedOut:
    cmd = ApplyPlan(mission_id=mission_id, reason=body.reason, assignments=tuple(
        PlannedSurgery(case_id=a.case_id, operating_room_id=a.operating_room_id, scheduled_start=a.scheduled_start,
                       lead_surgeon_id=a.lead_surgeon_id, surgery_id=a.surgery_id,
                       expected_duration_minutes=a.expected_duration_minutes, anaesthetist_id=a.anaesthetist_id)
        for a in body.assignments))
    scheduled, rescheduled = await bus.handle(cmd, uow)
    return AppliedOut(scheduled=[SurgeryOut.of(s) for s in scheduled],
                      rescheduled=[SurgeryOut.of(s) for s in rescheduled])
