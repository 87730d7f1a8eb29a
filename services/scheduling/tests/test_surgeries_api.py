"""Surgeries over HTTP and the real broker, on SQLite and PostgreSQL: what a
slot may collide with (each refusal names it, also under concurrent requests),
the lifecycle with its events, and mission totals from what was held."""

from __future__ import annotations

import asyncio
import uuid

from scheduling_testkit import ANAESTHETIST, CMCI, CONVENTION, SURGEON, SURGEON_2, Scheduling


async def test_schedule_a_surgery_publishes_surgery_scheduled(programme: Scheduling) -> None:
    s = programme
    room, case = await s.room(), await s.case()
    mission = await s.mission()
    surgery = await s.surgery(mission, case, room, start="2030-06-11T08:30:00+01:00")
    assert (surgery["scheduled_start"], surgery["scheduled_end"]) == ("2030-06-11T07:30:00Z", "2030-06-11T11:30:00Z")
    assert surgery["procedure"] == "Correction complète de tétralogie de Fallot"
    assert surgery["patient_ref"] == case["patient_ref"] and surgery["status"] == "scheduled"
    assert (await s.ok("GET", f"/cases/{case['id']}"))["status"] == "scheduled"
    assert await s.ok("GET", f"/surgeries/{surgery['id']}") == surgery
    assert [x["id"] for x in await s.ok("GET", f"/missions/{mission['id']}/surgeries")] == [surgery["id"]]
    assert await s.wait("SurgeryScheduled") == [{
        "surgery_id": surgery["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "patient_ref": case["patient_ref"], "procedure": "Correction complète de tétralogie de Fallot",
        "operating_room": "Bloc B - salle 2", "scheduled_start": "2030-06-11T07:30:00Z",
        "expected_duration_minutes": 240, "lead_surgeon_id": SURGEON["practitioner_id"],
        "site_institution_id": str(CMCI),
    }]
    other = await s.surgery(mission, await s.case(), room, start="2030-06-12T08:00:00Z",
                            expected_duration_minutes=90, procedure="Fermeture de CIV")
    assert (other["expected_duration_minutes"], other["procedure"]) == (90, "Fermeture de CIV")

    # Bad requests.
    case = await s.case()
    url = f"/missions/{mission['id']}/surgeries"
    body = {"case_id": case["id"], "operating_room_id": room["id"], "scheduled_start": "2030-06-11T08:00:00+01:00",
            "lead_surgeon_id": SURGEON["practitioner_id"]}
    for over, field in [({"scheduled_start": "2030-06-11T08:00:00"}, "scheduled_start"),
                        ({"expected_duration_minutes": 0}, "expected_duration_minutes"),
                        ({"case_id": "P-123"}, "case_id")]:
        detail = await s.refused("POST", url, 422, json={**body, **over})
        assert ["body", field] in [e["loc"] for e in detail], detail
    await s.refused("POST", url, 404, "no patient case", json={**body, "case_id": str(uuid.uuid4())})
    await s.refused("POST", url, 404, "no operating room", json={**body, "operating_room_id": str(uuid.uuid4())})
    await s.refused("POST", f"/missions/{uuid.uuid4()}/surgeries", 404, "no mission", json=body)
    elsewhere = await s.room("Sala 1", host=mission["visiting_institution_id"])
    await s.refused("POST", url, 422, "not at the site of", json={**body, "operating_room_id": elsewhere["id"]})
    other_case = await s.case(host=mission["visiting_institution_id"])
    await s.refused("POST", url, 422, "waiting list of institution", json={**body, "case_id": other_case["id"]})
    await s.ok("POST", f"/missions/{mission['id']}/cancel", json={"reason": "Visas"})
    await s.refused("POST", url, 409, "is cancelled: surgeries can be planned only while it is scheduled or started",
                    json=body)


async def test_every_collision_is_a_409_naming_what_collides(programme: Scheduling) -> None:
    s = programme
    room, other_room = await s.room(), await s.room("Bloc A - salle 1")
    mission = await s.mission(team=[SURGEON, SURGEON_2, ANAESTHETIST])
    first = await s.surgery(mission, await s.case(), room, start="2030-06-11T08:00:00+01:00")  # 08:00-12:00 local
    case = await s.case()
    cases = [
        # (start, surgeon, room, needles)
        ("2030-06-09T09:00:00+01:00", SURGEON_2, room, ["2030-06-09", "outside mission", mission["id"]]),
        ("2030-06-15T09:00:00+01:00", SURGEON_2, room, ["2030-06-15", "outside mission"]),
        ("2030-06-12T07:00:00+01:00", SURGEON_2, room, ["'Bloc B - salle 2' is open 08:00-18:00 (Africa/Algiers)",
                                                        "2030-06-12 07:00"]),
        ("2030-06-12T15:00:00+01:00", SURGEON_2, room, ["open 08:00-18:00", "to 2030-06-12 19:00"]),
        ("2030-06-12T05:00:00Z", SURGEON_2, room, ["2030-06-12 06:00 to 2030-06-12 10:00 local time"]),
        ("2030-06-11T11:00:00+01:00", SURGEON_2, room, ["'Bloc B - salle 2' is already taken", first["id"],
                                                        "2030-06-11 08:00 to 2030-06-11 12:00"]),
        ("2030-06-11T09:00:00+01:00", SURGEON, other_room, ["surgeon Marco Bellini", SURGEON["practitioner_id"],
                                                            "already operating", first["id"]]),
        ("2030-06-12T09:00:00+01:00", ANAESTHETIST, room, ["Giulia Ferraro", "as anaesthetist, not as surgeon"]),
        ("2030-06-12T09:00:00+01:00", {"practitioner_id": str(uuid.uuid4())}, room, ["not on the team"]),
    ]
    for start, surgeon, where, needles in cases:
        response = await s.surgery(mission, case, where, start=start, surgeon=surgeon, status=409)
        assert response.status_code == 409, (start, response.text)
        for needle in needles:
            assert needle in response.json()["detail"], (needle, response.json()["detail"])
    # In the same room, after the room's turnover (the specialty's 45 min here), or the other surgeon
    # in the other room at the same time: fine.
    for start in ("2030-06-11T12:00:00+01:00", "2030-06-11T12:44:00+01:00"):
        response = await s.surgery(mission, case, room, start=start, surgeon=SURGEON_2, status=409)
        assert "needs 45 min between two surgeries (its turnover)" in response.json()["detail"], response.text
    await s.surgery(mission, case, room, start="2030-06-11T12:45:00+01:00", surgeon=SURGEON_2)
    await s.surgery(mission, await s.case(), other_room, start="2030-06-11T08:00:00+01:00", surgeon=SURGEON_2,
                    expected_duration_minutes=60)
    assert (await s.ok("GET", f"/cases/{case['id']}"))["status"] == "scheduled"

    taken = await s.surgery(mission, case, room, start="2030-06-13T09:00:00+01:00", status=409)
    assert "only a waiting case" in taken.json()["detail"] and case["patient_ref"] in taken.json()["detail"]


async def test_concurrent_bookings_of_one_room_cannot_both_pass(programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    # Two missions at the same host at once, so the requests do not queue on one mission's
    # row: only the host's lock (PostgreSQL) or the write lock (SQLite) keeps them apart.
    missions = [await s.mission(team=[SURGEON]), await s.mission(team=[SURGEON_2])]
    cases = [await s.case() for _ in range(4)]
    responses = await asyncio.gather(*(
        s.surgery(missions[i % 2], c, room, start="2030-06-12T09:00:00+01:00", surgeon=(SURGEON, SURGEON_2)[i % 2],
                  status=0)
        for i, c in enumerate(cases)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.text for r in responses]
    assert all("'Bloc B - salle 2' is already taken" in r.json()["detail"] for r in responses if r.status_code == 409)
    await s.settle()
    assert len(s.events("SurgeryScheduled")) == 1
    waiting = await s.ok("GET", f"/institutions/{CMCI}/cases", params={"status": "waiting"})
    assert len(waiting) == 3, "the refused cases are still waiting"


async def test_reschedule_cancel_start_complete_and_mission_totals(programme: Scheduling) -> None:
    s = programme
    room, other_room = await s.room(), await s.room("Bloc A - salle 1")
    mission = await s.mission(team=[SURGEON, SURGEON_2, ANAESTHETIST])
    abroad = await s.case()  # had been referred abroad
    local = await s.case(referred_abroad=False, priority=3)
    dropped = await s.case(priority=4)
    leftover = await s.case(priority=5)
    first = await s.surgery(mission, abroad, room, start="2030-06-11T08:00:00+01:00")
    second = await s.surgery(mission, local, room, start="2030-06-11T13:00:00+01:00", surgeon=SURGEON_2)
    third = await s.surgery(mission, dropped, other_room, start="2030-06-12T08:00:00+01:00")
    fourth = await s.surgery(mission, leftover, other_room, start="2030-06-13T08:00:00+01:00")

    # Reschedule: the same checks, without colliding with itself.
    await s.refused("POST", f"/surgeries/{second['id']}/reschedule", 409, "already taken", first["id"],
                    json={"scheduled_start": "2030-06-11T10:00:00+01:00", "reason": "Plus tôt"})
    moved = await s.ok("POST", f"/surgeries/{second['id']}/reschedule",
                       json={"scheduled_start": "2030-06-11T12:00:00+01:00", "operating_room_id": other_room["id"],
                             "reason": "Bloc B indisponible l'après-midi"})
    assert (moved["operating_room"], moved["scheduled_start"]) == ("Bloc A - salle 1", "2030-06-11T11:00:00Z")
    assert await s.wait("SurgeryRescheduled") == [{"surgery_id": second["id"], "operating_room": "Bloc A - salle 1",
                                                   "scheduled_start": "2030-06-11T11:00:00Z",
                                                   "reason": "Bloc B indisponible l'après-midi",
                                                   "site_institution_id": str(CMCI)}]

    # Cancel: the case goes back to the waiting list.
    await s.ok("POST", f"/surgeries/{third['id']}/cancel", json={"reason": "Syndrome grippal"})
    assert await s.wait("SurgeryCancelled") == [{"surgery_id": third["id"], "mission_id": mission["id"],
                                                 "reason": "Syndrome grippal", "cause": None}]
    assert (await s.ok("GET", f"/cases/{dropped['id']}"))["status"] == "waiting"
    await s.refused("POST", f"/surgeries/{third['id']}/cancel", 409, "it is cancelled", json={"reason": "x"})

    # Start and complete only during the mission.
    await s.refused("POST", f"/surgeries/{first['id']}/start", 409, "is scheduled", "once started")
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.refused("POST", f"/surgeries/{first['id']}/complete", 409, "it is scheduled",
                    json={"outcome": "successful", "duration_minutes": 250})
    started = await s.ok("POST", f"/surgeries/{first['id']}/start",
                         json={"started_at": "2030-06-11T08:05:00+01:00"})
    assert (started["status"], started["started_at"]) == ("started", "2030-06-11T07:05:00Z")
    await s.refused("POST", f"/surgeries/{first['id']}/cancel", 409, "it is started", json={"reason": "x"})
    await s.refused("POST", f"/missions/{mission['id']}/complete", 409, f"surgery {first['id']} in progress")
    await s.refused("POST", f"/surgeries/{first['id']}/complete", 422,
                    json={"outcome": "cured", "duration_minutes": 250})
    await s.refused("POST", f"/surgeries/{first['id']}/complete", 422, "in the future",
                    json={"outcome": "successful", "duration_minutes": 250, "completed_at": "2030-06-12T08:00:00Z"})
    done = await s.ok("POST", f"/surgeries/{first['id']}/complete",
                      json={"outcome": "successful", "duration_minutes": 255})
    assert (done["status"], done["completed_at"], done["outcome"]) == ("completed", "2030-06-11T09:00:00Z",
                                                                      "successful")
    await s.ok("POST", f"/surgeries/{second['id']}/start")
    await s.ok("POST", f"/surgeries/{second['id']}/complete",
               json={"outcome": "with_complications", "duration_minutes": 200, "completed_at": "2030-06-11T09:03:00Z"})
    completed = {e["surgery_id"]: e for e in await s.wait("SurgeryCompleted", 2)}
    assert completed[first["id"]] == {
        "surgery_id": first["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "patient_ref": abroad["patient_ref"], "procedure": "Correction complète de tétralogie de Fallot",
        "completed_at": "2030-06-11T09:00:00Z", "duration_minutes": 255, "outcome": "successful",
        "previously_referred_abroad": True, "specialty": mission["specialty"], "site_institution_id": str(CMCI),
        "lead_side": "visiting", "local_roles": [], "risk_scheme": "RACHS-1", "risk_category": 3,
    }
    assert completed[second["id"]]["previously_referred_abroad"] is False
    assert completed[second["id"]]["outcome"] == "with_complications"
    assert (await s.ok("GET", f"/cases/{abroad['id']}"))["status"] == "operated"

    # Completing the mission: what is still only scheduled did not happen.
    finished = await s.ok("POST", f"/missions/{mission['id']}/complete")
    assert finished["totals"] == {"surgeries": 2, "consultations": 0, "training_sessions": 0}
    (event,) = await s.wait("MissionCompleted")
    assert event["totals"] == {"surgeries": 2, "consultations": 0, "training_sessions": 0}
    await s.wait("SurgeryCancelled", 2)
    assert (await s.ok("GET", f"/surgeries/{fourth['id']}"))["status"] == "cancelled"
    assert (await s.ok("GET", f"/cases/{leftover['id']}"))["status"] == "waiting"
    await s.refused("POST", f"/surgeries/{uuid.uuid4()}/start", 404, "no surgery")


async def test_surgeries_scheduled_by_hand_need_a_free_intensive_care_bed(programme: Scheduling) -> None:
    """RACHS-1 category 3 (the kit's case): three days in intensive care from the day of surgery."""
    s = programme
    await s.ok("PUT", f"/institutions/{CMCI}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 1})
    room = await s.room()
    mission = await s.mission(team=[SURGEON, SURGEON_2, ANAESTHETIST])
    first = await s.surgery(mission, await s.case(), room, start="2030-06-10T08:00:00+01:00")  # bed 10-12 June

    r = await s.surgery(mission, await s.case(), room, start="2030-06-12T08:00:00+01:00", status=409)
    assert r.status_code == 409
    assert "no intensive-care bed free on 2030-06-12" in r.json()["detail"]
    assert f"surgery {first['id']}" in r.json()["detail"], "names what holds the bed"

    ward = await s.surgery(mission, await s.case(risk_scheme="none", risk_category=None), room,
                           start="2030-06-11T08:00:00+01:00")  # no intensive care: the bed does not matter
    later = await s.surgery(mission, await s.case(), room, start="2030-06-13T08:00:00+01:00")
    assert ward["status"] == later["status"] == "scheduled"

    # Moving the first onto the other's stay is refused; cancelling it frees its bed.
    await s.refused("POST", f"/surgeries/{first['id']}/reschedule", 409, "no intensive-care bed free on 2030-06-13",
                    json={"scheduled_start": "2030-06-12T13:00:00+01:00", "reason": "Bloc occupé"})
    await s.ok("POST", f"/surgeries/{first['id']}/cancel", json={"reason": "Fièvre"})
    again = await s.surgery(mission, await s.case(), room, start="2030-06-10T08:00:00+01:00", surgeon=SURGEON_2)
    assert again["status"] == "scheduled"

    # With the beds not given (0), nothing is checked, as for the optimiser.
    await s.ok("PUT", f"/institutions/{CMCI}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 0})
    assert (await s.surgery(mission, await s.case(), room, start="2030-06-11T13:00:00+01:00"))["status"] == "scheduled"


async def test_a_surgery_s_anaesthetist_is_on_the_team_as_such_and_in_one_theatre_at_a_time(
    programme: Scheduling,
) -> None:
    s = programme
    room, other_room = await s.room(), await s.room("Bloc A - salle 1")
    mission = await s.mission(team=[SURGEON, SURGEON_2, ANAESTHETIST])
    anaesthetist = ANAESTHETIST["practitioner_id"]
    first = await s.surgery(mission, await s.case(risk_scheme="none", risk_category=None), room,
                            start="2030-06-11T08:00:00+01:00", anaesthetist_id=anaesthetist)  # 08:00-12:00
    assert first["anaesthetist_id"] == anaesthetist
    assert (await s.ok("GET", f"/surgeries/{first['id']}"))["anaesthetist_id"] == anaesthetist

    r = await s.surgery(mission, await s.case(risk_scheme="none", risk_category=None), other_room,
                        start="2030-06-11T10:00:00+01:00", surgeon=SURGEON_2, anaesthetist_id=anaesthetist, status=409)
    assert r.status_code == 409
    assert f"anaesthetist Giulia Ferraro ({anaesthetist}) is already in surgery {first['id']}" in r.json()["detail"]
    r = await s.surgery(mission, await s.case(risk_scheme="none", risk_category=None), other_room,
                        start="2030-06-11T10:00:00+01:00", surgeon=SURGEON_2,
                        anaesthetist_id=SURGEON["practitioner_id"], status=409)
    assert "as surgeon, not as anaesthetist" in r.json()["detail"]
    unassigned = await s.surgery(mission, await s.case(risk_scheme="none", risk_category=None), other_room,
                                 start="2030-06-11T10:00:00+01:00", surgeon=SURGEON_2)
    assert unassigned["anaesthetist_id"] is None

    # A move keeps the anaesthetist; while booked, they cannot leave the team.
    moved = await s.ok("POST", f"/surgeries/{first['id']}/reschedule",
                       json={"scheduled_start": "2030-06-11T13:00:00+01:00", "reason": "Bloc occupé"})
    assert moved["anaesthetist_id"] == anaesthetist
    with s.client.auth.acting("coordinator", institution=mission["host_institution_id"]):
        r = await s.client.delete(f"/missions/{mission['id']}/team/{anaesthetist}")
    assert r.status_code == 409 and f"surgeries {first['id']}" in r.json()["detail"]
