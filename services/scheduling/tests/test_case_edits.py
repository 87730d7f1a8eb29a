"""Correcting a patient case (PATCH /cases/{id}) over HTTP, on SQLite and PostgreSQL: what
each status lets change (the rest a 409 naming the fields, never their values), If-Match,
bounds, who may; and the case's priority and risk on its surgery, for everyone who reads it."""

from __future__ import annotations

import uuid

from scheduling_testkit import CMCI, GSD, PATIENT, SURGEON, Scheduling


async def test_a_waiting_case_is_corrected_field_by_field(programme: Scheduling) -> None:
    s = programme
    case = await s.case()
    url = f"/cases/{case['id']}"
    edited = await s.client.patch(url, json={"patient": {"full_name": "  Amine   Benali ", "weight_kg": 12.4},
                                             "priority": 1, "risk_scheme": "STAT", "risk_category": 4,
                                             "planned_procedure": "Switch artériel", "diagnosis": None},
                                  headers={"If-Match": f'"{case["version"]}"'})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["patient"] == {**PATIENT, "full_name": "Amine Benali", "weight_kg": 12.4}
    assert (body["priority"], body["risk_scheme"], body["risk_category"], body["planned_procedure"]) == \
        (1, "STAT", 4, "Switch artériel")
    assert body["diagnosis"] == case["diagnosis"], "null is 'not given'"
    assert body["version"] == case["version"] + 1 and edited.headers["etag"] == f'"{body["version"]}"'
    assert await s.ok("GET", url) == body
    # A stale If-Match changes nothing.
    await s.refused("PATCH", url, 412, json={"priority": 3}, headers={"If-Match": f'"{case["version"]}"'})
    # Nothing changed: the same version. Non-cardiac: the category goes with the scheme.
    assert (await s.ok("PATCH", url, json={"priority": 1}))["version"] == body["version"]
    plain = await s.ok("PATCH", url, json={"risk_scheme": "none"})
    assert (plain["risk_scheme"], plain["risk_category"]) == ("none", None)
    # The same rules as a new case, each a 422 naming the field.
    for change, field in [({"priority": 0}, ["priority"]), ({"risk_scheme": "STAT"}, ["risk_category"]),
                          ({"risk_scheme": "RACHS-1", "risk_category": 7}, ["risk_category"]),
                          ({"patient": {"date_of_birth": "2031-01-01"}}, ["patient", "date_of_birth"]),
                          ({"patient": {"weight_kg": 0}}, ["patient", "weight_kg"]),
                          ({"patient": {"nickname": "x"}}, ["patient", "nickname"]),
                          ({"diagnosis": " "}, ["diagnosis"]), ({"status": "operated"}, ["status"])]:
        detail = await s.refused("PATCH", url, 422, json=change)
        assert ["body", *field] in [e["loc"] for e in detail], (change, detail)
    assert (await s.ok("GET", url))["version"] == plain["version"]
    await s.refused("PATCH", f"/cases/{uuid.uuid4()}", 404, "no patient case", json={"priority": 2})
    # Another institution's clinician, or the host's coordinator alone: refused.
    with s.client.auth.acting("clinician", institution=GSD):
        await s.refused("PATCH", url, 403, "of another institution", json={"priority": 2})
    with s.client.auth.acting("coordinator", institution=CMCI):
        await s.refused("PATCH", url, 403, "needs the role clinician", json={"priority": 2})


async def test_a_planned_or_operated_case_keeps_what_its_surgery_was_booked_or_done_with(
        programme: Scheduling) -> None:
    s = programme
    room, mission, case = await s.room(), await s.mission(), await s.case(risk_scheme="STAT", risk_category=2)
    surgery = await s.surgery(mission, case, room)
    assert (surgery["priority"], surgery["risk_scheme"], surgery["risk_category"]) == (2, "STAT", 2)
    url = f"/cases/{case['id']}"
    # Scheduled: the procedure, duration and risk were booked; naming fields, never values.
    detail = await s.refused("PATCH", url, 409, "is scheduled", "risk_category", "planned_procedure",
                             "cancel the surgery first",
                             json={"risk_category": 5, "planned_procedure": "Autre", "priority": 1})
    assert "Autre" not in detail
    assert (await s.ok("GET", url))["priority"] == 2, "nothing of a refused edit is kept"
    # Values sent unchanged are no change (a form sends every field).
    same = await s.ok("PATCH", url, json={"risk_scheme": "STAT", "risk_category": 2, "priority": 1,
                                          "planned_procedure": case["planned_procedure"]})
    assert same["priority"] == 1
    # The new priority is part of the surgery's representation: a new version, shown to every reader.
    moved_on = await s.ok("GET", f"/surgeries/{surgery['id']}")
    assert moved_on["priority"] == 1 and moved_on["version"] == surgery["version"] + 1
    with s.client.auth.acting("coordinator", institution=GSD):
        seen = await s.ok("GET", f"/missions/{mission['id']}/surgeries")
        assert [(x["priority"], x["risk_scheme"], x["risk_category"]) for x in seen] == [(1, "STAT", 2)]
        assert "patient" not in seen[0] and PATIENT["full_name"] not in str(seen)
    # Operated: only the patient's identity can be corrected.
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/start")
    done = await s.ok("POST", f"/surgeries/{surgery['id']}/complete", json={"outcome": "successful",
                                                                             "duration_minutes": 200})
    assert (done["priority"], done["risk_category"]) == (1, 2)
    await s.refused("PATCH", url, 409, "is operated", "priority, referred_abroad", "identity",
                    json={"priority": 3, "referred_abroad": False})
    fixed = await s.ok("PATCH", url, json={"patient": {"full_name": "Amine Benali", "sex": "male"}})
    assert fixed["patient"]["full_name"] == "Amine Benali" and fixed["status"] == "operated"
    # Closed cases likewise.
    closed = await s.case()
    await s.ok("POST", f"/cases/{closed['id']}/cancel", json={"reason": "Décision de la famille"})
    await s.refused("PATCH", f"/cases/{closed['id']}", 409, "is cancelled", "diagnosis", json={"diagnosis": "x"})
    assert (await s.ok("PATCH", f"/cases/{closed['id']}", json={"patient": {"weight_kg": 13}}))["patient"][
        "weight_kg"] == 13


async def test_a_plan_applied_shows_each_case_priority_and_risk_on_its_surgeries(programme: Scheduling) -> None:
    s = programme
    room, mission = await s.room(), await s.mission()
    urgent = await s.case(priority=1, risk_scheme="RACHS-1", risk_category=4)
    plain = await s.case(priority=4, risk_scheme="none", risk_category=None, expected_duration_minutes=60)
    applied = await s.ok("POST", f"/missions/{mission['id']}/plan/apply", json={"assignments": [
        {"case_id": urgent["id"], "operating_room_id": room["id"], "scheduled_start": "2030-06-12T08:00:00+01:00",
         "lead_surgeon_id": SURGEON["practitioner_id"]},
        {"case_id": plain["id"], "operating_room_id": room["id"], "scheduled_start": "2030-06-12T13:00:00+01:00",
         "lead_surgeon_id": SURGEON["practitioner_id"]}]})
    assert sorted((x["priority"], x["risk_scheme"], x["risk_category"]) for x in applied["scheduled"]) == \
        [(1, "RACHS-1", 4), (4, "none", None)]
