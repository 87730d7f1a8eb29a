"""Progress kept as counters (issues 21 and 23), on SQLite and PostgreSQL: for random sequences of
facts, each handled in its own transaction as the consumer does (new facts, the same fact reported
again, a fact corrected: another day across months, another outcome, ...), the counters give the
figures the facts give (the computation from every fact the service made before), overall, by
month, quarter and year and in a report of any period; the rebuild recomputes them to the same
rows; the migration counts the facts already kept."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convention.app import MIGRATIONS
from convention.domain.conventions import (
    Convention,
    ConventionKind,
    Money,
    Objectives,
    Party,
    ReferenceCost,
    Terms,
)
from convention.domain.progress import by_month, by_period, period_of, progress, progress_of
from convention.domain.report import Facts, PartyLine, report, report_from_facts, report_period, tables
from convention.handlers import progress as handlers
from convention.store import ConventionUnitOfWork
from convention.store.tables import DayTallyRow, MissionDayRow, ReferredTallyRow
from jumelage.clock import FixedClock
from jumelage.db import create_engine, session_factory
from jumelage.events import (
    ConsultationHeld,
    MissionCompleted,
    SurgeryCompleted,
    TrainingPlacementCompleted,
    TrainingSessionHeld,
    new_envelope,
)
from jumelage.events.convention import PartyRole
from jumelage.migrations import migrate
from jumelage.testkit.schema import downgrade
from jumelage.testkit.servers import Database

ALGIERS = ZoneInfo("Africa/Algiers")
CLOCK = FixedClock(datetime(2026, 1, 5, 9, tzinfo=UTC), timezone="Africa/Algiers")
CARDIAC = "paediatric cardiac surgery"
GSD, CMCI = uuid.UUID(int=1), uuid.UUID(int=2)
MISSIONS = [uuid.UUID(int=100 + i) for i in range(3)]
START = datetime(2024, 1, 1, tzinfo=UTC)


def convention() -> Convention:
    """A convention whose reference costs an amendment changes from 1 March 2025."""
    terms = Terms(title="Chirurgie cardiaque", kind=ConventionKind.international_cooperation,
                  parties=(Party(GSD, PartyRole.provider), Party(CMCI, PartyRole.beneficiary)),
                  effective_from=date(2024, 1, 1), effective_until=date(2025, 12, 31), specialties=(CARDIAC,),
                  objectives=Objectives(surgeries=40, consultations=100, training_sessions=10),
                  reference_costs=(ReferenceCost(CARDIAC, None, Money(Decimal("30000"), "EUR"),
                                                 Money(Decimal("150000"), "DZD")),
                                   ReferenceCost(CARDIAC, "arterial switch", Money(Decimal("45000"), "EUR"),
                                                 Money(Decimal("200000"), "DZD"))))
    c = Convention.draft("CNAS-GSD-2024-01", terms, {GSD, CMCI})
    c.sign(date(2024, 1, 1), "Alger", date(2024, 1, 1))
    c.amend(date(2025, 2, 1), "Avenant", {"reference_costs": [
        ReferenceCost(CARDIAC, None, Money(Decimal("32000"), "EUR"), Money(Decimal("160000"), "DZD"))]},
        {GSD, CMCI}, effective_from=date(2025, 3, 1))
    return c


# -- the random sequences ------------------------------------------------------------------------

# Instants over two years, to the minute: near midnight UTC too (the next day in Algiers).
instants = st.integers(0, 730 * 24 * 60).map(lambda m: START + timedelta(minutes=m))
hours = st.integers(1, 16).map(lambda h: h / 2)  # half hours: exact in binary, summed in any order


@st.composite
def new_fact(draw: Any, cid: uuid.UUID) -> Any:
    kind = draw(st.sampled_from(["surgery", "surgery", "consultation", "training", "placement", "mission"]))
    mission = draw(st.sampled_from(MISSIONS))
    if kind == "surgery":
        return SurgeryCompleted(
            surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid, patient_ref="P-1",
            procedure=draw(st.sampled_from(["arterial switch", "Arterial  Switch", "Norwood"])),
            completed_at=draw(instants), duration_minutes=120,
            outcome=draw(st.sampled_from(["successful", "with_complications", "deceased"])),
            previously_referred_abroad=draw(st.booleans()),
            specialty=draw(st.sampled_from([None, CARDIAC, "cardiology"])))
    if kind == "consultation":
        return ConsultationHeld(consultation_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                patient_ref="P-2", specialty=CARDIAC, held_at=draw(instants))
    if kind == "training":
        return TrainingSessionHeld(training_session_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                   topic="Perfusion", held_at=draw(instants), hours=draw(hours),
                                   trainee_count=draw(st.integers(1, 12)))
    if kind == "placement":
        ends = draw(instants).date()
        return TrainingPlacementCompleted(
            placement_id=uuid.uuid4(), convention_id=cid, kind=draw(st.sampled_from(["observership", "fellowship"])),
            specialty=CARDIAC, provider_institution_id=GSD, beneficiary_institution_id=CMCI,
            starts_on=ends - timedelta(days=9), ends_on=ends, days_spent=draw(st.integers(1, 60)),
            trainees=[{"practitioner_id": uuid.uuid4(), "full_name": f"T{i}"} for i in range(draw(st.integers(1, 3)))])
    return MissionCompleted(mission_id=mission, convention_id=cid,
                            totals={"surgeries": draw(st.integers(0, 9)), "consultations": draw(st.integers(0, 9)),
                                    "training_sessions": draw(st.integers(0, 9))})


def changed(fact: Any, **update: Any) -> Any:
    """``fact`` with other values, validated as an event's are."""
    return type(fact).model_validate({**fact.model_dump(), **update})


