"""A mission's team as it changes (issue 19), over HTTP and the real broker, on SQLite and
PostgreSQL: each member's home institution and on-site dates, the ``MissionTeamChanged``
event for every change of the roster, hand booking refused on a day a surgeon or
anaesthetist is not on site, and the plan optimiser using them only on their days."""

from __future__ import annotations

from scheduling_testkit import ANAESTHETIST, CONVENTION, GSD, PERFUSIONIST, SURGEON, SURGEON_2, TIARET, Scheduling

ANAESTHETIST_2 = {"practitioner_id": "8c3d4e5f-6071-4b8c-9d0e-1f2a3b4c5d6e", "full_name": "Elena Greco",
                  "role": "anaesthetist"}


async def test_members_home_institution_and_on_site_dates(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission(team=[SURGEON, {**ANAESTHETIST, "arrives_on": "2030-06-12"},
                                    {**PERFUSIONIST, "home_institution_id": str(TIARET), "leaves_on": "2030-06-13"}])
    surgeon, anaesthetist, perfusionist = mission["team"]
    assert (surgeon["home_institution_id"], surgeon["arrives_on"], surgeon["leaves_on"], surgeon["whole_mission"]) \
        == (str(GSD), "2030-06-10", "2030-06-14", True)
    assert (anaesthetist["arrives_on"], anaesthetist["leaves_on"], anaesthetist["whole_mission"]) \
        == ("2030-06-12", "2030-06-14", False)
    assert (perfusionist["home_institution_id"], perfusionist["leaves_on"]) == (str(TIARET), "2030-06-13")
    (scheduled,) = await s.wait("MissionScheduled")
    assert scheduled["team"][1] == {**ANAESTHETIST, "home_institution_id": str(GSD), "arrives_on": "2030-06-12",
                                    "leaves_on": None}

    # Dates outside the mission, or a departure before the arrival: 422 naming the field.
    for over, field, needle in [({"arrives_on": "2030-06-09"}, "team.0.arrives_on", "outside the mission"),
                                ({"leaves_on": "2030-06-15"}, "team.0.leaves_on", "outside the mission"),
                                ({"arrives_on": "2030-06-13", "leaves_on": "2030-06-12"}, "team.0.leaves_on",
                                 "before arriving")]:
        body = s.mission_body(starts_on="2030-07-01", ends_on="2030-07-05", team=[{**SURGEON_2, **over}])
        body["starts_on"], body["ends_on"] = "2030-06-10", "2030-06-14"
        detail = await s.refused("POST", "/missions", 422, needle, json=body)
        assert [str(p) for p in detail[0]["loc"][1:]] == field.split("."), detail


async def test_every_change_of_the_team_publishes_mission_team_changed(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    url = f"/missions/{mission['id']}/team"
    grown = await s.ok("POST", url, 201, json={**SURGEON_2, "home_institution_id": str(TIARET),
                                               "arrives_on": "2030-06-11", "leaves_on": "2030-06-12"})
    assert grown["team"][-1]["home_institution_id"] == str(TIARET)
    (added,) = await s.wait("MissionTeamChanged", change="added")
    assert added["practitioner_id"] == SURGEON_2["practitioner_id"]
    assert added["convention_id"] == str(CONVENTION)
    assert [m["practitioner_id"] for m in added["team"]] == [m["practitioner_id"] for m in grown["team"]]
    assert added["team"][-1] == {**SURGEON_2, "home_institution_id": str(TIARET), "arrives_on": "2030-06-11",
                                 "leaves_on": "2030-06-12"}
    await s.refused("POST", url, 422, "outside the mission", json={**ANAESTHETIST_2, "arrives_on": "2030-06-20"})

    # Arrival and departure: later, earlier, back to the whole mission; If-Match as every change.
    on_site = f"{url}/{PERFUSIONIST['practitioner_id']}/on-site"
    stale = f'"{mission["version"]}"'
    await s.refused("PUT", on_site, 412, json={"arrives_on": "2030-06-11"}, headers={"If-Match": stale})
    changed = await s.ok("PUT", on_site, json={"arrives_on": "2030-06-11", "leaves_on": "2030-06-13"})
    member = next(m for m in changed["team"] if m["practitioner_id"] == PERFUSIONIST["practitioner_id"])
    assert (member["arrives_on"], member["leaves_on"]) == ("2030-06-11", "2030-06-13")
    (moved,) = await s.wait("MissionTeamChanged", change="dates_changed")
    assert moved["practitioner_id"] == PERFUSIONIST["practitioner_id"]
    assert next(m for m in moved["team"] if m["practitioner_id"] == PERFUSIONIST["practitioner_id"])[
        "arrives_on"] == "2030-06-11"
    await s.refused("PUT", on_site, 422, "already on site from 2030-06-11 to 2030-06-13",
                    json={"arrives_on": "2030-06-11", "leaves_on": "2030-06-13"})
    await s.refused("PUT", on_site, 422, "before arriving", json={"arrives_on": "2030-06-14", "leaves_on": "2030-06-12"})
    await s.refused("PUT", f"{url}/{ANAESTHETIST_2['practitioner_id']}/on-site", 404, "not on the team", json={})
    await s.ok("PUT", on_site, json={})
    await s.wait("MissionTeamChanged", 2, change="dates_changed")

    await s.ok("DELETE", f"{url}/{SURGEON_2['practitioner_id']}")
    (removed,) = await s.wait("MissionTeamChanged", change="removed")
    assert removed["practitioner_id"] == SURGEON_2["practitioner_id"]
    assert SURGEON_2["practitioner_id"] not in [m["practitioner_id"] for m in removed["team"]]

    # Moving the mission moves the dates a member set with it.
    await s.ok("PUT", on_site, json={"leaves_on": "2030-06-13"})
    moved_mission = await s.ok("POST", f"/missions/{mission['id']}/reschedule",
                               json={"starts_on": "2030-06-17", "ends_on": "2030-06-21", "reason": "bloc fermé"})
    member = next(m for m in moved_mission["team"] if m["practitioner_id"] == PERFUSIONIST["practitioner_id"])
    assert (member["arrives_on"], member["leaves_on"]) == ("2030-06-17", "2030-06-20")
    # ... and says so: one MissionTeamChanged per member whose own dates moved (the others' are the mission's).
    async def moved_with_the_mission() -> list[dict]:
        return [e for e in await s.wait("MissionTeamChanged", 4, change="dates_changed")
                if next(m for m in e["team"] if m["practitioner_id"] == PERFUSIONIST["practitioner_id"])[
                    "leaves_on"] == "2030-06-20"]
    (shifted,) = await moved_with_the_mission()
    assert shifted["practitioner_id"] == PERFUSIONIST["practitioner_id"]
    await s.refused("POST", f"/missions/{mission['id']}/reschedule", 409, "Luca Moretti", "change their on-site dates",
                    json={"starts_on": "2030-06-17", "ends_on": "2030-06-18", "reason": "plus court"})
    # Once started, a departure can still move (someone flies home early).
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("PUT", on_site, json={"leaves_on": "2030-06-19"})
    assert len(s.events("MissionTeamChanged")) == 6


async def test_hand_booking_refuses_a_practitioner_not_on_site_that_day(programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    mission = await s.mission(team=[{**SURGEON, "arrives_on": "2030-06-11"},
                                    {**ANAESTHETIST, "leaves_on": "2030-06-12"}])
    r = await s.surgery(mission, await s.case(), room, start="2030-06-10T08:00:00+01:00", status=409)
    assert r.status_code == 409
    assert "surgeon Marco Bellini" in r.text and "on site from 2030-06-11 to 2030-06-14, not on 2030-06-10" in r.text
    r = await s.surgery(mission, await s.case(), room, start="2030-06-13T08:00:00+01:00", status=409,
                        anaesthetist_id=ANAESTHETIST["practitioner_id"])
    assert "anaesthetist Giulia Ferraro" in r.text and "from 2030-06-10 to 2030-06-12, not on 2030-06-13" in r.text
    booked = await s.surgery(mission, await s.case(), room, start="2030-06-12T08:00:00+01:00",
                             anaesthetist_id=ANAESTHETIST["practitioner_id"])
    # Rescheduling checks the same; so does moving the anaesthetist's departure before it.
    await s.refused("POST", f"/surgeries/{booked['id']}/reschedule", 409, "Giulia Ferraro", "not on 2030-06-13",
                    json={"scheduled_start": "2030-06-13T08:00:00+01:00", "reason": "fièvre"})
    on_site = f"/missions/{mission['id']}/team/{ANAESTHETIST['practitioner_id']}/on-site"
    await s.refused("PUT", on_site, 409, f"surgery {booked['id']}", "move or cancel it first",
                    json={"leaves_on": "2030-06-11"})
    assert s.events("MissionTeamChanged") == []


async def test_the_optimiser_uses_a_practitioner_only_on_their_days(programme: Scheduling) -> None:
    s = programme
    await s.room()
    # Two surgeons and two anaesthetists, each pair on site for part of the mission only.
    mission = await s.mission(team=[{**SURGEON, "leaves_on": "2030-06-11"}, {**SURGEON_2, "arrives_on": "2030-06-13"},
                                    {**ANAESTHETIST, "leaves_on": "2030-06-12"},
                                    {**ANAESTHETIST_2, "arrives_on": "2030-06-12"}])
    for _ in range(6):
        await s.case(ready=True, expected_duration_minutes=180, risk_scheme="none", risk_category=None)
    plan = await s.ok("POST", f"/missions/{mission['id']}/plan", json={"time_limit_seconds": 2})
    assert plan["assignments"], plan
    days = {SURGEON["practitioner_id"]: ("2030-06-10", "2030-06-11"),
            SURGEON_2["practitioner_id"]: ("2030-06-13", "2030-06-14"),
            ANAESTHETIST["practitioner_id"]: ("2030-06-10", "2030-06-12"),
            ANAESTHETIST_2["practitioner_id"]: ("2030-06-12", "2030-06-14")}
    for a in plan["assignments"]:
        day = a["scheduled_start"][:10]  # UTC 07:00 and later: the same day in Algiers
        for who in (a["lead_surgeon_id"], a["anaesthetist_id"]):
            first, last = days[who]
            assert first <= day <= last, (who, a)
    # Nobody operates on the 12th (no surgeon there); the plan applies: the booking rules agree.
    assert "2030-06-12" not in {a["scheduled_start"][:10] for a in plan["assignments"]}
    applied = await s.ok("POST", f"/missions/{mission['id']}/plan/apply", json={"assignments": plan["assignments"]})
    assert applied
