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


# -- progress kept as counters, raised as each fact arrives ---------------------------------------
#
# Each fact adds its contribution to its day's counters (its local day in the programmes' time
# zone: a month, a quarter, a year, the whole convention are sums of days, and so is a report's
# from/to period). A fact reported again with other values (a correction) takes its old
# contribution away and adds the new one. The cases referred abroad are counted per day, specialty
# and procedure, so the money not spent abroad is valued on a read at the lines in force on each
# day (an amendment may change them from a past day); the days each mission worked are kept, so a
# period counts the missions that worked in it once each.

TALLY_COUNTS = ("surgeries", "referred_abroad", "successful", "with_complications", "deceased",
                "consultations", "training_sessions", "training_hours", "trainees",
                "placements", "placement_days", "placement_trainees", "observership", "fellowship")
"""The counters of one convention's day (``progress_day``'s columns)."""

SURGERY_OUTCOMES = ("successful", "with_complications", "deceased")


@dataclass(frozen=True)
class Contribution:
    """What one fact adds to its day's counters."""

    day: date
    counts: dict[str, float]
    at: datetime | None = None            # when it happened (the day's last activity); None: a placement
    mission_id: uuid.UUID | None = None   # the mission it happened on (None: a placement)
    referred: tuple[str | None, str | None] | None = None  # a case referred abroad: its specialty, procedure


def contribution(fact: SurgeryDone | ConsultationDone | TrainingDone | PlacementDone, zone: tzinfo) -> Contribution:
    if isinstance(fact, SurgeryDone):
        counts: dict[str, float] = {"surgeries": 1, "referred_abroad": int(fact.previously_referred_abroad)}
        if fact.outcome in SURGERY_OUTCOMES:
            counts[fact.outcome] = 1
        return Contribution(fact.completed_at.astimezone(zone).date(), counts, fact.completed_at, fact.mission_id,
                            (fact.specialty, fact.procedure) if fact.previously_referred_abroad else None)
    if isinstance(fact, ConsultationDone):
        return Contribution(fact.held_at.astimezone(zone).date(), {"consultations": 1}, fact.held_at,
                            fact.mission_id)
    if isinstance(fact, TrainingDone):
        return Contribution(fact.held_at.astimezone(zone).date(),
                            {"training_sessions": 1, "training_hours": fact.hours, "trainees": fact.trainee_count},
                            fact.held_at, fact.mission_id)
    assert fact.ends_on is not None
    counts = {"placements": 1, "placement_days": fact.days_spent, "placement_trainees": fact.trainee_count}
    if fact.kind in ("observership", "fellowship"):
        counts[fact.kind] = 1
    return Contribution(fact.ends_on, counts)


@dataclass(frozen=True)
class DayTally:
    """A convention's counters for one day."""

    day: date
    counts: dict[str, float]
    last_at: datetime | None = None

    def get(self, name: str) -> float:
        return self.counts.get(name, 0)

    @property
    def active(self) -> bool:
        """Something was done that day (a placement alone makes no period of activity)."""
        return any(self.get(k) for k in ("surgeries", "consultations", "training_sessions"))


@dataclass(frozen=True)
class ReferredTally:
    """Cases referred abroad treated here one day, of one specialty and procedure."""

    day: date
    specialty: str | None
    procedure: str | None
    cases: int


@dataclass(frozen=True)
class Tallies:
    """A convention's counters: per day, the cases referred abroad per day and line, the days
    each mission worked, and the completed missions' totals (one row each)."""

    days: list[DayTally]
    referred: list[ReferredTally]
    mission_days: list[tuple[uuid.UUID, date]]
    missions: list[MissionDone]

    def within(self, first: date | None, last: date | None) -> Tallies:
        """The counters of the days from ``first`` to ``last`` (None: no bound); a mission when it
        worked in them (every mission when neither bound is given)."""
        def holds(day: date) -> bool:
            return (first is None or day >= first) and (last is None or day <= last)

        if first is None and last is None:
            return self
        mission_days = [(m, d) for m, d in self.mission_days if holds(d)]
        worked = {m for m, _ in mission_days}
        return Tallies([t for t in self.days if holds(t.day)], [r for r in self.referred if holds(r.day)],
                       mission_days, [m for m in self.missions if m.mission_id in worked])


def avoided_of(reference_costs: tuple[ReferenceCost, ...] | CostSchedule, specialties: tuple[str, ...],
               referred: list[ReferredTally]) -> AvoidedCosts:
    """Money not spent abroad over counted cases, each group at the lines in force on its day."""
    abroad: Counter[str] = Counter()
    here: Counter[str] = Counter()
    costed = 0
    schedule = reference_costs if reference_costs and isinstance(reference_costs[0], tuple) else None
    for r in referred:
        lines = costs_on(schedule, r.day) if schedule else reference_costs
        line = line_for(lines, specialties, r.specialty, r.procedure)  # type: ignore[arg-type]
        if line is None:
            continue
        costed += r.cases
        abroad[line.abroad.currency] += line.abroad.amount * r.cases
        here[line.here.currency] += line.here.amount * r.cases
    return AvoidedCosts(sum(r.cases for r in referred), costed, dict(sorted(abroad.items())),
                        dict(sorted(here.items())))