def corrected(draw: Any, fact: Any) -> Any:
    """The same fact reported with other values: another time (across days, months, years), outcome,
    referral, hours, trainees, placement days."""
    if isinstance(fact, SurgeryCompleted):
        return changed(fact, **{"completed_at": draw(instants),
                                       "outcome": draw(st.sampled_from(["successful", "deceased"])),
                                       "previously_referred_abroad": draw(st.booleans()),
                                       "mission_id": draw(st.sampled_from(MISSIONS))})
    if isinstance(fact, ConsultationHeld):
        return changed(fact, held_at=draw(instants))
    if isinstance(fact, TrainingSessionHeld):
        return changed(fact, **{"held_at": draw(instants), "hours": draw(hours),
                                       "trainee_count": draw(st.integers(1, 12))})
    if isinstance(fact, TrainingPlacementCompleted):
        ends = draw(instants).date()
        return changed(fact, **{"ends_on": ends, "starts_on": ends - timedelta(days=3),
                                       "days_spent": draw(st.integers(1, 60))})
    return changed(fact, **{"totals": {"surgeries": draw(st.integers(0, 9)), "consultations": 1,
                                              "training_sessions": 0}})


@st.composite
def sequences(draw: Any) -> tuple[uuid.UUID, list[Any]]:
    cid = uuid.uuid4()
    sent: list[Any] = []
    for _ in range(draw(st.integers(1, 30))):
        action = draw(st.sampled_from(["new", "new", "new", "again", "correct"]) if sent else st.just("new"))
        if action == "new":
            sent.append(draw(new_fact(cid)))
        elif action == "again":  # the same fact in another event (another event id: past the inbox)
            sent.append(draw(st.sampled_from(sent)))
        else:
            sent.append(corrected(draw, draw(st.sampled_from(sent))))
    return cid, sent


HANDLER = {SurgeryCompleted: handlers.surgery_completed, ConsultationHeld: handlers.consultation_held,
           TrainingSessionHeld: handlers.training_session_held, MissionCompleted: handlers.mission_completed,
           TrainingPlacementCompleted: handlers.training_placement_completed}


async def handle(sessions: Any, fact: Any) -> None:
    """As the consumer does: one transaction per event, the fact and its counters in it."""
    uow = ConventionUnitOfWork(sessions)
    async with uow:
        handler = HANDLER[type(fact)]
        envelope = new_envelope(fact, correlation_id="test", causation_id=None)
        if handler is handlers.mission_completed:
            await handler(envelope, uow)
        else:
            await handler(envelope, uow, clock=CLOCK)
        await uow.commit()


async def counter_rows(sessions: Any, cid: uuid.UUID) -> list[Any]:
    async with sessions() as session:
        rows = []
        for model in (DayTallyRow, ReferredTallyRow, MissionDayRow):
            found = await session.execute(sa.select(model.__table__).where(model.convention_id == cid))
            rows.append(sorted(tuple(r) for r in found))
        return rows


