"""A patient's identity stays in the patient_case table: a whole programme, run
over the real broker with every log line captured at DEBUG, shows neither the
patient's name nor date of birth in any event, log line or other table; nor the
visiting team's screening notes in any event or log line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import structlog
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from scheduling.store.tables import PatientCaseRow, Table
from scheduling_testkit import CMCI, CONVENTION, PATIENT, SURGEON_2, Scheduling
from jumelage.events import ConventionTerminated, registry
from jumelage.logging import configure_logging
from jumelage.messaging.tables import InboxRecord, OutboxRecord

NOTE = "Échographie revue à distance : shunt de 6 mm à prévoir"  # a screening note: clinicians only

NEWCOMER = {"full_name": "Amel Bouzid", "date_of_birth": "2025-11-30", "sex": "female", "weight_kg": 7.1}
SECRETS = [PATIENT["full_name"], "Benali", PATIENT["date_of_birth"], "14/02/2026", "2026, 2, 14",
           NEWCOMER["full_name"], "Bouzid", NEWCOMER["date_of_birth"], "2025, 11, 30",
           "2026-02-15", "2026, 2, 15", "2026-02-16", "2026, 2, 16"]  # the corrections below


class Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Every log line of the process, rendered as production renders it (JSON), at DEBUG."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("scheduling", "json", "DEBUG")
    lines = Lines(root.handlers[0].formatter)
    root.addHandler(lines)
    try:
        yield lines
    finally:
        root.handlers[:], root.level = saved
        structlog.reset_defaults()


async def test_patient_identity_never_leaves_the_patient_case_table(programme: Scheduling, log_lines: Lines) -> None:
    s = programme
    room = await s.room()
    case = await s.case()
    mission = await s.mission()
    doomed = await s.mission(starts_on="2030-07-01", ends_on="2030-07-03", team=[SURGEON_2])
    surgery = await s.surgery(mission, case, room)
    await s.ok("POST", f"/cases/{case['id']}/screening-notes", 201, json={"text": NOTE})
    await s.ok("GET", f"/cases/{case['id']}/screening-notes")
    await s.ok("PUT", f"/cases/{case['id']}/readiness/other", json={"label": "Bilan dentaire"})
    consultation = await s.ok("POST", f"/missions/{mission['id']}/consultations", 201, json={
        "scheduled_at": "2030-06-11T10:00:00+01:00", "new_patient": s.case_body(patient=NEWCOMER)})
    newcomer = await s.ok("GET", f"/cases/{consultation['case_id']}")
    await s.surgery(doomed, newcomer, room, start="2030-07-02T09:00:00+01:00", surgeon=SURGEON_2)
    # Refusals that concern the patient name the case by its reference only.
    refusal = await s.surgery(mission, case, room, start="2030-06-12T09:00:00+01:00", status=409)
    assert case["patient_ref"] in refusal.json()["detail"]
    await s.refused("POST", f"/institutions/{CMCI}/cases", 422,
                    json=s.case_body(patient={**PATIENT, "weight_kg": -1}))
    # Corrections: an identity given in the request, logged by the fields' names only; a refused
    # one names the case by its reference and the fields, never their values.
    await s.ok("PATCH", f"/cases/{case['id']}", json={"patient": {"date_of_birth": "2026-02-15"}, "priority": 1})
    await s.refused("PATCH", f"/cases/{case['id']}", 409, case["patient_ref"], "risk_category",
                    json={"patient": {"date_of_birth": "2026-02-16"}, "risk_category": 5})
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/complete", json={"outcome": "successful", "duration_minutes": 230})
    await s.ok("POST", f"/consultations/{consultation['id']}/hold")
    await s.ok("POST", f"/missions/{mission['id']}/complete")
    await s.deliver(ConventionTerminated(convention_id=CONVENTION, on=date(2030, 6, 30), reason="Fin anticipée"))
    await s.wait("SurgeryCancelled")
    await s.settle()

    # The flow did produce what we look through.
    types = {e["type"] for e in s.tap.bodies()}
    assert {"SurgeryScheduled", "SurgeryCompleted", "ConsultationHeld", "MissionCompleted", "MissionCancelled",
            "SurgeryCancelled"} <= types
    assert any("event handled" in line for line in log_lines.lines)
    assert any(case["patient_ref"] in line for line in log_lines.lines), "cases are logged by reference"

    for message in s.tap.messages:
        registry.parse(message.body)
        body = message.body.decode()
        for secret in [*SECRETS, NOTE, "shunt"]:
            assert secret not in body, (secret, body)
    for line in log_lines.lines:
        for secret in [*SECRETS, NOTE, "shunt"]:
            assert secret not in line, (secret, line)

    # Sealed in patient_case (the stored text names nobody; the service opens it), and stored
    # nowhere else either: not in the outbox, nor in any other table of the service.
    async with s.client.runtime.sessions() as session:  # type: ignore[attr-defined]
        raw = (await session.execute(text("SELECT * FROM patient_case"))).all()
        assert raw and all(str(r.full_name).startswith("s1.") and str(r.date_of_birth).startswith("s1.") for r in raw)
        for secret in SECRETS:
            assert secret not in " ".join(str(tuple(r)) for r in raw), secret
        names = (await session.scalars(select(PatientCaseRow.full_name).order_by(PatientCaseRow.full_name))).all()
        assert sorted(names) == [NEWCOMER["full_name"], PATIENT["full_name"]]
        for table in [*Table.metadata.sorted_tables, OutboxRecord.__table__, InboxRecord.__table__]:
            if table.name == "patient_case":
                continue
            rows = " ".join(str(tuple(r)) for r in (await session.execute(select(table))).all())
            for secret in SECRETS:
                assert secret not in rows, (table.name, secret)

    # A failed statement's message (which an error log line would carry) hides its parameters.
    async with s.client.runtime.sessions() as session:  # type: ignore[attr-defined]
        row = await session.get(PatientCaseRow, uuid.UUID(case["id"]))
        assert row is not None
        values = {c.name: getattr(row, c.name) for c in PatientCaseRow.__table__.columns}
        session.expunge(row)
        session.add(PatientCaseRow(**values))  # the same id again
        with pytest.raises(IntegrityError) as exc:
            await session.commit()
    assert "parameters hidden" in str(exc.value)
    for secret in SECRETS:
        assert secret not in str(exc.value)
