"""Several host sites in one mission (issue 19), over HTTP and the real broker, on SQLite and
PostgreSQL: a delegation visits CMCI Bousmail and EPH Tiaret, both beneficiaries of the
convention, some days at each. A surgery or a consultation happens at its case's site, in a
room of that site, on the mission's days there; each site's coordinators and clinicians see and
book their own site's; the optimiser plans each case at its site; the events name the site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jumelage.events import InstitutionRegistered, new_envelope
from scheduling_testkit import (
    ANAESTHETIST, CMCI, CNAS, GSD, SIGNED_AT, SURGEON, SURGEON_2, TIARET, Scheduling, signed,
)

ALGIERS = ZoneInfo("Africa/Algiers")


@pytest.fixture
async def region(service: Scheduling) -> AsyncIterator[Scheduling]:
    """The institutions, and a convention whose beneficiaries are CMCI Bousmail and EPH Tiaret."""
    s = service
    registered = SIGNED_AT - timedelta(days=30)
    await s.deliver(*(new_envelope(data, correlation_id="programme-region-2030", causation_id=None, time=t)
                      for data, t in [
        (InstitutionRegistered(institution_id=CMCI, name="CMCI Bousmail", kind="clinic", country="DZ",
                               city="Bou Ismail"), registered),
        (InstitutionRegistered(institution_id=GSD, name="Gruppo San Donato", kind="hospital_group",
                               country="IT", city="Milano"), registered),
        (InstitutionRegistered(institution_id=TIARET, name="EPH Tiaret", kind="hospital", country="DZ",
                               city="Tiaret"), registered),
        (signed(parties=[{"institution_id": GSD, "role": "provider"}, {"institution_id": CMCI, "role": "beneficiary"},
                         {"institution_id": TIARET, "role": "beneficiary"}, {"institution_id": CNAS, "role": "funder"}]),
         SIGNED_AT),
    ]))
    yield s


SITES = [{"institution_id": str(CMCI), "starts_on": "2030-06-10", "ends_on": "2030-06-12"},
         {"institution_id": str(TIARET), "starts_on": "2030-06-13", "ends_on": "2030-06-14"}]


async def test_a_mission_at_two_sites_books_each_case_at_its_site_and_each_site_sees_its_own(
        region: Scheduling) -> None:
    s = region
    # Refused: a site that is not a beneficiary, a mission whose host is not among its sites, days outside.
    detail = await s.refused("POST", "/missions", 422, "not a beneficiary", json=s.mission_body(
        sites=[*SITES, {"institution_id": str(GSD)}]))
    assert detail[0]["loc"] == ["body", "sites", 2, "institution_id"]
    await s.refused("POST", "/missions", 422, "must be one of its sites", json=s.mission_body(sites=SITES[1:]))
    detail = await s.refused("POST", "/missions", 422, "outside the mission", json=s.mission_body(
        sites=[SITES[0], {**SITES[1], "ends_on": "2030-06-20"}]))
    assert detail[0]["loc"] == ["body", "sites", 1, "ends_on"]

    mission = await s.mission(sites=SITES)
    assert mission["sites"] == [
        {"institution_id": str(CMCI), "starts_on": "2030-06-10", "ends_on": "2030-06-12", "whole_mission": False,
         "host": True},
        {"institution_id": str(TIARET), "starts_on": "2030-06-13", "ends_on": "2030-06-14", "whole_mission": False,
         "host": False}]
    (scheduled,) = await s.wait("MissionScheduled")
    assert scheduled["sites"] == SITES
    assert await s.ok("GET", f"/missions/{mission['id']}/sites") == mission["sites"]

    cmci_room, tiaret_room = await s.room(), await s.room("Bloc Tiaret", host=TIARET)
    cmci_case, tiaret_case = await s.case(), await s.case(host=TIARET)
    url = f"/missions/{mission['id']}/surgeries"
    body = {"case_id": tiaret_case["id"], "operating_room_id": cmci_room["id"],
            "scheduled_start": "2030-06-13T08:00:00+01:00", "lead_surgeon_id": SURGEON["practitioner_id"]}
    # A Tiaret case in a CMCI room, or on a day the mission is at CMCI: refused, naming the field.
    detail = await s.refused("POST", url, 422, "not at the site of", json=body)
    assert detail[0]["loc"] == ["body", "operating_room_id"]
    detail = await s.refused("POST", url, 422, f"outside the mission's days at institution {TIARET}",
                             json={**body, "operating_room_id": tiaret_room["id"],
                                   "scheduled_start": "2030-06-11T08:00:00+01:00"})
    assert detail[0]["loc"] == ["body", "scheduled_start"]
    at_tiaret = await s.ok("POST", url, 201, json={**body, "operating_room_id": tiaret_room["id"]})
    assert at_tiaret["site_institution_id"] == str(TIARET)
    at_cmci = await s.surgery(mission, cmci_case, cmci_room, start="2030-06-11T08:00:00+01:00")
    assert at_cmci["site_institution_id"] == str(CMCI)
    events = {e["surgery_id"]: e for e in await s.wait("SurgeryScheduled", 2)}
    assert events[at_tiaret["id"]]["site_institution_id"] == str(TIARET)
    assert events[at_cmci["id"]]["site_institution_id"] == str(CMCI)
    # A room of another site for a surgery moved: refused too.
    detail = await s.refused("POST", f"/surgeries/{at_tiaret['id']}/reschedule", 422, "not at the site of",
                             json={"scheduled_start": "2030-06-14T08:00:00+01:00", "reason": "Plus tard",
                                   "operating_room_id": cmci_room["id"]})
    assert detail[0]["loc"] == ["body", "operating_room_id"]
    moved = await s.ok("POST", f"/surgeries/{at_tiaret['id']}/reschedule",
                       json={"scheduled_start": "2030-06-14T08:00:00+01:00", "reason": "Plus tard"})
    (rescheduled,) = await s.wait("SurgeryRescheduled")
    assert rescheduled["site_institution_id"] == str(TIARET) and moved["site_institution_id"] == str(TIARET)

    # Each site's coordinators and clinicians: the mission, and their own site's surgeries only.
    for roles in (("coordinator",), ("clinician",)):
        with s.client.auth.acting(*roles, institution=TIARET):
            assert (await s.ok("GET", f"/missions/{mission['id']}"))["id"] == mission["id"]
            assert [x["id"] for x in await s.ok("GET", url)] == [at_tiaret["id"]]
            assert (await s.ok("GET", f"/surgeries/{at_tiaret['id']}"))["id"] == at_tiaret["id"]
            await s.refused("GET", f"/surgeries/{at_cmci['id']}", 403, f"at institution {CMCI}")
            await s.refused("POST", f"/surgeries/{at_cmci['id']}/cancel", 403, f"at institution {CMCI}",
                            json={"reason": "Pas chez nous"})
            # Booking at the other site: refused, whatever the body.
            await s.refused("POST", url, 403, f"at institution {CMCI}", json={
                **body, "case_id": cmci_case["id"], "scheduled_start": "2030-06-12T08:00:00+01:00"})
            listed = await s.ok("GET", "/missions", params={"host_institution_id": str(TIARET)})
            assert [m["id"] for m in listed] == [mission["id"]], "a mission visiting it is listed as hosted there"
    with s.client.auth.acting("clinician", institution=CMCI):
        assert [x["id"] for x in await s.ok("GET", url)] == [at_cmci["id"]]
        await s.refused("GET", f"/surgeries/{at_tiaret['id']}", 403, f"at institution {TIARET}")
    with s.client.auth.acting("coordinator", institution=TIARET):
        # The mission itself (dates, team, sites) is its host's and visiting institution's to manage.
        await s.refused("PUT", f"/missions/{mission['id']}/sites/{TIARET}", 403, json={"starts_on": "2030-06-12"})
    late = await s.case(host=TIARET)
    with s.client.auth.acting("coordinator", institution=TIARET):  # books at its own site
        mine = await s.ok("POST", url, 201, json={**body, "case_id": late["id"], "operating_room_id":
                                                  tiaret_room["id"], "scheduled_start": "2030-06-13T13:00:00+01:00"})
    assert mine["site_institution_id"] == str(TIARET)
    for roles, institution in ((("coordinator",), GSD), (("coordinator",), CMCI)):  # every site
        with s.client.auth.acting(*roles, institution=institution):
            assert {x["id"] for x in await s.ok("GET", url)} == {at_tiaret["id"], at_cmci["id"], mine["id"]}

    # A consultation at its case's site, on its days there.
    consultations = f"/missions/{mission['id']}/consultations"
    detail = await s.refused("POST", consultations, 422, "outside the mission's days at institution",
                             json={"scheduled_at": "2030-06-11T14:00:00+01:00", "case_id": tiaret_case["id"]})
    assert detail[0]["loc"] == ["body", "scheduled_at"]
    consultation = await s.ok("POST", consultations, 201, json={"scheduled_at": "2030-06-13T14:00:00+01:00",
                                                                "case_id": tiaret_case["id"]})
    assert consultation["site_institution_id"] == str(TIARET)
    with s.client.auth.acting("clinician", institution=TIARET):
        walk_in = await s.ok("POST", consultations, 201, json={
            "scheduled_at": "2030-06-14T09:00:00+01:00", "site_institution_id": str(TIARET),
            "new_patient": s.case_body()})
        assert walk_in["site_institution_id"] == str(TIARET)
    with s.client.auth.acting("clinician", institution=CMCI):
        assert await s.ok("GET", consultations) == []

    # The sites' days: a change that would strand a booking is refused; one that keeps them is an event.
    sites_url = f"/missions/{mission['id']}/sites/{TIARET}"
    await s.refused("PUT", sites_url, 409, at_tiaret["id"], json={"starts_on": "2030-06-13", "ends_on": "2030-06-13"})
    await s.refused("PUT", sites_url, 422, "outside the mission", json={"starts_on": "2030-06-09"})
    changed = await s.ok("PUT", sites_url, json={"starts_on": "2030-06-12"},
                         headers={"If-Match": f'"{mission["version"]}"'})
    assert changed["version"] == mission["version"] + 1
    assert changed["sites"][1] == {"institution_id": str(TIARET), "starts_on": "2030-06-12", "ends_on": "2030-06-14",
                                   "whole_mission": False, "host": False}
    await s.refused("PUT", sites_url, 412, headers={"If-Match": f'"{mission["version"]}"'},
                    json={"starts_on": "2030-06-13"})
    (sites_changed,) = await s.wait("MissionSitesChanged")
    assert sites_changed == {
        "mission_id": mission["id"], "convention_id": mission["convention_id"], "change": "days_changed",
        "institution_id": str(TIARET), "sites": [
            SITES[0], {"institution_id": str(TIARET), "starts_on": "2030-06-12", "ends_on": "2030-06-14"}]}
    await s.refused("DELETE", sites_url, 409, "move or cancel")
    await s.refused("DELETE", f"/missions/{mission['id']}/sites/{CMCI}", 409, "host")
    await s.refused("PUT", f"/missions/{mission['id']}/sites/{GSD}", 422, "not a beneficiary", json={})

    # Every change has its audit row.
    with s.client.auth.acting("administrator"):
        audit = (await s.ok("GET", "/audit", params={"limit": 500}))["items"]
    actions = {a["action"] for a in audit}
    assert {"POST /missions", "POST /missions/{mission_id}/surgeries",
            "PUT /missions/{mission_id}/sites/{institution_id}"} <= actions


async def test_a_single_host_mission_is_its_host_alone_on_every_day(region: Scheduling) -> None:
    s = region
    mission = await s.mission()
    assert mission["sites"] == [{"institution_id": str(CMCI), "starts_on": "2030-06-10", "ends_on": "2030-06-14",
                                 "whole_mission": True, "host": True}]
    # A site added later (Tiaret for the last two days), then removed while nothing is planned there.
    url = f"/missions/{mission['id']}/sites/{TIARET}"
    added = await s.ok("PUT", url, json={"starts_on": "2030-06-13"})
    assert [x["institution_id"] for x in added["sites"]] == [str(CMCI), str(TIARET)]
    assert added["sites"][1]["starts_on"] == "2030-06-13" and added["sites"][1]["ends_on"] == "2030-06-14"
    removed = await s.ok("DELETE", url)
    assert [x["institution_id"] for x in removed["sites"]] == [str(CMCI)]
    assert [e["change"] for e in await s.wait("MissionSitesChanged", 2)] == ["site_added", "site_removed"]
    # A reschedule moves the sites' own days with it.
    await s.ok("PUT", url, json={"starts_on": "2030-06-13"})
    moved = await s.ok("POST", f"/missions/{mission['id']}/reschedule",
                       json={"starts_on": "2030-06-17", "ends_on": "2030-06-21", "reason": "Bloc fermé"})
    assert [(x["starts_on"], x["ends_on"]) for x in moved["sites"]] == [("2030-06-17", "2030-06-21"),
                                                                       ("2030-06-20", "2030-06-21")]
    (event,) = await s.wait("MissionRescheduled")
    assert event["sites"][1] == {"institution_id": str(TIARET), "starts_on": "2030-06-20", "ends_on": "2030-06-21"}


async def test_the_optimiser_plans_each_case_at_its_site_on_its_days(region: Scheduling) -> None:
    s = region
    # The clock is 2030-06-11: a mission in July, two days at CMCI, three at Tiaret.
    sites = [{"institution_id": str(CMCI), "starts_on": "2030-07-01", "ends_on": "2030-07-02"},
             {"institution_id": str(TIARET), "starts_on": "2030-07-03", "ends_on": "2030-07-05"}]
    mission = await s.mission(starts_on="2030-07-01", ends_on="2030-07-05", team=[SURGEON, SURGEON_2, ANAESTHETIST],
                              sites=sites)
    rooms = {CMCI: await s.room(), TIARET: await s.room("Bloc Tiaret", host=TIARET)}
    cases = {c["id"]: CMCI for c in [await s.case(ready=True, risk_scheme="none", risk_category=None,
                                                  expected_duration_minutes=120) for _ in range(2)]}
    cases |= {c["id"]: TIARET for c in [await s.case(TIARET, ready=True, risk_scheme="none", risk_category=None,
                                                     expected_duration_minutes=120) for _ in range(3)]}
    plan = await s.ok("POST", f"/missions/{mission['id']}/plan", json={"time_limit_seconds": 2})
    assert plan["status"] == "optimal" and plan["unplanned"] == []
    assert {a["case_id"] for a in plan["assignments"]} == set(cases), "every site's waiting list"
    days = {CMCI: {"2030-07-01", "2030-07-02"}, TIARET: {"2030-07-03", "2030-07-04", "2030-07-05"}}
    for a in plan["assignments"]:
        site = cases[a["case_id"]]
        assert a["operating_room_id"] == rooms[site]["id"], "a room of the case's site"
        day = datetime.fromisoformat(a["scheduled_start"]).astimezone(ALGIERS).date().isoformat()
        assert day in days[site], "on the mission's days at the case's site"
    applied = await s.ok("POST", f"/missions/{mission['id']}/plan/apply", json={"assignments": plan["assignments"]})
    assert {x["case_id"]: x["site_institution_id"] for x in applied["scheduled"]} == {
        case_id: str(site) for case_id, site in cases.items()}
    events = await s.wait("SurgeryScheduled", 5)
    refs = {x["patient_ref"]: x["case_id"] for x in applied["scheduled"]}
    assert {e["site_institution_id"] for e in events if cases[refs[e["patient_ref"]]] == TIARET} == {str(TIARET)}


async def test_training_sessions_are_held_at_a_site_on_its_days_and_each_site_sees_its_own(region: Scheduling) -> None:
    s = region
    mission = await s.mission(sites=SITES)
    url = f"/missions/{mission['id']}/training-sessions"
    # No site named: the mission's host (its first site), on its days there.
    at_cmci = await s.ok("POST", url, 201, json={"topic": "Circulation extracorporelle", "hours": 3,
                                                 "scheduled_at": "2030-06-10T14:00:00+01:00"})
    assert at_cmci["site_institution_id"] == str(CMCI)
    detail = await s.refused("POST", url, 422, f"outside the mission's days at institution {CMCI}", json={
        "topic": "Échographie", "hours": 2, "scheduled_at": "2030-06-13T14:00:00+01:00"})
    assert detail[0]["loc"] == ["body", "scheduled_at"]
    # Another site: one of the mission's, on the mission's days there.
    detail = await s.refused("POST", url, 422, "not a host site", json={
        "topic": "Échographie", "hours": 2, "scheduled_at": "2030-06-13T14:00:00+01:00",
        "site_institution_id": str(GSD)})
    assert detail[0]["loc"] == ["body", "site_institution_id"]
    detail = await s.refused("POST", url, 422, f"outside the mission's days at institution {TIARET}", json={
        "topic": "Échographie", "hours": 2, "scheduled_at": "2030-06-11T14:00:00+01:00",
        "site_institution_id": str(TIARET)})
    assert detail[0]["loc"] == ["body", "scheduled_at"]
    at_tiaret = await s.ok("POST", url, 201, json={"topic": "Échographie", "hours": 2,
                                                   "scheduled_at": "2030-06-13T14:00:00+01:00",
                                                   "site_institution_id": str(TIARET)})
    assert at_tiaret["site_institution_id"] == str(TIARET)

    # Each site's coordinators and clinicians: their own site's sessions only.
    for roles in (("coordinator",), ("clinician",)):
        with s.client.auth.acting(*roles, institution=TIARET):
            assert [t["id"] for t in await s.ok("GET", url)] == [at_tiaret["id"]]
            assert (await s.ok("GET", f"/training-sessions/{at_tiaret['id']}"))["id"] == at_tiaret["id"]
            await s.refused("GET", f"/training-sessions/{at_cmci['id']}", 403, f"at institution {CMCI}")
    with s.client.auth.acting("clinician", institution=CMCI):
        assert [t["id"] for t in await s.ok("GET", url)] == [at_cmci["id"]]
        await s.refused("GET", f"/training-sessions/{at_tiaret['id']}", 403, f"at institution {TIARET}")
    for institution in (CMCI, GSD):  # the host's and the visiting institution's coordinators: every site
        with s.client.auth.acting("coordinator", institution=institution):
            assert {t["id"] for t in await s.ok("GET", url)} == {at_cmci["id"], at_tiaret["id"]}
    # A site's coordinators plan at their own site only; its clinicians do not plan training.
    with s.client.auth.acting("coordinator", institution=TIARET):
        by_tiaret = await s.ok("POST", url, 201, json={"topic": "Drainage thoracique", "hours": 1,
                                                       "scheduled_at": "2030-06-13T16:00:00+01:00",
                                                       "site_institution_id": str(TIARET)})
        await s.refused("POST", url, 403, f"at institution {CMCI}", json={
            "topic": "Drainage thoracique", "hours": 1, "scheduled_at": "2030-06-10T16:00:00+01:00"})
    with s.client.auth.acting("clinician", institution=TIARET):
        await s.refused("POST", url, 403, "training sessions", json={
            "topic": "Drainage thoracique", "hours": 1, "scheduled_at": "2030-06-13T16:00:00+01:00",
            "site_institution_id": str(TIARET)})
    # A site with a session planned stays, and its days keep it.
    await s.refused("DELETE", f"/missions/{mission['id']}/sites/{TIARET}", 409, at_tiaret["id"])
    await s.refused("PUT", f"/missions/{mission['id']}/sites/{TIARET}", 409, at_tiaret["id"],
                    json={"starts_on": "2030-06-14", "ends_on": "2030-06-14"})

    # Held: the event names its site.
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("POST", f"/training-sessions/{at_cmci['id']}/hold",
               json={"trainee_count": 8, "held_at": "2030-06-10T14:00:00+01:00"})
    await s.ok("POST", f"/training-sessions/{at_tiaret['id']}/hold", json={"trainee_count": 5})
    with s.client.auth.acting("coordinator", institution=TIARET):
        await s.refused("POST", f"/training-sessions/{at_cmci['id']}/hold", 403, f"at institution {CMCI}",
                        json={"trainee_count": 1})
        await s.ok("POST", f"/training-sessions/{by_tiaret['id']}/hold", json={"trainee_count": 3})
    held = {e["training_session_id"]: e for e in await s.wait("TrainingSessionHeld", 3)}
    assert held[at_cmci["id"]]["site_institution_id"] == str(CMCI)
    assert held[at_tiaret["id"]]["site_institution_id"] == str(TIARET)


SHARED_DAYS = [{"institution_id": str(CMCI)},  # every day of the mission
               {"institution_id": str(TIARET), "starts_on": "2030-06-12", "ends_on": "2030-06-14"}]


async def test_a_practitioner_is_never_booked_at_two_sites_the_same_day(region: Scheduling) -> None:
    s = region
    mission = await s.mission(sites=SHARED_DAYS, team=[SURGEON, SURGEON_2, ANAESTHETIST])
    url = f"/missions/{mission['id']}/surgeries"
    cmci_room, tiaret_room = await s.room(), await s.room("Bloc Tiaret", host=TIARET)
    at_cmci = await s.surgery(mission, await s.case(), cmci_room, start="2030-06-12T08:00:00+01:00",
                              anaesthetist_id=ANAESTHETIST["practitioner_id"])
    tiaret_case = await s.case(host=TIARET)
    body = {"case_id": tiaret_case["id"], "operating_room_id": tiaret_room["id"],
            "scheduled_start": "2030-06-12T14:00:00+01:00", "lead_surgeon_id": SURGEON["practitioner_id"]}
    # The same surgeon in the afternoon at Tiaret: free by the clock, but at CMCI that day.
    detail = await s.refused("POST", url, 422, SURGEON["full_name"], f"at institution {CMCI}", json=body)
    assert detail[0]["loc"] == ["body", "lead_surgeon_id"]
    # Another surgeon, but the same anaesthetist: refused too, naming them.
    detail = await s.refused("POST", url, 422, ANAESTHETIST["full_name"], f"at institution {CMCI}", json={
        **body, "lead_surgeon_id": SURGEON_2["practitioner_id"], "anaesthetist_id": ANAESTHETIST["practitioner_id"]})
    assert detail[0]["loc"] == ["body", "anaesthetist_id"]
    # The next day at Tiaret; the same day at CMCI (the same site): both fine.
    at_tiaret = await s.ok("POST", url, 201, json={**body, "scheduled_start": "2030-06-13T08:00:00+01:00"})
    await s.surgery(mission, await s.case(), cmci_room, start="2030-06-12T14:00:00+01:00")
    # Another surgeon at Tiaret that day: fine; then changing its lead to the surgeon at CMCI is refused.
    second = await s.ok("POST", url, 201, json={**body, "case_id": (await s.case(host=TIARET))["id"],
                                                "lead_surgeon_id": SURGEON_2["practitioner_id"]})
    detail = await s.refused("POST", f"/surgeries/{second['id']}/lead", 422, SURGEON["full_name"],
                             f"at institution {CMCI}", json={"lead_surgeon_id": SURGEON["practitioner_id"],
                                                            "reason": "Renfort"})
    assert detail[0]["loc"] == ["body", "lead_surgeon_id"]
    # Moving the Tiaret surgery onto his CMCI day: refused, naming the time.
    detail = await s.refused("POST", f"/surgeries/{at_tiaret['id']}/reschedule", 422, SURGEON["full_name"],
                             json={"scheduled_start": "2030-06-12T08:00:00+01:00", "reason": "Plus tôt"})
    assert detail[0]["loc"] == ["body", "scheduled_start"]
    # Cancelled at CMCI, he is free to go to Tiaret that day.
    await s.ok("POST", f"/surgeries/{at_cmci['id']}/cancel", json={"reason": "Famille absente"})
    others = [x for x in await s.ok("GET", url) if x["status"] == "scheduled"
              and x["lead_surgeon_id"] == SURGEON["practitioner_id"] and x["scheduled_start"].startswith("2030-06-12")]
    for other in others:
        await s.ok("POST", f"/surgeries/{other['id']}/cancel", json={"reason": "Réorganisation"})
    moved = await s.ok("POST", f"/surgeries/{at_tiaret['id']}/reschedule",
                       json={"scheduled_start": "2030-06-12T08:00:00+01:00", "reason": "Plus tôt"})
    assert moved["site_institution_id"] == str(TIARET)
