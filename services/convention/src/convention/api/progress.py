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
from convention.domain.achievements import (
    AUTONOMY_RULE,
    OUTCOMES_RULE,
    Climb,
    LedTally,
    OutcomeTally,
    merged,
    quarter_of,
    risk_order,
    split_risk,
    total,
)
from convention.domain.commands import ConventionAutonomy, ConventionOutcomes, ConventionPeriods, ConventionProgress
from convention.domain.conventions import Convention, ConventionStatus
from convention.domain.progress import AvoidedCosts, PeriodCounts, Progress
from jumelage.events.scheduling import FollowUpOutcome, LocalRole
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


class YearTargetsOut(BaseModel):
    """A year's activities against that year's objectives."""

    surgeries: CountOut
    consultations: CountOut
    training_sessions: CountOut


class PeriodOut(PeriodCountsOut):
    period: str = Field(description="YYYY-MM (month), YYYY-Qn (quarter) or YYYY (year), in the programmes' time zone",
                        examples=["2024-05", "2024-Q2", "2024"])
    cumulative: PeriodCountsOut = Field(description="everything done up to the end of the period")
    money_not_spent_abroad: AvoidedCostsOut = Field(description="for the cases referred abroad treated in the period")
    objectives: YearTargetsOut | None = Field(
        default=None, description="by year: the year's activities against its own objectives (null: none set)")

    @classmethod
    def of(cls, p: PeriodCounts, c: Convention | None = None) -> PeriodOut:
        assert p.avoided_abroad is not None
        year = c.terms.objectives_of(int(p.period)) if c is not None and p.period.isdigit() else None
        targets = None
        if year is not None:
            def count(name: str) -> CountOut:
                done, target = p.counts[name], getattr(year, name)
                return CountOut(done=done, target=target, percent=round(100 * done / target, 1) if target else None)

            targets = YearTargetsOut(surgeries=count("surgeries"), consultations=count("consultations"),
                                     training_sessions=count("training_sessions"))
        return cls(period=p.period, **p.counts, cumulative=PeriodCountsOut(**p.cumulative),
                   money_not_spent_abroad=AvoidedCostsOut.of(p.avoided_abroad), objectives=targets)


class PeriodsOut(BaseModel):
    convention_id: uuid.UUID
    reference: str
    by: Literal["month", "quarter", "year"]
    timezone: str = Field(description="the zone the periods are taken in")
    periods: list[PeriodOut] = Field(description="oldest first; a period with nothing done is left out, but a "
                                                 "year with objectives of its own")


@router.get("/{convention_id}/progress/periods", response_model=PeriodsOut,
            summary="What the convention achieved, period by period, with running totals")
async def convention_periods(convention_id: uuid.UUID, _: access.ProgressReader, uow: UoW, bus: BusDep,
                             by: Annotated[Literal["month", "quarter", "year"],
                                           Query(description="the length of a period")] = "month",
                             ) -> PeriodsOut:
    convention, zone, periods = await bus.handle(ConventionPeriods(convention_id, by), uow)
    return PeriodsOut(convention_id=convention.id, reference=convention.reference, by=by, timezone=zone,
                      periods=[PeriodOut.of(p, convention) for p in periods])


# -- the local teams' autonomy and the 30-day outcomes (issue 21) ---------------------------------


class LedOut(BaseModel):
    risk_scheme: str = Field(description="STAT, RACHS-1, none (non-cardiac) or unknown (reported without it)")
    risk_category: int | None
    surgeries: int
    led_locally: int = Field(description="of them, those whose lead surgeon's home institution is the host")
    share_led_locally: float | None = Field(description="percent; none without surgeries")

    @classmethod
    def of(cls, t: LedTally) -> LedOut:
        scheme, category = split_risk(t.risk)
        return cls(risk_scheme=scheme, risk_category=category, surgeries=t.surgeries, led_locally=t.led_locally,
                   share_led_locally=t.share)


class LedPeriodOut(BaseModel):
    period: str = Field(description="YYYY-MM or YYYY-Qn, in the programmes' time zone")
    surgeries: int
    led_locally: int
    share_led_locally: float | None
    by_risk: list[LedOut]


class StepOut(BaseModel):
    role: LocalRole
    first_at: datetime = Field(description="the end of the first surgery they held this role in")
    surgeries: int = Field(description="surgeries they held this role in")


class ClimbOut(BaseModel):
    practitioner_ref: str
    full_name: str | None
    highest_role: LocalRole
    reached_at: datetime = Field(description="when they first held their highest role")
    steps: list[StepOut] = Field(description="lowest role first")

    @classmethod
    def of(cls, c: Climb) -> ClimbOut:
        return cls(practitioner_ref=c.practitioner_ref, full_name=c.full_name, highest_role=c.highest.role,
                   reached_at=c.highest.first_at,
                   steps=[StepOut(role=s.role, first_at=s.first_at, surgeries=s.surgeries) for s in c.steps])


