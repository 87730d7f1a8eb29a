"""The local team's autonomy and the 30-day follow-up of a surgery (issue 21), over HTTP and the
real broker, on SQLite and PostgreSQL: who led it (from the lead's home institution), the host's
practitioners' parts in it (set before or on completion), ``SurgeryCompleted``'s optional fields,
and the follow-up thirty days after (host's clinicians only, once), ``SurgeryFollowedUp`` without
the patient's identity, the audit rows and the idempotency key."""

from __future__ import annotations

from scheduling_testkit import ANAESTHETIST, CMCI, CONVENTION, GSD, SURGEON, Scheduling

LOCAL_SURGEON = {"practitioner_id": "8b2c3d4e-5f60-4a7b-9c8d-0e1f2a3b4c5d", "full_name": "Karim Haddad",
                 "role": "surgeon", "home_institution_id": str(CMCI)}
LOCAL_RESIDENT = {"practitioner_id": "9c3d4e5f-6071-4b8c-8d9e-1f2a3b4c5d6e", "full_name": "Nadia Saidi",
                  "role": "resident", "home_institution_id": str(CMCI)}
UNKNOWN = "0d4e5f60-7182-4c9d-9eaf-2a3b4c5d6e7f"


def part(member: dict, role: str) -> dict:
    return {"practitioner_id": member["practitioner_id"], "role": role}


async def test_who_led_it_and_the_local_practitioners_parts(programme: Scheduling) -> None:
    s = programme
    room, other_room = await s.room(), await s.room("Bloc A - salle 1")
    mission = await s.mission(team=[SURGEON, ANAESTHETIST, LOCAL_SURGEON, LOCAL_RESIDENT])
    visiting_led = await s.surgery(mission, await s.case(), room, start="2030-06-11T08:00:00+01:00")
    local_led = await s.surgery(mission, await s.case(risk_scheme="STAT", risk_category=2), other_room,
                                start="2030-06-11T08:00:00+01:00", surgeon=LOCAL_SURGEON)
    url = f"/surgeries/{visiting_led['id']}/local-roles"

    # Only the host's practitioners on the team have a local role; each once; a known role.
    await s.refused("PUT", url, 422, "not at the host", json={"local_roles": [part(SURGEON, "assistant")]})
    await s.refused("PUT", url, 422, "not on mission", json={"local_roles": [
        {"practitioner_id": UNKNOWN, "role": "observer"}]})
    await s.refused("PUT", url, 422, "named twice", json={"local_roles": [
        part(LOCAL_RESIDENT, "observer"), part(LOCAL_RESIDENT, "assistant")]})
    await s.refused("PUT", url, 422, json={"local_roles": [part(LOCAL_RESIDENT, "chief")]})
    await s.refused("PUT", url, 422, json={"local_roles": [part(LOCAL_RESIDENT, "observer")] * 31})
    # A local lead is the primary surgeon (supervised) or independent, never an observer.
    await s.refused("PUT", f"/surgeries/{local_led['id']}/local-roles", 422, "Karim Haddad leads",
                    json={"local_roles": [part(LOCAL_SURGEON, "observer")]})
    with s.client.auth.acting("practitioner", practitioner=SURGEON["practitioner_id"]):
        await s.refused("PUT", url, 403, json={"local_roles": []})

    roles = [part(LOCAL_SURGEON, "assistant"), part(LOCAL_RESIDENT, "observer")]
    await s.refused("PUT", url, 412, json={"local_roles": roles}, headers={"If-Match": '"0"'})
    set_ = await s.ok("PUT", url, json={"local_roles": roles}, headers={"If-Match": f'"{visiting_led["version"]}"'})
    assert set_["local_roles"] == roles and set_["lead_side"] is None
    assert set_["version"] == visiting_led["version"] + 1
    assert (await s.ok("GET", f"/surgeries/{visiting_led['id']}"))["local_roles"] == roles

    await s.ok("POST", f"/missions/{mission['id']}/start")
    for surgery in (visiting_led, local_led):
        await s.ok("POST", f"/surgeries/{surgery['id']}/start", json={"started_at": "2030-06-11T08:05:00+01:00"})
    # Completed without roles: those set before stand; with roles: they replace them.
    done = await s.ok("POST", f"/surgeries/{visiting_led['id']}/complete",
                      json={"outcome": "successful", "duration_minutes": 200, "completed_at": "2030-06-11T08:00:00Z"})
    assert (done["lead_side"], done["local_roles"]) == ("visiting", roles)
    await s.refused("POST", f"/surgeries/{local_led['id']}/complete", 422, "not at the host", json={
        "outcome": "successful", "duration_minutes": 200, "local_roles": [part(SURGEON, "independent")]})
    led = await s.ok("POST", f"/surgeries/{local_led['id']}/complete", json={
        "outcome": "with_complications", "duration_minutes": 210, "completed_at": "2030-06-11T08:10:00Z",
        "local_roles": [part(LOCAL_SURGEON, "primary_under_supervision"), part(LOCAL_RESIDENT, "assistant")]})
    assert led["lead_side"] == "local"
    await s.refused("PUT", f"/surgeries/{local_led['id']}/local-roles", 409, "it is completed",
                    json={"local_roles": []})

    completed = {e["surgery_id"]: e for e in await s.wait("SurgeryCompleted", 2)}
    assert completed[visiting_led["id"]]["lead_side"] == "visiting"
    assert completed[visiting_led["id"]]["local_roles"] == [
        {"practitioner_ref": LOCAL_SURGEON["practitioner_id"], "role": "assistant", "full_name": "Karim Haddad"},
        {"practitioner_ref": LOCAL_RESIDENT["practitioner_id"], "role": "observer", "full_name": "Nadia Saidi"}]
    assert (completed[visiting_led["id"]]["risk_scheme"], completed[visiting_led["id"]]["risk_category"]) == (
        "RACHS-1", 3)
    assert completed[local_led["id"]]["lead_side"] == "local"
    assert [r["role"] for r in completed[local_led["id"]]["local_roles"]] == ["primary_under_supervision",
                                                                              "assistant"]
    assert (completed[local_led["id"]]["risk_scheme"], completed[local_led["id"]]["risk_category"]) == ("STAT", 2)

    with s.client.auth.acting("administrator"):
        audit = await s.ok("GET", "/audit")
    rows = [r for r in audit["items"] if r["action"] == "PUT /surgeries/{surgery_id}/local-roles"]
    assert [r["target"] for r in rows] == [url]


