"""Host resources and the waiting list over HTTP, on SQLite and PostgreSQL:
time zone and intensive-care beds, operating rooms and their hours, patient
cases with their rules, filters and closing."""

from __future__ import annotations

import re
import uuid

from scheduling_testkit import CMCI, GSD, PATIENT, TIARET, Scheduling


async def test_host_resources_and_operating_rooms(programme: Scheduling) -> None:
    s = programme
    base = f"/institutions/{CMCI}"
    assert await s.ok("GET", f"{base}/resources") == {"institution_id": str(CMCI), "timezone": "Africa/Algiers",
                                                      "icu_beds": 0, "operating_rooms": []}
    resources = await s.ok("PUT", f"{base}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 6})
    assert resources["icu_beds"] == 6

    b2 = await s.room("Bloc B - salle 2", "08:00", "18:00")
    a1 = await s.room("Bloc A - salle 1", "07:30", "16:00")
    assert (b2["opens_at"], b2["closes_at"]) == ("08:00:00", "18:00:00")
    await s.refused("POST", f"{base}/operating-rooms", 409, "already has an operating room named 'Bloc B - salle 2'",
                    json={"name": "bloc b - SALLE 2", "opens_at": "09:00", "closes_at": "12:00"})
    await s.room("Bloc B - salle 2", host=GSD)  # the same name at another institution
    listed = await s.ok("GET", f"{base}/operating-rooms")
    assert [r["name"] for r in listed] == ["Bloc A - salle 1", "Bloc B - salle 2"]
    assert [r["name"] for r in (await s.ok("GET", f"{base}/resources"))["operating_rooms"]] == \
        ["Bloc A - salle 1", "Bloc B - salle 2"]

    changed = await s.ok("PATCH", f"{base}/operating-rooms/{a1['id']}", json={"closes_at": "17:00"})
    assert (changed["name"], changed["closes_at"]) == ("Bloc A - salle 1", "17:00:00")
    await s.refused("PATCH", f"{base}/operating-rooms/{a1['id']}", 409, json={"name": "BLOC B - salle 2"})
    await s.ok("DELETE", f"{base}/operating-rooms/{a1['id']}", 204)
    await s.refused("DELETE", f"{base}/operating-rooms/{a1['id']}", 404, "no operating room")
    with s.client.auth.acting("coordinator", institution=GSD):  # CMCI's room is not found under GSD
        await s.refused("PATCH", f"/institutions/{GSD}/operating-rooms/{b2['id']}", 404, json={"name": "x"})

    for path, body, field in [
        ("operating-rooms", {"name": "Bloc C", "opens_at": "18:00", "closes_at": "08:00"}, "closes_at"),
        ("operating-rooms", {"name": "Bloc C", "opens_at": "25:00", "closes_at": "18:00"}, "opens_at"),
        ("operating-rooms", {"name": "Bloc C", "opens_at": "08:00Z", "closes_at": "18:00"}, "opens_at"),
        ("operating-rooms", {"name": "", "opens_at": "08:00", "closes_at": "18:00"}, "name"),
        ("operating-rooms", {"opens_at": "08:00", "closes_at": "18:00"}, "name"),
    ]:
        detail = await s.refused("POST", f"{base}/{path}", 422, json=body)
        assert ["body", field] in [e["loc"] for e in detail], (body, detail)
    for body, field in [({"timezone": "Mars/Olympus", "icu_beds": 2}, "timezone"),
                        ({"timezone": "Africa/Algiers", "icu_beds": -1}, "icu_beds")]:
        detail = await s.refused("PUT", f"{base}/resources", 422, json=body)
        assert ["body", field] in [e["loc"] for e in detail]

    unknown = uuid.uuid4()
    s.client.auth.set("coordinator", institution=unknown)  # its token names an institution not known here
    await s.refused("GET", f"/institutions/{unknown}/resources", 404, f"no institution {unknown} known here")
    await s.refused("POST", f"/institutions/{unknown}/operating-rooms", 404,
                    json={"name": "Bloc", "opens_at": "08:00", "closes_at": "18:00"})
    await s.refused("PUT", f"/institutions/{unknown}/resources", 404, json={"icu_beds": 1})


async def test_room_hours_and_time_zone_cannot_strand_a_booked_surgery(programme: Scheduling) -> None:
    s = programme
    base = f"/institutions/{CMCI}"
    room = await s.room()
    mission = await s.mission()
    surgery = await s.surgery(mission, await s.case(), room, start="2030-06-11T14:00:00+01:00")  # until 18:00
    await s.refused("PATCH", f"{base}/operating-rooms/{room['id']}", 409, surgery["id"], "outside 08:00-17:00",
                    json={"closes_at": "17:00"})
    await s.refused("PUT", f"{base}/resources", 409, surgery["id"], "Asia/Tokyo",
                    json={"timezone": "Asia/Tokyo", "icu_beds": 4})
    await s.refused("DELETE", f"{base}/operating-rooms/{room['id']}", 409, surgery["id"])
    # Europe/Paris is UTC+2 in June: 13:00-17:00 UTC is 15:00-19:00 there, also outside.
    await s.refused("PUT", f"{base}/resources", 409, json={"timezone": "Europe/Paris", "icu_beds": 4})
    await s.ok("PUT", f"{base}/resources", json={"timezone": "Africa/Lagos", "icu_beds": 4})  # UTC+1 as well
    await s.ok("POST", f"/surgeries/{surgery['id']}/cancel", json={"reason": "Fièvre"})
    await s.ok("PATCH", f"{base}/operating-rooms/{room['id']}", json={"closes_at": "17:00"})
    await s.ok("DELETE", f"{base}/operating-rooms/{room['id']}", 204)
    assert (await s.ok("GET", f"/surgeries/{surgery['id']}"))["operating_room"] == "Bloc B - salle 2"


async def test_register_patient_cases_and_read_the_waiting_list(programme: Scheduling) -> None:
    s = programme
    fallot = await s.case()
    assert re.fullmatch(r"P-[A-Z2-7]{16}", fallot["patient_ref"])
    assert fallot["patient"] == PATIENT and fallot["status"] == "waiting"
    assert fallot["registered_at"] == "2030-06-11T09:00:00Z", "the service's clock"
    assert await s.ok("GET", f"/cases/{fallot['id']}") == fallot

    urgent = await s.case(patient={**PATIENT, "full_name": "Lina Haddad", "sex": "female"}, priority=1,
                          risk_scheme="STAT", risk_category=4, referred_abroad=False)
    hernia = await s.case(patient={**PATIENT, "full_name": "Karim Saadi", "date_of_birth": "2019-05-02",
                                   "weight_kg": 21}, diagnosis="Hernie inguinale", planned_procedure="Cure de hernie",
                          priority=4, risk_scheme="none", risk_category=None, expected_duration_minutes=60)
    assert {fallot["patient_ref"], urgent["patient_ref"], hernia["patient_ref"]}.__len__() == 3

    waiting = await s.ok("GET", f"/institutions/{CMCI}/cases", params={"status": "waiting"})
    assert [c["id"] for c in waiting] == [urgent["id"], fallot["id"], hernia["id"]], "most urgent first"
    assert [c["id"] for c in await s.ok("GET", f"/institutions/{CMCI}/cases", params={"priority": 4})] == [hernia["id"]]
    await s.ok("POST", f"/cases/{hernia['id']}/refer-elsewhere", json={"reason": "Opéré au CHU Mustapha"})
    await s.ok("POST", f"/cases/{urgent['id']}/cancel", json={"reason": "Décision de la famille"})
    assert [c["id"] for c in await s.ok("GET", f"/institutions/{CMCI}/cases", params={"status": "waiting"})] == \
        [fallot["id"]]
    referred = await s.ok("GET", f"/institutions/{CMCI}/cases", params={"status": "referred_elsewhere"})
    assert [(c["id"], c["status_reason"]) for c in referred] == [(hernia["id"], "Opéré au CHU Mustapha")]
    assert len(await s.ok("GET", f"/institutions/{CMCI}/cases")) == 3
    await s.refused("POST", f"/cases/{urgent['id']}/refer-elsewhere", 409, "it is cancelled",
                    json={"reason": "x"})
    # Another institution's patients are not this clinician's to see: refused, not an empty list.
    await s.refused("GET", f"/institutions/{GSD}/cases", 403, f"patient cases of institution {GSD}")
    await s.refused("GET", f"/institutions/{CMCI}/cases", 422, params={"priority": 9})
    await s.refused("GET", f"/institutions/{CMCI}/cases", 422, params={"status": "operating"})


    # Bad input is a 422 naming the field; nothing is registered.
    url = f"/institutions/{TIARET}/cases"
    s.client.auth.set("clinician", institution=TIARET)
    for over, field in [
        ({"priority": 0}, ["priority"]),
        ({"priority": 6}, ["priority"]),
        ({"risk_scheme": "STAT", "risk_category": 6}, ["risk_category"]),
        ({"risk_scheme": "EuroSCORE"}, ["risk_scheme"]),
        ({"risk_scheme": "none", "risk_category": 2}, ["risk_category"]),
        ({"patient": {**PATIENT, "weight_kg": 0}}, ["patient", "weight_kg"]),
        ({"patient": {**PATIENT, "date_of_birth": "2031-01-01"}}, ["patient", "date_of_birth"]),
        ({"patient": {**PATIENT, "sex": "x"}}, ["patient", "sex"]),
        ({"patient": {k: v for k, v in PATIENT.items() if k != "full_name"}}, ["patient", "full_name"]),
        ({"expected_duration_minutes": 0}, ["expected_duration_minutes"]),
        ({"diagnosis": " "}, ["diagnosis"]),
        ({"phone": "+213 555 00 00 00"}, ["phone"]),
    ]:
        detail = await s.refused("POST", url, 422, json=s.case_body(**over))
        assert ["body", *field] in [e["loc"] for e in detail], (over, detail)
    assert await s.ok("GET", url) == []
    unknown = uuid.uuid4()
    with s.client.auth.acting("clinician", institution=unknown):
        await s.refused("POST", f"/institutions/{unknown}/cases", 404, "no institution", json=s.case_body())
        # The waiting list looks the institution up only when its page is empty: still a 404, with
        # or without a cursor (even a refused one), never an empty list.
        await s.refused("GET", f"/institutions/{unknown}/cases", 404, f"no institution {unknown} known here")
        await s.refused("GET", f"/institutions/{unknown}/cases?cursor=AAAA", 404, "no institution")
    await s.refused("GET", f"/cases/{unknown}", 404, f"no patient case {unknown}")
    await s.refused("POST", f"/cases/{unknown}/cancel", 404, json={"reason": "x"})


async def test_the_waiting_list_pages_by_keyset_with_a_next_link(programme: Scheduling) -> None:
    s = programme
    url = f"/institutions/{CMCI}/cases"
    made = [await s.case(priority=1 + i % 3) for i in range(7)]  # one instant (the test clock): the id decides ties
    s.client.auth.set("clinician", institution=CMCI)
    whole = [c["id"] for c in await s.ok("GET", url)]
    assert sorted(whole) == sorted(c["id"] for c in made)
    # Four: the three of priority 1 and one of priority 2, so that the cursor stands past every
    # priority-1 case whatever the ids (at one instant the id decides ties: with three, a late
    # priority-1 case fell after the cursor or before it by the draw of its id).
    first = await s.client.get(url, params={"limit": 4})
    assert first.status_code == 200 and [c["id"] for c in first.json()] == whole[:4]
    assert first.links["next"]["url"].startswith(f"{url}?limit=4&cursor=")
    # Cases registered between two pages: one more urgent than the page seen, one less.
    late_urgent = await s.case(priority=1, diagnosis="Urgence")
    late_minor = await s.case(priority=5, diagnosis="Hernie")
    seen, response = [c["id"] for c in first.json()], first
    while "next" in response.links:
        response = await s.client.get(response.links["next"]["url"])
        assert response.status_code == 200
        seen += [c["id"] for c in response.json()]
    assert seen == [*whole, late_minor["id"]], "every case once, none of those before the cursor"
    assert late_urgent["id"] not in seen
    assert "link" not in {k.lower() for k in response.headers}, "the last page has no next"

    # A cursor the list did not give is a 422 naming it.
    for cursor in ("nope", "A" * 501, "e30", first.links["next"]["url"].split("cursor=")[1][:-2] + "xx"):
        detail = await s.refused("GET", url, 422, params={"cursor": cursor})
        assert ["query", "cursor"] in [e["loc"] for e in detail], detail
    await s.refused("GET", url, 422, params={"limit": 201})
    await s.refused("GET", url, 422, params={"limit": 0})
