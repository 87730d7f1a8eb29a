"""/conventions/{id}/progress: what a convention achieved against its objectives."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from convention import access
from convention.access import UoW
from convention.domain.commands import ConventionPeriods, ConventionProgress
from convention.domain.conventions import Convention, ConventionStatus
from convention.domain.progress import AvoidedCosts, PeriodCounts, Progress
from jumelage.service import BusDep

router = APIRouter(prefix="/conventions", tags=["conventions"])


class CountOut(BaseModel):
    done: int
    target: int
    percent: float | None


class AmountOut(BaseModel):
    currency: str = Field(description="ISO 4217")
    amount: Decimal


class AvoidedCostsOut(BaseModel):
    """Money not spent abroad: what the cases treated here, having been referred
    abroad, would have cost abroad, beside what they cost here."""

    cases: int = Field(description="surgeries here of patients who had been referred for treatment abroad")
    costed: int = Field(description="of them, those a reference cost of the convention applies to")
    uncosted: int = Field(description="of them, those whose specialty and procedure have no reference cost")
    abroad: list[AmountOut] = Field(description="their reference costs abroad, per currency (no exchange applied)")
    here: list[AmountOut] = Field(description="their costs here, per currency")
    counting_rule: str

    @classmethod
    def of(cls, a: AvoidedCosts) -> AvoidedCostsOut:
        return cls(cases=a.cases, costed=a.costed, uncosted=a.uncosted,
                   abroad=[AmountOut(currency=c, amount=v) for c, v in a.abroad.items()],
                   here=[AmountOut(currency=c, amount=v) for c, v in a.here.items()], counting_rule=a.rule)


class ProgressOut(BaseModel):
    convention_id: uuid.UUID
    reference: str
    status: ConventionStatus
    surgeries: CountOut
    consultations: CountOut
    training_sessions: CountOut
    surgery_outcomes: dict[str, int]
    treated_locally_instead_of_abroad: int = Field(
        description="patients who had been referred for treatment abroad and were operated under this convention")
    training_hours: float
    trainees: int = Field(description="trainee places over all sessions")
    missions_completed: int
    money_not_spent_abroad: AvoidedCostsOut
    reported_by_missions: dict[str, int] = Field(description="totals the completed missions reported")
    last_activity_at: datetime | None
    training_placements: int = Field(description="training placements completed at the provider's hospital, "
                                                 "outside any mission (beside the sessions held on missions)")
    training_placement_days: int = Field(description="days spent on them, summed over the placements")
    training_placement_trainees: int = Field(description="trainee places over all placements")
    training_placements_by_kind: dict[str, int] = Field(description="observership, fellowship")

    @classmethod
    def of(cls, c: Convention, p: Progress) -> ProgressOut:
        def count(x: Any) -> CountOut:
            return CountOut(done=x.done, target=x.target, percent=x.percent)

        return cls(
            convention_id=c.id, reference=c.reference, status=c.status, surgeries=count(p.surgeries),
            consultations=count(p.consultations), training_sessions=count(p.training_sessions),
            surgery_outcomes=p.surgery_outcomes, treated_locally_instead_of_abroad=p.treated_locally_instead_of_abroad,
            training_hours=p.training_hours, trainees=p.trainees, missions_completed=p.missions_completed,
            money_not_spent_abroad=AvoidedCostsOut.of(p.avoided_abroad),
            reported_by_missions=p.reported_by_missions, last_activity_at=p.last_activity_at,
            training_placements=p.training_placements, training_placement_days=p.training_placement_days,
            training_placement_trainees=p.training_placement_trainees,
            training_placements_by_kind=p.training_placements_by_kind,
        )


@router.get("/{convention_id}/progress", response_model=ProgressOut,
            summary="What the convention achieved against its objectives")
async def convention_progress(convention_id: uuid.UUID, _: access.ProgressReader, uow: UoW,
                              bus: BusDep) -> ProgressOut:
    convention, progress = await bus.handle(ConventionProgress(convention_id), uow)
    return ProgressOut.of(convention, progress)


class PeriodCountsOut(BaseModel):
    surgeries: int
    consultations: int
    training_sessions: int
    treated_locally_instead_of_abroad: int = Field(
        description="surgeries of patients who had been referred for treatment abroad")


class PeriodOut(PeriodCountsOut):
    period: str = Field(description="YYYY-MM, in the programmes' time zone", examples=["2024-05"])
    cumulative: PeriodCountsOut = Field(description="everything done up to the end of the period")
    money_not_spent_abroad: AvoidedCostsOut = Field(description="for the cases referred abroad treated in the period")

    @classmethod
    def of(cls, p: PeriodCounts) -> PeriodOut:
        assert p.avoided_abroad is not None
        return cls(period=p.period, **p.counts, cumulative=PeriodCountsOut(**p.cumulative),
                   money_not_spent_abroad=AvoidedCostsOut.of(p.avoided_abroad))


class PeriodsOut(BaseModel):
    convention_id: uuid.UUID
    reference: str
    by: Literal["month"]
    timezone: str = Field(description="the zone the periods are taken in")
    periods: list[PeriodOut] = Field(description="oldest first; a period with nothing done is left out")


@router.get("/{convention_id}/progress/periods", response_model=PeriodsOut,
            summary="What the convention achieved, period by period, with running totals")
async def convention_periods(convention_id: uuid.UUID, _: access.ProgressReader, uow: UoW, bus: BusDep,
                             by: Annotated[Literal["month"], Query(description="the length of a period")] = "month",
                             ) -> PeriodsOut:
    convention, zone, periods = await bus.handle(ConventionPeriods(convention_id, by), uow)
    return PeriodsOut(convention_id=convention.id, reference=convention.reference, by=by, timezone=zone,
                      periods=[PeriodOut.of(p) for p in periods])
