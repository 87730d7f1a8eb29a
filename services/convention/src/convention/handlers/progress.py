"""Progress: the facts the scheduling service reports (kept by their ids, so a duplicate
counts once and order does not matter) and the figures derived from them."""

from __future__ import annotations

import asyncio

from convention.adapters.reports import ReportRenderer
from convention.domain.commands import ConventionPeriods, ConventionProgress, ConventionReport
from convention.domain.conventions import Convention
from convention.domain.progress import PeriodCounts, Progress, by_month, progress
from convention.domain.report import Document, Facts, PartyLine, file_stem, report, report_period
from convention.store import ConventionUnitOfWork
from convention.store.tables import ConsultationFact, MissionFact, PlacementFact, SurgeryFact, TrainingFact
from jumelage.clock import Clock
from jumelage.errors import NotFound
from jumelage.events import (
    CloudEvent,
    ConsultationHeld,
    MissionCompleted,
    SurgeryCompleted,
    TrainingPlacementCompleted,
    TrainingSessionHeld,
)


async def convention_progress(query: ConventionProgress, uow: ConventionUnitOfWork) -> tuple[Convention, Progress]:
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        facts = await uow.facts.of(query.convention_id)
    t = convention.terms
    return convention, progress(t.objectives, *facts, reference_costs=t.reference_costs, specialties=t.specialties)


async def convention_periods(query: ConventionPeriods, uow: ConventionUnitOfWork, *,
                             clock: Clock) -> tuple[Convention, str, list[PeriodCounts]]:
    """Progress over time, by month in the programmes' time zone (``TIMEZONE``, the clock's),
    with the zone's name."""
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        moments = await uow.facts.moments(query.convention_id)
    t = convention.terms
    return convention, str(clock.zone), by_month(moments, clock.zone, reference_costs=t.reference_costs,
                                                 specialties=t.specialties)


async def convention_report(query: ConventionReport, uow: ConventionUnitOfWork, *, clock: Clock,
                            reports: ReportRenderer) -> Document:
    """The report for the period the query names, over the progress facts: the PDF made off the
    event loop (WeasyPrint is CPU work), or the CSV files zipped."""
    period = report_period(query.period, query.first, query.last)
    async with uow:
        convention = await uow.conventions.get(query.convention_id)
        if convention is None:
            raise NotFound(f"no convention {query.convention_id}")
        facts = Facts(*await uow.facts.of(query.convention_id))
        parties = []
        for party in convention.terms.parties:
            institution = await uow.institutions.get(party.institution_id)
            parties.append(PartyLine(party.role.value, institution.name if institution else str(party.institution_id)))
    made = report(convention, parties, period, facts, clock.zone, clock.now())
    stem = file_stem(convention.reference, period)
    if query.format == "pdf":
        content = await asyncio.to_thread(reports.pdf, made, query.language)
        return Document(f"{stem}_{query.language}.pdf", "application/pdf", content)
    return Document(f"{stem}_csv.zip", "application/zip", reports.csv_zip(made))


async def surgery_completed(event: CloudEvent[SurgeryCompleted], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(SurgeryFact(surgery_id=d.surgery_id, convention_id=d.convention_id, mission_id=d.mission_id,
                                    outcome=d.outcome.value, previously_referred_abroad=d.previously_referred_abroad,
                                    completed_at=d.completed_at, specialty=d.specialty, procedure=d.procedure))


async def consultation_held(event: CloudEvent[ConsultationHeld], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(ConsultationFact(consultation_id=d.consultation_id, convention_id=d.convention_id,
                                         mission_id=d.mission_id, held_at=d.held_at))


async def training_session_held(event: CloudEvent[TrainingSessionHeld], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(TrainingFact(training_session_id=d.training_session_id, convention_id=d.convention_id,
                                     mission_id=d.mission_id, topic=d.topic, hours=d.hours,
                                     trainee_count=d.trainee_count, held_at=d.held_at))


async def mission_completed(event: CloudEvent[MissionCompleted], uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(MissionFact(mission_id=d.mission_id, convention_id=d.convention_id,
                                    surgeries=d.totals.surgeries, consultations=d.totals.consultations,
                                    training_sessions=d.totals.training_sessions))


async def training_placement_completed(event: CloudEvent[TrainingPlacementCompleted],
                                       uow: ConventionUnitOfWork) -> None:
    d = event.data
    await uow.facts.put(PlacementFact(placement_id=d.placement_id, convention_id=d.convention_id, kind=d.kind.value,
                                      specialty=d.specialty, starts_on=d.starts_on, ends_on=d.ends_on,
                                      days_spent=d.days_spent, trainee_count=len(d.trainees)))
