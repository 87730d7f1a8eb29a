"""What a convention achieved against its objectives, derived from facts.

Each fact is keyed by the id of what happened (a surgery, a consultation, a
training session, a mission), so the same fact reported twice counts once and
the order facts arrive in does not matter: progress is recomputed from them.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from decimal import Decimal

from convention.domain.conventions import Objectives, ReferenceCost


@dataclass(frozen=True)
class SurgeryDone:
    surgery_id: uuid.UUID
    mission_id: uuid.UUID
    outcome: str
    previously_referred_abroad: bool
    completed_at: datetime
    specialty: str | None = None
    procedure: str | None = None


@dataclass(frozen=True)
class ConsultationDone:
    consultation_id: uuid.UUID
    mission_id: uuid.UUID
    held_at: datetime


@dataclass(frozen=True)
class TrainingDone:
    training_session_id: uuid.UUID
    mission_id: uuid.UUID
    topic: str
    hours: float
    trainee_count: int
    held_at: datetime


@dataclass(frozen=True)
class PlacementDone:
    """A training placement of the beneficiary's staff at the provider's hospital, outside any mission."""

    placement_id: uuid.UUID
    kind: str
    days_spent: int
    trainee_count: int
    ends_on: date | None = None  # its last day (a report counts it in the period it ended in)


@dataclass(frozen=True)
class MissionDone:
    mission_id: uuid.UUID
    surgeries: int
    consultations: int
    training_sessions: int


@dataclass(frozen=True)
class Count:
    done: int
    target: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.done / self.target, 1) if self.target else None


COUNTING_RULE = (
    "Each surgery completed under the convention whose patient had been referred for treatment abroad "
    "counts once, at the reference cost abroad of its procedure (the convention's line for that "
    "procedure, else the line for its specialty as a whole), in that line's currency, beside the cost "
    "here of the same line. The lines are those in force on the day of the surgery: the signature's, "
    "until an amendment that changes them applies, from its effective date. "
    "A case whose procedure and specialty have no line is counted among the cases but not in the money. "
    "Sums are kept per currency: no exchange rate is applied.")

CostSchedule = tuple[tuple[date, tuple[ReferenceCost, ...]], ...]
"""The reference costs over time: (from which day, the lines), oldest first (``Convention.cost_schedule``)."""


def costs_on(schedule: CostSchedule, day: date | None) -> tuple[ReferenceCost, ...]:
    """The lines in force that day (None: the latest)."""
    if not schedule:
        return ()
    if day is None:
        return schedule[-1][1]
    in_force = schedule[0][1]
    for since, costs in schedule:
        if since <= day:
            in_force = costs
    return in_force


@dataclass(frozen=True)
class AvoidedCosts:
    """Money not spent abroad: what the cases treated here would have cost abroad."""

    cases: int                       # treated here, having been referred abroad
    costed: int                      # of them, those a reference cost line applies to
    abroad: dict[str, Decimal]       # per currency: their reference costs abroad
    here: dict[str, Decimal]         # per currency: their costs here
    rule: str = COUNTING_RULE

    @property
    def uncosted(self) -> int:
        return self.cases - self.costed


def line_for(costs: tuple[ReferenceCost, ...], specialties: tuple[str, ...], specialty: str | None,
             procedure: str | None) -> ReferenceCost | None:
    """The reference cost of a case: its procedure's line, else its specialty's. A
    surgery reported without its specialty (before the contract carried it) is of
    the convention's specialty when it has only one."""
    if specialty is None:
        if len(specialties) != 1:
            return None
        specialty = specialties[0]
    exact = [c for c in costs if c.procedure is not None and c.matches(specialty, procedure)]
    if exact:
        return exact[0]
    return next((c for c in costs if c.procedure is None and c.matches(specialty, None)), None)


def avoided_costs(costs: tuple[ReferenceCost, ...] | CostSchedule, specialties: tuple[str, ...],
                  cases: list[tuple[Any, ...]]) -> AvoidedCosts:
    """``cases``: the (specialty, procedure[, day]) of each case treated here that had been referred
    abroad; ``costs``: the lines, or their schedule (each case then at the lines of its day)."""
    abroad: Counter[str] = Counter()
    here: Counter[str] = Counter()
    costed = 0
    schedule = costs if costs and isinstance(costs[0], tuple) else None
    for specialty, procedure, *day in cases:
        lines = costs_on(schedule, day[0] if day else None) if schedule else costs
        line = line_for(lines, specialties, specialty, procedure)  # type: ignore[arg-type]
        if line is None:
            continue
        costed += 1
        abroad[line.abroad.currency] += line.abroad.amount
        here[line.here.currency] += line.here.amount
    return AvoidedCosts(len(cases), costed, dict(sorted(abroad.items())), dict(sorted(here.items())))


