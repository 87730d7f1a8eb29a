"""A convention's report for a period: the progress model read over the period and up to its end,
laid out as tables (the one place a new figure is added: the PDF, its charts and the CSV files
are all drawn from ``tables``).

Pure: the facts come in, tables go out; rendering (WeasyPrint, SVG, CSV) is in ``adapters/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from convention.domain.achievements import Climb, LedTally, OutcomeTally, merged, risk_order, total
from convention.domain.conventions import Convention
from convention.domain.progress import (
    PERIOD_KINDS,
    ConsultationDone,
    MissionDone,
    Moment,
    PeriodCounts,
    PlacementDone,
    Progress,
    SurgeryDone,
    Tallies,
    TrainingDone,
    by_month,
    by_period,
    progress,
    progress_of,
)
from jumelage.errors import Invalid

PERIOD_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"  # 2024, 2024-05, 2024-Q2
MAX_REPORT_DAYS = 366 * 30  # a report's period, from its first day to its last
LANGUAGES = ("fr", "ar", "en")


@dataclass(frozen=True)
class ReportPeriod:
    """The days a report covers, both included, in the programmes' time zone; ``None``: no bound."""

    first: date | None
    last: date | None
    name: str  # "2024", "2024-Q2", "2024-05", "2024-05-01..2024-05-31", "all"

    def holds(self, day: date) -> bool:
        return (self.first is None or day >= self.first) and (self.last is None or day <= self.last)

    def holds_year(self, year: int) -> bool:
        """``year`` overlaps the period."""
        return (self.last is None or date(year, 1, 1) <= self.last) and \
            (self.first is None or date(year, 12, 31) >= self.first)

    def holds_month(self, month: str) -> bool:
        """``month`` (YYYY-MM) overlaps the period."""
        year, m = int(month[:4]), int(month[5:7])
        start = date(year, m, 1)
        end = (date(year + m // 12, m % 12 + 1, 1)) - timedelta(days=1)
        return (self.last is None or start <= self.last) and (self.first is None or end >= self.first)


def report_period(period: str | None, first: date | None, last: date | None) -> ReportPeriod:
    """The period a request names: ``period`` (a year, a quarter ``2024-Q2`` or a month ``2024-05``),
    or ``from``/``to`` (either may be left open), or nothing (everything so far)."""
    if period is not None:
        if first is not None or last is not None:
            raise Invalid("give either a period or from/to, not both", field="period")
        if not re.match(PERIOD_PATTERN, period):
            raise Invalid(f"period {period!r} is not a year (2024), a quarter (2024-Q2) or a month (2024-05)",
                          field="period")
        year = int(period[:4])
        if len(period) == 4:
            return ReportPeriod(date(year, 1, 1), date(year, 12, 31), period)
        if period[5] == "Q":
            q = int(period[6])
            start = date(year, 3 * q - 2, 1)
            end = date(year + (q == 4), (3 * q) % 12 + 1, 1) - timedelta(days=1)
            return ReportPeriod(start, end, period)
        m = int(period[5:7])
        return ReportPeriod(date(year, m, 1), date(year + m // 12, m % 12 + 1, 1) - timedelta(days=1), period)
    if first is not None and last is not None:
        if last < first:
            raise Invalid(f"the period ends ({last}) before it begins ({first})", field="to")
        if (last - first).days > MAX_REPORT_DAYS:
            raise Invalid(f"a report covers at most {MAX_REPORT_DAYS} days", field="to")
    if first is None and last is None:
        return ReportPeriod(None, None, "all")
    return ReportPeriod(first, last, f"{first or ''}..{last or ''}")


@dataclass(frozen=True)
class Facts:
    surgeries: list[SurgeryDone]
    consultations: list[ConsultationDone]
    trainings: list[TrainingDone]
    missions: list[MissionDone]
    placements: list[PlacementDone]


def _within(facts: Facts, zone: tzinfo, keep: ReportPeriod) -> Facts:
    """The facts of ``keep``: a surgery, consultation or session by its local day, a placement by
    its last day, a mission when something of it happened in the period."""
    def day(at: datetime) -> date:
        return at.astimezone(zone).date()

    surgeries = [s for s in facts.surgeries if keep.holds(day(s.completed_at))]
    consultations = [c for c in facts.consultations if keep.holds(day(c.held_at))]
    trainings = [t for t in facts.trainings if keep.holds(day(t.held_at))]
    if keep.first is None and keep.last is None:
        missions = facts.missions
    else:
        active = {x.mission_id for x in (*surgeries, *consultations, *trainings)}
        missions = [m for m in facts.missions if m.mission_id in active]
    placements = [p for p in facts.placements if p.ends_on is None or keep.holds(p.ends_on)]
    return Facts(surgeries, consultations, trainings, missions, placements)


@dataclass(frozen=True)
class PartyLine:
    role: str
    name: str


@dataclass(frozen=True)
class Report:
    convention: Convention
    parties: list[PartyLine]
    period: ReportPeriod
    zone: str
    in_period: Progress       # what was done in the period
    to_date: Progress         # everything done up to the period's end (since the convention began)
    months: list[PeriodCounts]  # the months of the period, their running totals since the beginning
    made_at: datetime
    # The local teams' autonomy (tallies per month and risk category) and each local practitioner's
    # steps, and the 30-day outcomes per risk category (to date: the tallies have no period).
    led: list[tuple[str, LedTally]] = field(default_factory=list)
    climbs: list[Climb] = field(default_factory=list)
    outcomes: list[OutcomeTally] = field(default_factory=list)
    # The years of the period with objectives of their own, each year's activities (the whole year).
    years: list[PeriodCounts] = field(default_factory=list)


def report(convention: Convention, parties: list[PartyLine], period: ReportPeriod, tallies: Tallies, zone: tzinfo,
           made_at: datetime, *, led: Iterable[tuple[str, LedTally]] = (), climbs: Iterable[Climb] = (),
           outcomes: Iterable[OutcomeTally] = ()) -> Report:
    """The report over the progress counters (their days in ``zone``)."""
    t = convention.terms
    costs = convention.cost_schedule()  # each surgery at the reference costs in force on its day

    def of(within: Tallies) -> Progress:
        return progress_of(t.objectives, within, reference_costs=costs, specialties=t.specialties)

    months = by_period(tallies, "month", reference_costs=costs, specialties=t.specialties)
    set_for = tuple(str(y.year) for y in t.yearly_objectives)
    years = [y for y in by_period(tallies, "year", reference_costs=costs, specialties=t.specialties, keep=set_for)
             if y.period in set_for and period.holds_year(int(y.period))]
    return Report(convention, parties, period, str(zone), of(tallies.within(period.first, period.last)),
                  of(tallies.within(None, period.last)), [m for m in months if period.holds_month(m.period)],
                  made_at, led=list(led), climbs=list(climbs), outcomes=list(outcomes), years=years)


def report_from_facts(convention: Convention, parties: list[PartyLine], period: ReportPeriod, facts: Facts,
                      zone: tzinfo, made_at: datetime) -> Report:
    """The same report computed from every fact (as it was before the counters): the yardstick
    the counters are tested against."""
    t = convention.terms
    costs = convention.cost_schedule()

    def of(f: Facts) -> Progress:
        return progress(t.objectives, f.surgeries, f.consultations, f.trainings, f.missions, f.placements,
                        reference_costs=costs, specialties=t.specialties, zone=zone)

    upto = ReportPeriod(None, period.last, "to date")
    moments = by_month(_moments(facts), zone, reference_costs=costs, specialties=t.specialties)
    return Report(convention, parties, period, str(zone), of(_within(facts, zone, period)),
                  of(_within(facts, zone, upto)), [m for m in moments if period.holds_month(m.period)], made_at)


def _moments(facts: Facts) -> list[Moment]:
    return ([Moment("surgeries", s.completed_at, s.previously_referred_abroad, s.specialty, s.procedure)
             for s in facts.surgeries]
            + [Moment("consultations", c.held_at) for c in facts.consultations]
            + [Moment("training_sessions", t.held_at) for t in facts.trainings])


# -- the tables: what the PDF shows and the CSV files hold -----------------------------------------

Cell = str | int | float | Decimal | None


@dataclass(frozen=True)
class Table:
    key: str                 # the CSV file's name, and the label of its title
    columns: tuple[str, ...]  # keys: the CSV header, and the labels of the PDF's column heads
    rows: list[tuple[Cell, ...]]
    labelled: bool = True    # the first cell of each row is a label key (translated in the PDF)


ACTIVITIES = ("surgeries", "consultations", "training_sessions")
OUTCOMES = ("successful", "with_complications", "deceased")


def tables(r: Report) -> list[Table]:
    """Every figure of the report, table by table. A figure added to progress is added here once."""
    p, d = r.in_period, r.to_date
    out = [
        Table("objectives", ("activity", "in_period", "to_date", "target", "percent_of_target"),
              [(k, getattr(p, k).done, getattr(d, k).done, getattr(d, k).target, getattr(d, k).percent)
               for k in ACTIVITIES]),
        Table("surgery_outcomes", ("outcome", "in_period", "to_date"),
              [(o, p.surgery_outcomes.get(o, 0), d.surgery_outcomes.get(o, 0)) for o in OUTCOMES]),
        Table("referred_abroad", ("figure", "in_period", "to_date"), [
            ("treated_locally_instead_of_abroad", p.avoided_abroad.cases, d.avoided_abroad.cases),
            ("costed", p.avoided_abroad.costed, d.avoided_abroad.costed),
            ("uncosted", p.avoided_abroad.uncosted, d.avoided_abroad.uncosted),
        ]),
        Table("money_not_spent_abroad",
              ("currency", "abroad_in_period", "here_in_period", "abroad_to_date", "here_to_date"),
              [(c, p.avoided_abroad.abroad.get(c, Decimal(0)), p.avoided_abroad.here.get(c, Decimal(0)),
                d.avoided_abroad.abroad.get(c, Decimal(0)), d.avoided_abroad.here.get(c, Decimal(0)))
               for c in sorted({*d.avoided_abroad.abroad, *d.avoided_abroad.here})], labelled=False),
        Table("training", ("figure", "in_period", "to_date"), [
            ("training_hours", p.training_hours, d.training_hours),
            ("trainees", p.trainees, d.trainees),
            ("training_placements", p.training_placements, d.training_placements),
            ("training_placement_days", p.training_placement_days, d.training_placement_days),
            ("training_placement_trainees", p.training_placement_trainees, d.training_placement_trainees),
            ("missions_completed", p.missions_completed, d.missions_completed),
        ]),
        Table("months", ("month", *PERIOD_KINDS, *(f"cumulative_{k}" for k in PERIOD_KINDS)),
              [(m.period, *(m.counts[k] for k in PERIOD_KINDS), *(m.cumulative[k] for k in PERIOD_KINDS))
               for m in r.months], labelled=False),
        Table("months_money", ("month", "currency", "abroad", "here"),
              [(m.period, c, m.avoided_abroad.abroad.get(c, Decimal(0)), m.avoided_abroad.here.get(c, Decimal(0)))
               for m in r.months if m.avoided_abroad is not None
               for c in sorted({*m.avoided_abroad.abroad, *m.avoided_abroad.here})], labelled=False),
        *achievement_tables(r),
    ]
    yearly = [(y.period, *(x for k in ACTIVITIES for x in (y.counts[k], getattr(target, k))))
              for y in r.years if (target := r.convention.terms.objectives_of(int(y.period))) is not None]
    if yearly:
        out.insert(1, Table("yearly_objectives", ("year", *(f"{k}_{x}" for k in ACTIVITIES for x in ("done", "target"))),
                            yearly, labelled=False))
    return out


def achievement_tables(r: Report) -> list[Table]:
    """The local teams' autonomy (per risk category, in the period and to date), each local
    practitioner's steps, and the 30-day outcomes per risk category (to date)."""
    last = f"{r.period.last:%Y-%m}" if r.period.last else None
    in_period = {t.risk: t for t in merged(t for month, t in r.led if r.period.holds_month(month))}
    to_date = {t.risk: t for t in merged(t for month, t in r.led if last is None or month <= last)}
    autonomy = [(risk, *((p.surgeries, p.led_locally) if (p := in_period.get(risk)) else (0, 0)),
                 d.surgeries, d.led_locally, d.share)
                for risk, d in sorted(to_date.items(), key=lambda kv: risk_order(kv[0]))]
    steps = [(c.full_name or c.practitioner_ref, s.role.value, s.first_at.date().isoformat(), s.surgeries)
             for c in r.climbs for s in c.steps]
    tallies = sorted(r.outcomes, key=lambda t: risk_order(t.risk))
    outcomes = [(t.risk, t.operated, t.followed_up, t.followed_up_share, t.deaths, t.mortality, t.complications,
                 t.complication_rate) for t in [*tallies, *([total(tallies)] if tallies else [])]]
    return [
        Table("local_autonomy", ("risk", "surgeries_in_period", "led_locally_in_period", "surgeries_to_date",
                                 "led_locally_to_date", "percent_led_locally_to_date"), autonomy, labelled=False),
        Table("local_practitioner_steps", ("practitioner", "role", "first_on", "surgeries"), steps,
              labelled=False),
        Table("outcomes_30_day", ("risk", "operated", "followed_up", "percent_followed_up", "deaths_within_30_days",
                                  "percent_mortality", "complications", "percent_complications"), outcomes,
              labelled=False),
    ]


@dataclass(frozen=True)
class Document:
    """A file to download: its name, media type and bytes."""

    filename: str
    media_type: str
    content: bytes


def file_stem(reference: str, period: ReportPeriod) -> str:
    """A file name safe on every system: the reference and the period, nothing else."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{reference}_{period.name}").strip("._")
    return safe[:150] or "report"