class AutonomyOut(BaseModel):
    convention_id: uuid.UUID
    reference: str
    by: Literal["month", "quarter"]
    timezone: str
    surgeries: int
    led_locally: int
    share_led_locally: float | None
    by_risk: list[LedOut] = Field(description="over the whole convention, per risk category")
    periods: list[LedPeriodOut] = Field(description="oldest first; a period without surgeries is left out")
    practitioners: list[ClimbOut] = Field(description="each local practitioner's steps, the highest first")
    counting_rule: str


def _period_out(period: str, tallies: list[LedTally]) -> LedPeriodOut:
    whole = LedTally("all", sum(t.surgeries for t in tallies), sum(t.led_locally for t in tallies))
    return LedPeriodOut(period=period, surgeries=whole.surgeries, led_locally=whole.led_locally,
                        share_led_locally=whole.share, by_risk=[LedOut.of(t) for t in merged(tallies)])


@router.get("/{convention_id}/progress/autonomy", response_model=AutonomyOut,
            summary="The local teams' autonomy: surgeries they led, per risk category and period, and "
                    "the steps each local practitioner has climbed")
async def convention_autonomy(convention_id: uuid.UUID, _: access.ProgressReader, uow: UoW, bus: BusDep,
                              by: Annotated[Literal["month", "quarter"], Query(description="the length of a period")]
                              = "month") -> AutonomyOut:
    convention, zone, led, steps = await bus.handle(ConventionAutonomy(convention_id), uow)
    periods: dict[str, list[LedTally]] = {}
    for month, tally in led:
        periods.setdefault(month if by == "month" else quarter_of(month), []).append(tally)
    whole = _period_out("all", [t for _, t in led])
    return AutonomyOut(convention_id=convention.id, reference=convention.reference, by=by, timezone=zone,
                       surgeries=whole.surgeries, led_locally=whole.led_locally,
                       share_led_locally=whole.share_led_locally, by_risk=whole.by_risk,
                       periods=[_period_out(p, periods[p]) for p in sorted(periods)],
                       practitioners=[ClimbOut.of(c) for c in steps], counting_rule=AUTONOMY_RULE)


class OutcomeOut(BaseModel):
    risk_scheme: str = Field(description="STAT, RACHS-1, none (non-cardiac), unknown (reported without it); "
                                         "all: every category")
    risk_category: int | None
    operated: int = Field(description="surgeries completed")
    followed_up: int = Field(description="patients followed up: the 30-day follow-ups recorded, and the deaths "
                                         "at surgery")
    followed_up_share: float | None = Field(description="percent of the patients operated")
    died_at_surgery: int
    outcomes: dict[str, int] = Field(description="the 30-day follow-ups recorded, per outcome")
    deaths_within_30_days: int = Field(description="deaths at surgery and deaths recorded at follow-up")
    mortality_30_days: float | None = Field(description="percent of the patients followed up whose outcome is known")
    complications: int = Field(description="readmitted, reoperated or with a surgical-site infection")
    complication_rate: float | None = Field(description="percent of the patients followed up whose outcome is known")

    @classmethod
    def of(cls, t: OutcomeTally) -> OutcomeOut:
        scheme, category = split_risk(t.risk)
        return cls(risk_scheme=scheme, risk_category=category, operated=t.operated, followed_up=t.followed_up,
                   followed_up_share=t.followed_up_share, died_at_surgery=t.died_at_surgery,
                   outcomes={o.value: t.count(o) for o in FollowUpOutcome}, deaths_within_30_days=t.deaths,
                   mortality_30_days=t.mortality, complications=t.complications,
                   complication_rate=t.complication_rate)


class OutcomesOut(BaseModel):
    convention_id: uuid.UUID
    reference: str
    total: OutcomeOut
    by_risk: list[OutcomeOut] = Field(description="per risk category (STAT, RACHS-1, then none, unknown)")
    counting_rule: str


@router.get("/{convention_id}/progress/outcomes", response_model=OutcomesOut,
            summary="30-day mortality and complications per risk category, and the share of patients followed up")
async def convention_outcomes(convention_id: uuid.UUID, _: access.ProgressReader, uow: UoW,
                              bus: BusDep) -> OutcomesOut:
    convention, tallies = await bus.handle(ConventionOutcomes(convention_id), uow)
    tallies = sorted(tallies, key=lambda t: risk_order(t.risk))
    return OutcomesOut(convention_id=convention.id, reference=convention.reference,
                       total=OutcomeOut.of(total(tallies)), by_risk=[OutcomeOut.of(t) for t in tallies],
                       counting_rule=OUTCOMES_RULE)