async def test_the_follow_up_thirty_days_after(programme: Scheduling) -> None:
    s = programme
    room, other_room = await s.room(), await s.room("Bloc A - salle 1")
    mission = await s.mission(team=[SURGEON, ANAESTHETIST, LOCAL_SURGEON])
    first = await s.surgery(mission, await s.case(), room, start="2030-06-11T08:00:00+01:00")
    died = await s.surgery(mission, await s.case(), other_room, start="2030-06-11T08:00:00+01:00",
                           surgeon=LOCAL_SURGEON)
    url = f"/surgeries/{first['id']}/follow-up"
    await s.refused("POST", url, 409, "it is scheduled", json={"outcome": "alive"})
    await s.ok("POST", f"/missions/{mission['id']}/start")
    for surgery, outcome in ((first, "successful"), (died, "deceased")):
        await s.ok("POST", f"/surgeries/{surgery['id']}/start", json={"started_at": "2030-06-11T08:05:00+01:00"})
        await s.ok("POST", f"/surgeries/{surgery['id']}/complete",
                   json={"outcome": outcome, "duration_minutes": 200, "completed_at": "2030-06-11T08:30:00Z"})
    await s.refused("POST", f"/surgeries/{died['id']}/follow-up", 409, "died at surgery", json={"outcome": "alive"})

    # Before day 30 only a death can be recorded; the day it is due is named.
    await s.refused("POST", url, 409, "due on 2030-07-11", json={"outcome": "alive"})
    await s.refused("POST", url, 422, json={"outcome": "cured"})
    # Host's clinicians only: not its coordinators, not the visiting side, not the team.
    with s.client.auth.acting("coordinator", institution=CMCI):
        await s.refused("POST", url, 403, json={"outcome": "alive"})
    with s.client.auth.acting("clinician", institution=GSD):
        await s.refused("POST", url, 403, json={"outcome": "alive"})
    with s.client.auth.acting("practitioner", practitioner=SURGEON["practitioner_id"]):
        await s.refused("POST", url, 403, json={"outcome": "alive"})

    s.clock.advance(days=30)
    key = {"Idempotency-Key": "follow-up-first-1"}
    followed = await s.client.post(url, json={"outcome": "readmitted"}, headers=key)
    assert followed.status_code == 200, followed.text
    again = await s.client.post(url, json={"outcome": "readmitted"}, headers=key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == followed.json()
    body = followed.json()
    assert (body["follow_up_outcome"], body["followed_up_on"], body["follow_up_days"]) == (
        "readmitted", "2030-07-11", 30)
    await s.refused("POST", url, 409, "already recorded", "readmitted", json={"outcome": "alive"})

    (event,) = await s.wait("SurgeryFollowedUp")
    assert event == {
        "surgery_id": first["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "outcome": "readmitted", "completed_at": "2030-06-11T08:30:00Z", "followed_up_on": "2030-07-11",
        "days_after_surgery": 30, "risk_scheme": "RACHS-1", "risk_category": 3, "specialty": mission["specialty"]}
    assert "patient_ref" not in event
    (message,) = s.tap.of_type("SurgeryFollowedUp")
    assert message["subject"] == f"surgeries/{first['id']}"

    with s.client.auth.acting("administrator"):
        audit = await s.ok("GET", "/audit")
    (row,) = [r for r in audit["items"] if r["action"] == "POST /surgeries/{surgery_id}/follow-up"]
    assert [e["type"] for e in row["events"]] == ["SurgeryFollowedUp"]

    # The mission's FHIR export gives each Procedure its recorded follow-up (or that none is yet).
    with s.client.auth.acting("coordinator", institution=CMCI):
        bundle = await s.ok("GET", f"/missions/{mission['id']}/fhir/procedures")
    follow_ups = {e["resource"]["id"]: e["resource"]["followUp"][0]["text"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Procedure"}
    assert follow_ups == {
        first["id"]: "30-day follow-up: readmitted, recorded on 2030-07-11 (30 days after the surgery)",
        died["id"]: "30-day follow-up: not recorded yet"}


async def test_a_death_is_recorded_before_day_thirty(programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    mission = await s.mission(team=[SURGEON, ANAESTHETIST])
    surgery = await s.surgery(mission, await s.case(), room, start="2030-06-11T08:00:00+01:00")
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/start", json={"started_at": "2030-06-11T08:05:00+01:00"})
    await s.ok("POST", f"/surgeries/{surgery['id']}/complete",
               json={"outcome": "with_complications", "duration_minutes": 200, "completed_at": "2030-06-11T08:30:00Z"})
    s.clock.advance(days=6)
    died = await s.ok("POST", f"/surgeries/{surgery['id']}/follow-up", json={"outcome": "deceased"})
    assert (died["follow_up_outcome"], died["follow_up_days"]) == ("deceased", 6)
    assert [e["days_after_surgery"] for e in await s.wait("SurgeryFollowedUp")] == [6]