async def check(database: Database, cid: uuid.UUID, sent: list[Any]) -> None:
    engine = create_engine(database.url, schema=database.schema)
    sessions = session_factory(engine)
    try:
        for fact in sent:
            await handle(sessions, fact)
        uow = ConventionUnitOfWork(sessions)
        async with uow:
            tallies = await uow.counters.of(cid, mission_days=True)
            summed = await uow.counters.summed(cid)  # what GET /progress reads
            facts = Facts(*await uow.facts.of(cid))
            moments = await uow.facts.moments(cid)
        c = convention()
        t = c.terms
        costs = c.cost_schedule()
        # The whole convention.
        expected = progress(t.objectives, facts.surgeries, facts.consultations, facts.trainings, facts.missions,
                            facts.placements, reference_costs=costs, specialties=t.specialties, zone=ALGIERS)
        assert progress_of(t.objectives, tallies, reference_costs=costs, specialties=t.specialties) == expected
        assert progress_of(t.objectives, summed, reference_costs=costs, specialties=t.specialties) == expected
        # By month, as the facts gave it; quarters and years are sums of those months.
        months = by_month(moments, ALGIERS, reference_costs=costs, specialties=t.specialties)
        assert by_period(tallies, "month", reference_costs=costs, specialties=t.specialties) == months
        for by in ("quarter", "year"):
            sums: dict[str, Counter[str]] = {}
            for m in months:
                sums.setdefault(period_of(date.fromisoformat(m.period + "-01"), by), Counter()).update(m.counts)
            got = by_period(tallies, by, reference_costs=costs, specialties=t.specialties)
            assert {p.period: p.counts for p in got} == {k: dict(v) | {n: v.get(n, 0) for n in months[0].counts}
                                                         for k, v in sums.items()}
        # Reports of any period: a year, a quarter, a month, days across months.
        parties = [PartyLine("provider", "GSD")]
        for period in (report_period(None, None, None), report_period("2024", None, None),
                       report_period("2025-Q1", None, None), report_period("2024-03", None, None),
                       report_period(None, date(2024, 2, 17), date(2025, 3, 3)),
                       report_period(None, date(2025, 2, 28), None)):
            assert tables(report(c, parties, period, tallies, ALGIERS, CLOCK.now())) == \
                tables(report_from_facts(c, parties, period, facts, ALGIERS, CLOCK.now()))
        # The rebuild recomputes the same rows from the facts.
        before = await counter_rows(sessions, cid)
        uow = ConventionUnitOfWork(sessions)
        async with uow:
            await uow.counters.rebuild(ALGIERS, cid)
            await uow.commit()
        assert await counter_rows(sessions, cid) == before
    finally:
        await engine.dispose()


async def test_the_counters_give_what_the_facts_give_for_random_sequences(database: Database) -> None:
    own = await database.for_service("convention")
    engine = create_engine(own.url, schema=own.schema)
    await migrate(engine, MIGRATIONS)
    await engine.dispose()

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(sequences())
    def each(sequence: tuple[uuid.UUID, list[Any]]) -> None:
        asyncio.run(check(own, *sequence))  # a loop of its own in this thread, an engine of its own

    await asyncio.to_thread(each)


async def test_a_correction_moves_the_counters_between_months(database: Database) -> None:
    """A surgery reported completed on 31 May and then (corrected) on 2 July leaves May and counts
    in July; the same report again counts nothing more."""
    own = await database.for_service("convention")
    engine = create_engine(own.url, schema=own.schema)
    await migrate(engine, MIGRATIONS)
    sessions = session_factory(engine)
    cid = uuid.uuid4()
    surgery = SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=MISSIONS[0], convention_id=cid, patient_ref="P",
                               procedure="arterial switch", completed_at=datetime(2024, 5, 31, 10, tzinfo=UTC),
                               duration_minutes=90, outcome="successful", previously_referred_abroad=True,
                               specialty=CARDIAC)
    try:
        for fact in (surgery, surgery, replace_at(surgery, datetime(2024, 7, 2, 8, tzinfo=UTC)),
                     replace_at(surgery, datetime(2024, 7, 2, 8, tzinfo=UTC))):
            await handle(sessions, fact)
        uow = ConventionUnitOfWork(sessions)
        async with uow:
            tallies = await uow.counters.of(cid, mission_days=True)
        months = by_period(tallies, "month")
        assert [(m.period, m.counts["surgeries"], m.counts["treated_locally_instead_of_abroad"]) for m in months] \
            == [("2024-07", 1, 1)]
        assert tallies.mission_days == [(MISSIONS[0], date(2024, 7, 2))]
        assert [(r.day, r.cases) for r in tallies.referred] == [(date(2024, 7, 2), 1)]
        assert progress_of(Objectives(surgeries=4), tallies).last_activity_at == datetime(2024, 7, 2, 8, tzinfo=UTC)
    finally:
        await engine.dispose()


def replace_at(fact: SurgeryCompleted, at: datetime) -> SurgeryCompleted:
    return changed(fact, completed_at=at)


async def test_the_migration_counts_the_facts_already_kept(database: Database) -> None:
    """Facts kept before the counters (at 0014): the migration to 0015 counts them."""
    own = await database.for_service("convention")
    engine = create_engine(own.url, schema=own.schema)
    script = MIGRATIONS
    sessions = session_factory(engine)
    cid = uuid.uuid4()
    try:
        await migrate(engine, script)
        for day in (date(2024, 5, 27), date(2024, 5, 28), date(2024, 6, 3)):
            await handle(sessions, SurgeryCompleted(
                surgery_id=uuid.uuid4(), mission_id=MISSIONS[1], convention_id=cid, patient_ref="P",
                procedure="Norwood", completed_at=datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9),
                duration_minutes=90, outcome="successful", previously_referred_abroad=True, specialty=CARDIAC))
        before = await counter_rows(sessions, cid)
        await downgrade(engine, script, "0014")  # the counters' tables go; the facts stay
        await migrate(engine, script)
        assert await counter_rows(sessions, cid) == before and len(before[0]) == 3
    finally:
        await engine.dispose()



