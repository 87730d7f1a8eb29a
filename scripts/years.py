"""Years of data, written straight into the three services' databases (bench (g)).

Not a test and not a migration: bulk inserts (SQLAlchemy Core, ``executemany`` in chunks,
one transaction per chunk) of rows shaped as the services write them, on databases the
services' own migrations made. At ``scale`` 1 (the issue's sizes): 50 institutions, 500
conventions, 20,000 missions (3 team members and 10 surgeries each), 500,000 patient cases,
and 2,000,000 events through the outboxes (each service's outbox a third, published over
three years; as many inbox keys, handled over the same years). A smaller scale divides
every count but the institutions (at least one convention's worth of each).

    from years import fill, Sizes
    counts = await fill({"convention": engine_c, "scheduling": engine_s, "notification": engine_n}, scale=0.1)
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

INSTITUTIONS = 50
CONVENTIONS = 500
MISSIONS = 20_000
CASES = 500_000
EVENTS = 2_000_000
TEAM = 3
SURGERIES_PER_MISSION = 10
YEARS = 3
CHUNK = 5_000

SPECIALTIES = ("paediatric cardiac surgery", "general surgery", "urology", "orthopaedics", "ophthalmology")
EVENT_TYPES = ("SurgeryScheduled", "SurgeryCompleted", "MissionScheduled", "NotificationSent", "CaseRegistered")


@dataclass
class Plan:
    """The counts at a scale, and the ids later parts read (a host, a mission, a convention)."""

    scale: float
    now: datetime
    institutions: list[uuid.UUID] = field(default_factory=list)
    hosts: list[uuid.UUID] = field(default_factory=list)
    conventions: list[dict[str, Any]] = field(default_factory=list)
    missions: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    kept: dict[str, dict[str, int]] = field(default_factory=dict)  # service -> outbox/inbox rows within the window

    def n(self, full: int, least: int = 1) -> int:
        return max(least, round(full * self.scale))


def _chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _write(engine: AsyncEngine, table: Any, rows: Iterator[dict[str, Any]], counts: dict[str, int],
                 key: str) -> None:
    """``rows`` into ``table``: on PostgreSQL by ``COPY`` (asyncpg's ``copy_records_to_table``,
    some 20 times faster than inserts), on SQLite by ``executemany``; a transaction a chunk."""
    statement = insert(table)
    jsons = {c.name for c in table.columns if isinstance(c.type, JSON)}
    for chunk in _chunks(rows, CHUNK * 4 if engine.dialect.name == "postgresql" else CHUNK):
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                raw = (await conn.get_raw_connection()).driver_connection
                columns = list(chunk[0])
                records = [tuple(json.dumps(r[c]) if c in jsons and r[c] is not None else r[c] for c in columns)
                           for r in chunk]
                await raw.copy_records_to_table(table.name, records=records, columns=columns)
            else:
                await conn.execute(statement, chunk)
        counts[key] = counts.get(key, 0) + len(chunk)


def _envelope(event_id: uuid.UUID, kind: str, at: datetime, source: str) -> str:
    # About the size of a real envelope (the contract's CloudEvents JSON, a few ids in its data).
    return json.dumps({"specversion": "1.0", "id": str(event_id), "source": f"jumelage/{source}", "type": kind,
                       "time": at.isoformat(), "datacontenttype": "application/json",
                       "correlationid": str(uuid.uuid4()), "causationid": str(uuid.uuid4()),
                       "data": {"convention_id": str(uuid.uuid4()), "mission_id": str(uuid.uuid4()),
                                "surgery_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()),
                                "scheduled_start": at.isoformat(), "procedure": "Correction complète"}})


async def fill(engines: dict[str, AsyncEngine], *, scale: float, now: datetime | None = None,
               say: Callable[[str], None] = print, seed: int = 23) -> Plan:
    """Every table of the plan at ``scale``, in the three services' databases (migrated)."""
    from convention.store import tables as ct
    from notification.store import tables as nt
    from scheduling.store import tables as st

    from jumelage.messaging.tables import InboxRecord, OutboxRecord

    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    plan = Plan(scale=scale, now=now)
    counts = plan.counts
    start = now - timedelta(days=365 * YEARS)
    kinds = ("university_hospital", "hospital", "hospital_group", "clinic", "insurer")
    plan.institutions = [uuid.UUID(int=rnd.getrandbits(128)) for _ in range(INSTITUTIONS)]
    plan.hosts = plan.institutions[:INSTITUTIONS // 2 - 1]  # beneficiaries: their waiting lists
    providers = plan.institutions[INSTITUTIONS // 2 - 1:-1]
    funder = plan.institutions[-1]  # the fund, party to every convention
    t0 = time.perf_counter()

    # -- institutions, in all three (the two replicas as their subscribers write them)
    names = {i: f"Établissement {k:02d}" for k, i in enumerate(plan.institutions)}
    await _write(engines["convention"], ct.InstitutionRow.__table__, (
        {"id": i, "name": names[i], "kind": kinds[k % len(kinds)], "country": "DZ", "wilaya": "Oran",
         "city": f"Ville {k}", "registered_at": start, "name_key": names[i].lower(), "city_key": f"ville {k}"}
        for k, i in enumerate(plan.institutions)), counts, "institutions")
    for service, module in (("scheduling", st), ("notification", nt)):
        await _write(engines[service], module.Table.metadata.tables["institution"], (
            {"id": i, "name": names[i], "kind": kinds[k % len(kinds)], "country": "DZ", "city": f"Ville {k}",
             "registered_by_event": uuid.uuid4(), "as_of": start} for k, i in enumerate(plan.institutions)),
            {}, "replica")

    # -- conventions: each between a provider and a beneficiary (host), funded by an insurer
    n_conventions = plan.n(CONVENTIONS)
    for k in range(n_conventions):
        begins = (start + timedelta(days=(k * 365 * YEARS) // max(1, n_conventions))).date()
        plan.conventions.append({
            "id": uuid.UUID(int=rnd.getrandbits(128)), "reference": f"CONV-{k:05d}", "host": plan.hosts[k % len(plan.hosts)],
            "provider": providers[k % len(providers)], "funder": funder,
            "from": begins, "until": now.date() + timedelta(days=365), "specialty": SPECIALTIES[k % len(SPECIALTIES)]})
    await _write(engines["convention"], ct.ConventionRow.__table__, (
        {"id": c["id"], "reference": c["reference"], "title": f"Convention {c['reference']}", "kind": "twinning",
         "effective_from": c["from"], "effective_until": c["until"], "objective_surgeries": 500,
         "objective_consultations": 100, "objective_training_sessions": 10, "cost_bearers": [],
         "reference_costs": [], "status": "signed", "signed_on": c["from"], "signed_at": "Oran",
         "status_reason": None, "ended_on": None, "created_at": start, "version": 2, "updated_at": start}
        for c in plan.conventions), counts, "conventions")
    roles = (("provider", "provider"), ("beneficiary", "host"), ("funder", "funder"))
    await _write(engines["convention"], ct.PartyRow.__table__, (
        {"convention_id": c["id"], "institution_id": c[key], "role": role, "position": p}
        for c in plan.conventions for p, (role, key) in enumerate(roles)), {}, "parties")
    await _write(engines["convention"], ct.SpecialtyRow.__table__, (
        {"convention_id": c["id"], "specialty": c["specialty"], "position": 0} for c in plan.conventions), {}, "sp")
    await _write(engines["scheduling"], st.ConventionRow.__table__, (
        {"id": c["id"], "reference": c["reference"], "title": f"Convention {c['reference']}",
         "parties": [{"institution_id": str(c[key]), "role": role} for role, key in roles],
         "effective_from": c["from"], "effective_until": c["until"], "specialties": [c["specialty"]],
         "objectives": {"surgeries": 500, "consultations": 100, "training_sessions": 10}, "signed": True,
         "status": "signed", "status_changed_at": start, "status_reason": None, "ended_on": None,
         "term_versions": {}} for c in plan.conventions), {}, "replica")
    say(f"      conventions and institutions: {time.perf_counter() - t0:.0f} s")

    # -- missions, each a week under its convention, with its team; past ones completed
    n_missions = plan.n(MISSIONS, least=n_conventions)
    for k in range(n_missions):
        c = plan.conventions[k % n_conventions]
        span = max(1, (c["until"] - c["from"]).days - 7)
        starts = c["from"] + timedelta(days=(k // n_conventions * 17) % span)
        plan.missions.append({"id": uuid.UUID(int=rnd.getrandbits(128)), "convention": c, "starts": starts,
                              "team": [uuid.UUID(int=rnd.getrandbits(128)) for _ in range(TEAM)],
                              "past": starts + timedelta(days=5) < now.date()})
    created = start
    await _write(engines["scheduling"], st.MissionRow.__table__, (
        {"id": m["id"], "convention_id": m["convention"]["id"], "host_institution_id": m["convention"]["host"],
         "visiting_institution_id": m["convention"]["provider"], "specialty": m["convention"]["specialty"],
         "starts_on": m["starts"], "ends_on": m["starts"] + timedelta(days=4),
         "status": "completed" if m["past"] else "scheduled", "status_reason": None, "totals": None,
         "created_at": created + timedelta(seconds=k), "version": 1, "updated_at": created}
        for k, m in enumerate(plan.missions)), counts, "missions")
    team_roles = ("surgeon", "anaesthetist", "nurse")
    await _write(engines["scheduling"], st.MissionMemberRow.__table__, (
        {"mission_id": m["id"], "practitioner_id": p, "position": j, "full_name": f"Dr {j} {k}",
         "role": team_roles[j % len(team_roles)], "home_institution_id": m["convention"]["provider"],
         "arrives_on": None, "leaves_on": None}
        for k, m in enumerate(plan.missions) for j, p in enumerate(m["team"])), counts, "mission members")
    say(f"      missions: {time.perf_counter() - t0:.0f} s")

    # -- patient cases, on the hosts' waiting lists; those of the missions' surgeries scheduled or operated
    n_cases = plan.n(CASES, least=n_missions * SURGERIES_PER_MISSION)
    surgeries = n_missions * SURGERIES_PER_MISSION

    def case_rows() -> Iterator[dict[str, Any]]:
        for k in range(n_cases):
            m = plan.missions[k // SURGERIES_PER_MISSION] if k < surgeries else None
            status = ("operated" if m["past"] else "scheduled") if m else ("waiting" if k % 10 else "cancelled")
            host = m["convention"]["host"] if m else plan.hosts[k % len(plan.hosts)]
            registered = start + timedelta(seconds=(k * 365 * YEARS * 86400) // n_cases)
            yield {"id": uuid.UUID(int=k + 1), "patient_ref": f"P-{k:016d}", "host_institution_id": host,
                   "full_name": f"Patient {k}", "date_of_birth": date(2015, 1, 1) + timedelta(days=k % 3000),
                   "sex": "female" if k % 2 else "male", "weight_kg": 10 + k % 50, "diagnosis": "Cardiopathie",
                   "planned_procedure": "Correction complète", "priority": 1 + k % 5,
                   "expected_duration_minutes": 60, "risk_scheme": "none", "risk_category": None,
                   "referred_abroad": bool(k % 3 == 0), "status": status, "status_reason": None,
                   "registered_at": registered, "version": 1, "updated_at": registered}

    await _write(engines["scheduling"], st.PatientCaseRow.__table__, case_rows(), counts, "patient cases")
    say(f"      patient cases: {time.perf_counter() - t0:.0f} s")

    def surgery_rows() -> Iterator[dict[str, Any]]:
        for k in range(surgeries):
            m = plan.missions[k // SURGERIES_PER_MISSION]
            slot = k % SURGERIES_PER_MISSION
            begins = datetime.combine(m["starts"] + timedelta(days=slot // 2), datetime.min.time(), UTC) \
                + timedelta(hours=7 + 4 * (slot % 2))
            yield {"id": uuid.UUID(int=(1 << 64) + k), "mission_id": m["id"], "case_id": uuid.UUID(int=k + 1),
                   "patient_ref": f"P-{k:016d}", "procedure": "Correction complète",
                   "operating_room_id": uuid.UUID(int=(2 << 64) + k % 7), "operating_room": "Bloc A",
                   "scheduled_start": begins, "scheduled_end": begins + timedelta(hours=3),
                   "expected_duration_minutes": 180, "lead_surgeon_id": m["team"][0], "anaesthetist_id": m["team"][1],
                   "status": "completed" if m["past"] else "scheduled", "status_reason": None, "on_hold": False,
                   "started_at": begins if m["past"] else None,
                   "completed_at": begins + timedelta(hours=3) if m["past"] else None,
                   "duration_minutes": 180 if m["past"] else None, "outcome": "successful" if m["past"] else None,
                   "version": 1, "updated_at": begins}

    await _write(engines["scheduling"], st.SurgeryRow.__table__, surgery_rows(), counts, "surgeries")
    # The convention service's progress facts: one per completed surgery, one per mission.
    await _write(engines["convention"], ct.SurgeryFact.__table__, (
        {"surgery_id": uuid.UUID(int=(1 << 64) + k), "convention_id": plan.missions[k // SURGERIES_PER_MISSION][
            "convention"]["id"], "mission_id": plan.missions[k // SURGERIES_PER_MISSION]["id"],
         "outcome": "successful", "previously_referred_abroad": k % 3 == 0,
         "completed_at": plan.now - timedelta(days=1 + (surgeries - k) % (365 * YEARS)),
         "specialty": None, "procedure": None}
        for k in range(surgeries) if plan.missions[k // SURGERIES_PER_MISSION]["past"]), counts, "progress facts")
    await _write(engines["convention"], ct.MissionFact.__table__, (
        {"mission_id": m["id"], "convention_id": m["convention"]["id"], "surgeries": SURGERIES_PER_MISSION,
         "consultations": 0, "training_sessions": 0} for m in plan.missions if m["past"]), counts, "mission facts")
    # Their progress counters, as the service keeps them (its rebuild, as the migration runs it).
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from convention.store.repositories import rebuild_counters

    async with engines["convention"].begin() as conn:
        await conn.run_sync(lambda c: rebuild_counters(Session(bind=c), ZoneInfo("Africa/Algiers")))
    say(f"      surgeries and progress facts: {time.perf_counter() - t0:.0f} s")

    # -- the notifications of the surgeries (one each, to the family)
    await _write(engines["notification"], nt.NotificationRow.__table__, (
        {"id": uuid.UUID(int=(3 << 64) + k), "cause_event_id": uuid.UUID(int=(4 << 64) + k),
         "cause_type": "SurgeryScheduled", "contact_id": uuid.UUID(int=(5 << 64) + k),
         "recipient_ref": f"P-{k:016d}", "channel": "email", "language": "fr", "template": "SurgeryScheduled/fr/email",
         "subject": "Intervention programmée", "body_text": "Votre enfant sera opéré le ...", "body_html": None,
         "payload": None, "status": "sent", "attempts": 1, "next_attempt_at": None, "lease_until": None,
         "claim": None, "last_error": None, "correlation_id": None,
         "created_at": start + timedelta(seconds=(k * 365 * YEARS * 86400) // surgeries),
         "sent_at": start + timedelta(seconds=(k * 365 * YEARS * 86400) // surgeries + 1)}
        for k in range(surgeries)), counts, "notifications")
    say(f"      notifications: {time.perf_counter() - t0:.0f} s")

    # -- events through the outboxes: each service a third, published over the years; as many inbox keys
    n_events = plan.n(EVENTS, least=3000)
    per_service = n_events // 3
    keep = {"outbox": timedelta(days=7), "inbox": timedelta(days=30)}
    for s, (service, engine) in enumerate(engines.items()):
        kept = {"outbox": 0, "inbox": 0}

        def outbox_rows() -> Iterator[dict[str, Any]]:
            for k in range(per_service):
                at = start + timedelta(seconds=(k * 365 * YEARS * 86400) // per_service)
                kept["outbox"] += at >= now - keep["outbox"]
                event_id = uuid.UUID(int=(6 << 64) + s * n_events + k)
                kind = EVENT_TYPES[k % len(EVENT_TYPES)]
                yield {"event_id": event_id, "event_type": kind, "routing_key": f"{service}.{kind}",
                       "correlation_id": str(uuid.uuid4()), "envelope": _envelope(event_id, kind, at, service),
                       "created_at": at, "published_at": at + timedelta(milliseconds=20), "attempts": 0,
                       "last_error": None}

        def inbox_rows() -> Iterator[dict[str, Any]]:
            for k in range(per_service):
                at = start + timedelta(seconds=(k * 365 * YEARS * 86400) // per_service)
                kept["inbox"] += at >= now - keep["inbox"]
                yield {"consumer": f"{service}.events", "event_id": uuid.UUID(int=(7 << 64) + s * n_events + k),
                       "handled_at": at}

        await _write(engine, OutboxRecord.__table__, outbox_rows(), counts, "outbox rows")
        await _write(engine, InboxRecord.__table__, inbox_rows(), counts, "inbox keys")
        plan.kept[service] = kept
        say(f"      {service}'s outbox and inbox: {time.perf_counter() - t0:.0f} s")
    for engine in engines.values():
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return plan


async def sizes(engine: AsyncEngine, path: str | None = None) -> dict[str, tuple[int, int]]:
    """Rows and bytes of the outbox and the inbox: PostgreSQL's ``pg_total_relation_size``
    (the table, its indexes and TOAST); SQLite's ``dbstat`` (pages in use by the table and
    its indexes), or, without it, the file's size shared out by rows."""
    out: dict[str, tuple[int, int]] = {}
    async with engine.connect() as conn:
        for table in ("outbox", "inbox"):
            rows = int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            if engine.dialect.name == "postgresql":
                size = int(await conn.scalar(text(f"SELECT pg_total_relation_size('{table}')")) or 0)
            else:
                try:
                    size = int(await conn.scalar(text(
                        "SELECT sum(pgsize) FROM dbstat WHERE name = :t OR name IN "
                        "(SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"), {"t": table}) or 0)
                except Exception:  # noqa: BLE001 (SQLite built without dbstat: the file's size)
                    import os

                    size = os.path.getsize(path) if path else -1
            out[table] = (rows, size)
    return out
