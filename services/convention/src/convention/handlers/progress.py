"""Progress: the facts the scheduling service reports (kept by their ids, so a duplicate
counts once and order does not matter) and the figures derived from them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import tzinfo
from typing import Any

from convention.adapters.reports import ReportRenderer
from convention.domain.achievements import Climb, LedTally, OutcomeTally, month_of, risk_key
from convention.domain.commands import (
    ConventionAutonomy,
    ConventionOutcomes,
    ConventionPeriods,
    ConventionProgress,
    ConventionReport,
)
from convention.domain.conventions import Convention
from convention.domain.progress import PeriodCounts, Progress, by_period, progress_of
from convention.domain.report import Document, PartyLine, file_stem, report, report_period
from convention.store import ConventionUnitOfWork
from convention.store.repositories import done_of
from convention.store.tables import (
    ConsultationFact,
    FollowUpFact,
    MissionFact,
    PlacementFact,
    SurgeryFact,
    TrainingFact,
)
from jumelage.clock import Clock
from jumelage.errors import NotFound
from jumelage.events import (
    CloudEvent,
    ConsultationHeld,
    MissionCompleted,
    LeadSide,
    SurgeryCompleted,
    SurgeryFollowedUp,
    SurgeryOutcome,
    TrainingPlacementCompleted,
    TrainingSessionHeld,
)


async def convention_progress(query: ConventionProgress, uow: ConventionUnitOfWork, *,
                              clock: Clock) -> tuple[Convention, Progress]:
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        tallies = await uow.counters.summed(query.convention_id)
    t = convention.terms
    # From the counters kept as facts arrive; each case referred abroad at the reference costs in
    # force on its day (in the programmes' time zone).
    return convention, progress_of(t.objectives, tallies, reference_costs=convention.cost_schedule(),
                                   specialties=t.specialties)


async def convention_periods(query: ConventionPeriods, uow: ConventionUnitOfWork, *,
                             clock: Clock) -> tuple[Convention, str, list[PeriodCounts]]:
    """Progress over time, by month, quarter or year in the programmes' time zone (``TIMEZONE``,
    the clock's), from the counters, with the zone's name."""
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        tallies = await uow.counters.of(query.convention_id)
    t = convention.terms
    # By year, each year with objectives of its own is shown, done or not.
    keep = tuple(str(y.year) for y in t.yearly_objectives) if query.by == "year" else ()
    return convention, str(clock.zone), by_period(tallies, query.by, reference_costs=convention.cost_schedule(),
                                                  specialties=t.specialties, keep=keep)


async def convention_report(query: ConventionReport, uow: ConventionUnitOfWork, *, clock: Clock,
                            reports: ReportRenderer) -> Document:
    """The report for the period the query names, over the progress facts: the PDF made off the
    event loop (WeasyPrint is CPU work), or the CSV files zipped."""
    period = report_period(query.period, query.first, query.last)
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        tallies = await uow.counters.of(query.convention_id, mission_days=True)
        led, climbs = await uow.facts.autonomy(query.convention_id)
        outcomes = await uow.facts.outcomes(query.convention_id)
        parties = []
        for party in convention.terms.parties:
            institution = await uow.institutions.get(party.institution_id)
            parties.append(PartyLine(party.role.value, institution.name if institution else str(party.institution_id)))
    made = report(convention, parties, period, tallies, clock.zone, clock.now(), led=led, climbs=climbs,
                  outcomes=outcomes)
    stem = file_stem(convention.reference, period)
    if query.format == "pdf":
        content = await asyncio.to_thread(reports.pdf, made, query.language)
        return Document(f"{stem}_{query.language}.pdf", "application/pdf", content)
    return Document(f"{stem}_csv.zip", "application/zip", reports.csv_zip(made))


async def _record(uow: ConventionUnitOfWork, row: Any, key: uuid.UUID, zone: tzinfo) -> bool:
    """Keep the fact ``row`` (upserted by its id) and move the progress counters in the same
    transaction: the same values again count nothing; other values (a correction: another day,
    another outcome) take the old ones' count away and add the new. True if it was new."""
    old = await uow.facts.get(type(row), key)
    before = (old.convention_id, done_of(old)) if old is not None else None  # before the merge changes it
    await uow.facts.put(row)
    after = done_of(row)
    if before is not None and before == (row.convention_id, after):
        return False
    if before is not None:
        await uow.counters.count(before[0], before[1], zone, -1)
    await uow.counters.count(row.convention_id, after, zone, 1)
    return before is None