def _summed(days: list[DayTally]) -> Counter[str]:
    total: Counter[str] = Counter()
    for t in days:
        total.update(t.counts)
    return total


def progress_of(objectives: Objectives, tallies: Tallies, *,
                reference_costs: tuple[ReferenceCost, ...] | CostSchedule = (),
                specialties: tuple[str, ...] = ()) -> Progress:
    """The progress the counters hold: the same figures as :func:`progress` over the facts."""
    s = _summed(tallies.days)
    moments = [t.last_at for t in tallies.days if t.last_at is not None]
    missions = tallies.missions

    def n(name: str) -> int:
        return int(round(s.get(name, 0)))

    return Progress(
        objectives=objectives,
        surgeries=Count(n("surgeries"), objectives.surgeries),
        consultations=Count(n("consultations"), objectives.consultations),
        training_sessions=Count(n("training_sessions"), objectives.training_sessions),
        surgery_outcomes={o: n(o) for o in SURGERY_OUTCOMES},
        treated_locally_instead_of_abroad=n("referred_abroad"),
        training_hours=round(s.get("training_hours", 0) + 0.0, 2),
        trainees=n("trainees"),
        missions_completed=len(missions),
        avoided_abroad=avoided_of(reference_costs, specialties, tallies.referred),
        reported_by_missions={
            "surgeries": sum(m.surgeries for m in missions),
            "consultations": sum(m.consultations for m in missions),
            "training_sessions": sum(m.training_sessions for m in missions),
        },
        last_activity_at=max(moments) if moments else None,
        training_placements=n("placements"),
        training_placement_days=n("placement_days"),
        training_placement_trainees=n("placement_trainees"),
        training_placements_by_kind={k: n(k) for k in ("observership", "fellowship")},
    )


PERIOD_LENGTHS = ("month", "quarter", "year")


def period_of(day: date, by: str) -> str:
    """The period a day is in: ``2024-05`` (month), ``2024-Q2`` (quarter), ``2024`` (year)."""
    if by == "year":
        return f"{day.year:04d}"
    if by == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}-{day.month:02d}"


_PERIOD_COUNTERS = {"surgeries": "surgeries", "consultations": "consultations",
                    "training_sessions": "training_sessions", "treated_locally_instead_of_abroad": "referred_abroad"}


def by_period(tallies: Tallies, by: str = "month", *,
              reference_costs: tuple[ReferenceCost, ...] | CostSchedule = (),
              specialties: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> list[PeriodCounts]:
    """Per month, quarter or year, from the counters: the counts, the running totals and the money
    not spent abroad, as :func:`by_month` gives them from the facts; periods with nothing done are
    left out, but those of ``keep`` (the years with objectives of their own)."""
    periods: dict[str, Counter[str]] = {p: Counter() for p in keep}
    for t in tallies.days:
        if t.active:
            periods.setdefault(period_of(t.day, by), Counter()).update(
                {k: int(round(t.get(c))) for k, c in _PERIOD_COUNTERS.items()})
    referred: dict[str, list[ReferredTally]] = {}
    for r in tallies.referred:
        referred.setdefault(period_of(r.day, by), []).append(r)
    running: Counter[str] = Counter()
    out = []
    for period in sorted(periods):
        running.update(periods[period])
        out.append(PeriodCounts(period, {k: periods[period].get(k, 0) for k in PERIOD_KINDS},
                                {k: running.get(k, 0) for k in PERIOD_KINDS},
                                avoided_of(reference_costs, specialties, referred.get(period, []))))
    return out


def tallies_of(surgeries: list[SurgeryDone], consultations: list[ConsultationDone], trainings: list[TrainingDone],
               missions: list[MissionDone], placements: list[PlacementDone], zone: tzinfo) -> Tallies:
    """The counters of these facts, counted in memory (what the stored counters hold for them)."""
    days: dict[date, Counter[str]] = {}
    last: dict[date, datetime] = {}
    referred: Counter[tuple[date, str | None, str | None]] = Counter()
    mission_days: set[tuple[uuid.UUID, date]] = set()
    for fact in (*surgeries, *consultations, *trainings, *placements):
        c = contribution(fact, zone)
        days.setdefault(c.day, Counter()).update(c.counts)
        if c.at is not None and (c.day not in last or c.at > last[c.day]):
            last[c.day] = c.at
        if c.referred is not None:
            referred[(c.day, *c.referred)] += 1
        if c.mission_id is not None:
            mission_days.add((c.mission_id, c.day))
    return Tallies([DayTally(d, dict(days[d]), last.get(d)) for d in sorted(days)],
                   [ReferredTally(d, s, p, n) for (d, s, p), n in referred.items()], sorted(mission_days),
                   list(missions))