@dataclass(frozen=True)
class Progress:
    objectives: Objectives
    surgeries: Count
    consultations: Count
    training_sessions: Count
    surgery_outcomes: dict[str, int]
    treated_locally_instead_of_abroad: int
    training_hours: float
    trainees: int
    missions_completed: int
    avoided_abroad: AvoidedCosts
    reported_by_missions: dict[str, int] = field(default_factory=dict)
    last_activity_at: datetime | None = None
    # Training at the provider's hospital, outside any mission, beside the sessions held on missions.
    training_placements: int = 0
    training_placement_days: int = 0  # days spent, summed over the placements
    training_placement_trainees: int = 0  # places: one person on two placements counts twice
    training_placements_by_kind: dict[str, int] = field(default_factory=dict)


def progress(
    objectives: Objectives,
    surgeries: list[SurgeryDone],
    consultations: list[ConsultationDone],
    trainings: list[TrainingDone],
    missions: list[MissionDone],
    placements: list[PlacementDone] = (),  # type: ignore[assignment]
    *,
    reference_costs: tuple[ReferenceCost, ...] | CostSchedule = (),
    specialties: tuple[str, ...] = (),
    zone: tzinfo = UTC,
) -> Progress:
    placements = list(placements)
    kinds = Counter(p.kind for p in placements)
    outcomes = Counter(s.outcome for s in surgeries)
    moments = [s.completed_at for s in surgeries] + [c.held_at for c in consultations] + \
        [t.held_at for t in trainings]
    return Progress(
        objectives=objectives,
        surgeries=Count(len(surgeries), objectives.surgeries),
        consultations=Count(len(consultations), objectives.consultations),
        training_sessions=Count(len(trainings), objectives.training_sessions),
        surgery_outcomes={o: outcomes.get(o, 0) for o in ("successful", "with_complications", "deceased")},
        # Patients who had been referred for treatment abroad and were operated here.
        treated_locally_instead_of_abroad=sum(1 for s in surgeries if s.previously_referred_abroad),
        training_hours=round(sum(t.hours for t in trainings), 2),
        # Places in sessions: one person trained in three sessions counts three times.
        trainees=sum(t.trainee_count for t in trainings),
        missions_completed=len(missions),
        avoided_abroad=avoided_costs(reference_costs, specialties,
                                     [(s.specialty, s.procedure, s.completed_at.astimezone(zone).date())
                                      for s in surgeries if s.previously_referred_abroad]),
        reported_by_missions={
            "surgeries": sum(m.surgeries for m in missions),
            "consultations": sum(m.consultations for m in missions),
            "training_sessions": sum(m.training_sessions for m in missions),
        },
        last_activity_at=max(moments) if moments else None,
        training_placements=len(placements),
        training_placement_days=sum(p.days_spent for p in placements),
        training_placement_trainees=sum(p.trainee_count for p in placements),
        training_placements_by_kind={k: kinds.get(k, 0) for k in ("observership", "fellowship")},
    )


# -- progress over time ------------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """One fact on the calendar: what it was (``surgeries``, ``consultations``,
    ``training_sessions``), when, and for a surgery whether the patient had been referred abroad."""

    kind: str
    at: datetime
    referred_abroad: bool = False
    specialty: str | None = None
    procedure: str | None = None


PERIOD_KINDS = ("surgeries", "consultations", "training_sessions", "treated_locally_instead_of_abroad")


@dataclass(frozen=True)
class PeriodCounts:
    period: str                  # YYYY-MM in the programmes' time zone
    counts: dict[str, int]       # what was done in the period, per kind of PERIOD_KINDS
    cumulative: dict[str, int]   # everything done up to the end of the period
    # Money not spent abroad in the period (the cases referred abroad treated then), per currency.
    avoided_abroad: AvoidedCosts | None = None


def by_month(moments: list[Moment], zone: tzinfo, *,
             reference_costs: tuple[ReferenceCost, ...] | CostSchedule = (),
             specialties: tuple[str, ...] = ()) -> list[PeriodCounts]:
    """Per calendar month (in ``zone``: a surgery at 23:30 UTC on 31 May is June's in
    Algiers), the counts and the running totals, and the money not spent abroad;
    months with nothing are left out."""
    months: dict[str, Counter[str]] = {}
    referred: dict[str, list[tuple[Any, ...]]] = {}
    for m in moments:
        month = m.at.astimezone(zone).strftime("%Y-%m")
        counter = months.setdefault(month, Counter())
        counter[m.kind] += 1
        if m.kind == "surgeries" and m.referred_abroad:
            counter["treated_locally_instead_of_abroad"] += 1
            referred.setdefault(month, []).append((m.specialty, m.procedure, m.at.astimezone(zone).date()))
    running: Counter[str] = Counter()
    out = []
    for month in sorted(months):
        running.update(months[month])
        out.append(PeriodCounts(month, {k: months[month].get(k, 0) for k in PERIOD_KINDS},
                                {k: running.get(k, 0) for k in PERIOD_KINDS},
                                avoided_costs(reference_costs, specialties, referred.get(month, []))))
    return out