async def surgery_completed(event: CloudEvent[SurgeryCompleted], uow: ConventionUnitOfWork, *,
                            clock: Clock) -> None:
    d = event.data
    risk = risk_key(d.risk_scheme, d.risk_category)
    first = await _record(uow, SurgeryFact(
        surgery_id=d.surgery_id, convention_id=d.convention_id, mission_id=d.mission_id, outcome=d.outcome.value,
        previously_referred_abroad=d.previously_referred_abroad, completed_at=d.completed_at, specialty=d.specialty,
        procedure=d.procedure, lead_side=d.lead_side.value if d.lead_side else None, risk=risk),
        d.surgery_id, clock.zone)
    if not first:
        return  # the same surgery reported again: its autonomy and outcome tallies were raised once
    # The tallies, raised once per surgery (not recomputed on a read).
    await uow.facts.count_surgery(d.convention_id, month_of(d.completed_at, clock.zone), risk,
                                  led_locally=d.lead_side is LeadSide.local,
                                  died=d.outcome is SurgeryOutcome.deceased)
    for part in d.local_roles or ():
        await uow.facts.count_step(d.convention_id, part.practitioner_ref, part.role.value, part.full_name,
                                   d.completed_at)


async def surgery_followed_up(event: CloudEvent[SurgeryFollowedUp], uow: ConventionUnitOfWork) -> None:
    d = event.data
    if await uow.facts.follow_up(d.surgery_id) is not None:
        return  # recorded once in the scheduling service: a second report counts once
    risk = risk_key(d.risk_scheme, d.risk_category)
    await uow.facts.put(FollowUpFact(surgery_id=d.surgery_id, convention_id=d.convention_id, outcome=d.outcome.value,
                                     risk=risk, days_after_surgery=d.days_after_surgery,
                                     followed_up_on=d.followed_up_on))
    await uow.facts.count_follow_up(d.convention_id, risk, d.outcome.value)


async def convention_autonomy(query: ConventionAutonomy, uow: ConventionUnitOfWork, *, clock: Clock) -> tuple[
        Convention, str, list[tuple[str, LedTally]], list[Climb]]:
    """The local teams' autonomy, from the tallies (per month and risk category) and the steps,
    with the zone the months are taken in."""
    async with uow:
        convention = await _convention(uow, query.convention_id)
        led, steps = await uow.facts.autonomy(query.convention_id)
    return convention, str(clock.zone), led, steps


async def convention_outcomes(query: ConventionOutcomes, uow: ConventionUnitOfWork) -> tuple[
        Convention, list[OutcomeTally]]:
    async with uow:
        convention = await _convention(uow, query.convention_id)
        tallies = await uow.facts.outcomes(query.convention_id)
    return convention, tallies


async def _convention(uow: ConventionUnitOfWork, convention_id: uuid.UUID) -> Convention:
    convention = await uow.conventions.get(convention_id)
    if convention is None:
        raise NotFound(f"no convention {convention_id}")
    return convention


async def consultation_held(event: CloudEvent[ConsultationHeld], uow: ConventionUnitOfWork, *,
                            clock: Clock) -> None:
    d = event.data
    await _record(uow, ConsultationFact(consultation_id=d.consultation_id, convention_id=d.convention_id,
                                        mission_id=d.mission_id, held_at=d.held_at), d.consultation_id, clock.zone)


async def training_session_held(event: CloudEvent[TrainingSessionHeld], uow: ConventionUnitOfWork, *,
                                clock: Clock) -> None:
    d = event.data
    await _record(uow, TrainingFact(training_session_id=d.training_session_id, convention_id=d.convention_id,
                                    mission_id=d.mission_id, topic=d.topic, hours=d.hours,
                                    trainee_count=d.trainee_count, held_at=d.held_at),
                  d.training_session_id, clock.zone)


async def mission_completed(event: CloudEvent[MissionCompleted], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(MissionFact(mission_id=d.mission_id, convention_id=d.convention_id,
                                    surgeries=d.totals.surgeries, consultations=d.totals.consultations,
                                    training_sessions=d.totals.training_sessions))


async def training_placement_completed(event: CloudEvent[TrainingPlacementCompleted],
                                       uow: ConventionUnitOfWork, *, clock: Clock) -> None:
    d = event.data
    await _record(uow, PlacementFact(placement_id=d.placement_id, convention_id=d.convention_id, kind=d.kind.value,
                                     specialty=d.specialty, starts_on=d.starts_on, ends_on=d.ends_on,
                                     days_spent=d.days_spent, trainee_count=len(d.trainees)),
                  d.placement_id, clock.zone)
