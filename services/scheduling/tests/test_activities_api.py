"""Consultations and training sessions over HTTP and the real broker, on SQLite
and PostgreSQL: planned on the mission's days, held once it started, counted in
its totals; a consultation for a waiting case or for a new patient."""

from __future__ import annotations

import uuid

from scheduling_testkit import CMCI, CONVENTION, PATIENT, SPECIALTY, Scheduling


async def test_consultations_for_a_waiting_case_and_a_new_patient(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    case = await s.case()
    url = f"/missions/{mission['id']}/consultations"
    planned = await s.ok("POST", url, 201, json={"case_id": case["id"], "scheduled_at": "2030-06-10T09:00:00+01:00"})
    assert (planned["patient_ref"], planned["specialty"], planned["status"]) == (case["patient_ref"], SPECIALTY,
                                                                                 "scheduled")
    newcomer = {"full_name": "Amel Bouzid", "date_of_birth": "2025-11-30", "sex": "female", "weight_kg": 7.1}
    new_patient = s.case_body(
        patient=newcomer, diagnosis="Souffle cardiaque à explorer", planned_procedure="Cathétérisme diagnostique",
        priority=3, risk_scheme="none", risk_category=None, referred_abroad=False, expected_duration_minutes=60)
    walk_in = await s.ok("POST", url, 201, json={"scheduled_at": "2030-06-11T10:30:00+01:00",
                                                 "new_patient": new_patient})
    registered = await s.ok("GET", f"/cases/{walk_in['case_id']}")
    assert registered["patient"] == newcomer and registered["host_institution_id"] == str(CMCI)
    assert registered["patient_ref"] == walk_in["patient_ref"] != case["patient_ref"]
    assert registered["status"] == "waiting", "now on the host's waiting list"

    for body, status, field in [
        ({"scheduled_at": "2030-06-10T09:00:00+01:00"}, 422, "case_id"),
        ({"case_id": case["id"], "new_patient": s.case_body(), "scheduled_at": "2030-06-10T09:00:00Z"}, 422, "case_id"),
        ({"case_id": case["id"], "scheduled_at": "2030-06-10T09:00:00"}, 422, "scheduled_at"),
        ({"new_patient": s.case_body(priority=7), "scheduled_at": "2030-06-10T09:00:00Z"}, 422, "new_patient"),
        ({"new_patient": s.case_body(patient={**PATIENT, "date_of_birth": "2031-01-01"}),
          "scheduled_at": "2030-06-10T09:00:00Z"}, 422, "new_patient"),
    ]:
        detail = await s.refused("POST", url, status, json=body)
        assert field in [str(e["loc"][1]) for e in detail], (body, detail)
    await s.refused("POST", url, 409, "outside mission", json={"case_id": case["id"],
                                                               "scheduled_at": "2030-06-15T09:00:00+01:00"})
    await s.refused("POST", url, 404, "no patient case", json={"case_id": str(uuid.uuid4()),
                                                               "scheduled_at": "2030-06-10T09:00:00Z"})

    await s.refused("POST", f"/consultations/{planned['id']}/hold", 409, "once started")
    await s.ok("POST", f"/missions/{mission['id']}/start")
    held = await s.ok("POST", f"/consultations/{planned['id']}/hold")
    assert (held["status"], held["held_at"]) == ("held", "2030-06-11T09:00:00Z")
    await s.refused("POST", f"/consultations/{planned['id']}/hold", 409, "is held")
    await s.refused("POST", f"/consultations/{walk_in['id']}/hold", 422, "in the future",
                    json={"held_at": "2030-06-12T09:00:00Z"})
    await s.ok("POST", f"/consultations/{walk_in['id']}/hold", json={"held_at": "2030-06-11T08:40:00+01:00"})
    events = {e["consultation_id"]: e for e in await s.wait("ConsultationHeld", 2)}
    assert events[planned["id"]] == {
        "consultation_id": planned["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "patient_ref": case["patient_ref"], "specialty": SPECIALTY, "held_at": "2030-06-11T09:00:00Z",
        "site_institution_id": str(CMCI),
    }
    assert events[walk_in["id"]]["held_at"] == "2030-06-11T07:40:00Z"
    assert [c["status"] for c in await s.ok("GET", f"/missions/{mission['id']}/consultations")] == ["held", "held"]
    totals = (await s.ok("POST", f"/missions/{mission['id']}/complete"))["totals"]
    assert totals == {"surgeries": 0, "consultations": 2, "training_sessions": 0}


async def test_training_sessions_are_planned_held_and_counted(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    url = f"/missions/{mission['id']}/training-sessions"
    ecmo = await s.ok("POST", url, 201, json={"topic": "Circulation extracorporelle chez le nourrisson",
                                              "scheduled_at": "2030-06-10T14:00:00+01:00", "hours": 3.5})
    unheld = await s.ok("POST", url, 201, json={"topic": "Soins post-opératoires", "hours": 2,
                                                "scheduled_at": "2030-06-13T14:00:00+01:00"})
    for body, field in [({"topic": "", "scheduled_at": "2030-06-10T14:00:00Z", "hours": 2}, "topic"),
                        ({"topic": "x", "scheduled_at": "2030-06-10T14:00:00Z", "hours": 0}, "hours"),
                        ({"topic": "x", "scheduled_at": "2030-06-10T14:00:00", "hours": 2}, "scheduled_at")]:
        detail = await s.refused("POST", url, 422, json=body)
        assert ["body", field] in [e["loc"] for e in detail]
    await s.refused("POST", url, 409, "outside mission", json={"topic": "x", "hours": 1,
                                                               "scheduled_at": "2030-06-20T10:00:00Z"})

    hold = f"/training-sessions/{ecmo['id']}/hold"
    await s.refused("POST", hold, 409, "once started", json={"trainee_count": 12})
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.refused("POST", hold, 422, json={"trainee_count": -1})
    held = await s.ok("POST", hold, json={"trainee_count": 12, "hours": 4, "held_at": "2030-06-10T14:00:00+01:00"})
    assert (held["status"], held["trainee_count"], held["hours"]) == ("held", 12, 4)
    assert await s.wait("TrainingSessionHeld") == [{
        "training_session_id": ecmo["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "topic": "Circulation extracorporelle chez le nourrisson", "held_at": "2030-06-10T13:00:00Z",
        "hours": 4.0, "trainee_count": 12, "site_institution_id": str(CMCI),
    }]
    await s.refused("POST", hold, 409, "is held", json={"trainee_count": 3})
    finished = await s.ok("POST", f"/missions/{mission['id']}/complete")
    assert finished["totals"] == {"surgeries": 0, "consultations": 0, "training_sessions": 1}
    assert (await s.ok("GET", f"/training-sessions/{unheld['id']}"))["status"] == "cancelled"
    await s.refused("POST", f"/training-sessions/{unheld['id']}/hold", 409, "is cancelled", json={"trainee_count": 1})
    await s.refused("GET", f"/training-sessions/{uuid.uuid4()}", 404)
    await s.refused("POST", f"/missions/{uuid.uuid4()}/training-sessions", 404, "no mission",
                    json={"topic": "x", "scheduled_at": "2030-06-10T14:00:00Z", "hours": 1})
