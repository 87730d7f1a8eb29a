"""The surgery plan over HTTP and the real broker, on SQLite and PostgreSQL: a proposal
writes nothing, applying it schedules every surgery (or none), and re-planning after
a cancellation keeps started surgeries and moves as few as it can, and the plan holds
the anaesthetist recorded on a surgery under way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from plan_checker import check_plan

from jumelage.metrics import OPTIMISER_RUNS, OPTIMISER_SECONDS
from scheduling_testkit import ANAESTHETIST, CMCI, SURGEON, SURGEON_2, Scheduling

from scheduling.adapters import optimiser


@pytest.fixture(autouse=True)
def every_plan_checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """Every plan these tests propose goes through the independent checker (issue 20)."""
    checked: list = []
    solve = optimiser.solve

    def checked_solve(req: optimiser.PlanRequest) -> optimiser.Plan:
        plan = solve(req)
        check_plan(plan, req)
        checked.append(plan)
        return plan

    monkeypatch.setattr(optimiser, "solve", checked_solve)
    yield checked
    assert checked, "no plan was proposed"


async def test_a_proposed_plan_writes_nothing_and_applying_it_is_all_or_none(programme: Scheduling) -> None:
    s = programme
    await s.ok("PUT", f"/institutions/{CMCI}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 6})
    room = await s.room()  # 08:00-18:00
    mission = await s.mission()  # 2030-06-10 to 14; the clock: 2030-06-11 10:00 local
    cases = [await s.case(ready=True, priority=p, expected_duration_minutes=m)
             for p, m in [(1, 240), (2, 180), (3, 300)]]
    url = f"/missions/{mission['id']}/plan"

    runs, timed = OPTIMISER_RUNS.labels("ok")._value.get(), OPTIMISER_SECONDS._sum.get()
    plan = await s.ok("POST", url, json={"time_limit_seconds": 2})
    assert (plan["status"], plan["optimal"], plan["objective"], plan["bound"]) == ("optimal", True, 28, 28)
    assert OPTIMISER_RUNS.labels("ok")._value.get() == runs + 1, "one optimiser run counted (GET /metrics)"
    assert OPTIMISER_SECONDS._sum.get() > timed
    assert plan["turnover_minutes"] is None and plan["max_daily_minutes_per_surgeon"] == 480
    assert plan["room_turnover_minutes"] == {room["id"]: 45}, "the room's, from its specialty (cardiac surgery)"
    assert plan["solve_seconds"] < 3 and plan["greedy_objective"] <= plan["objective"] and plan["unplanned"] == []
    lines = {a["case_id"]: a for a in plan["assignments"]}
    assert set(lines) == {c["id"] for c in cases}
    for a in lines.values():
        assert a["change"] == "new" and a["lead_surgeon_id"] == SURGEON["practitioner_id"]
        assert a["anaesthetist_id"] == ANAESTHETIST["practitioner_id"] and a["icu_days"] == 3  # RACHS-1 3
        assert a["operating_room_id"] == room["id"] and a["scheduled_start"] >= "2030-06-11T09:00:00Z"
    # Nothing written, nothing published.
    assert await s.ok("GET", f"/missions/{mission['id']}/surgeries") == []
    assert all([(await s.ok("GET", f"/cases/{c['id']}"))["status"] == "waiting" for c in cases])
    await s.settle()
    assert s.events("SurgeryScheduled") == []

    # Only some cases; bad requests.
    some = await s.ok("POST", url, json={"time_limit_seconds": 1, "case_ids": [cases[2]["id"]]})
    assert [a["case_id"] for a in some["assignments"]] == [cases[2]["id"]]
    await s.refused("POST", url, 422, json={"time_limit_seconds": 0})
    other_host = await s.case(host=mission["visiting_institution_id"])
    await s.refused("POST", url, 422, "not of a host site of the mission", json={"case_ids": [other_host["id"]]})
    no_surgeon = await s.mission(team=[ANAESTHETIST], starts_on="2030-07-01", ends_on="2030-07-03")
    empty = await s.ok("POST", f"/missions/{no_surgeon['id']}/plan", json={"time_limit_seconds": 1})
    assert empty["status"] == "infeasible" and empty["reasons"] == ["no surgeon on the mission's team"]

    # Apply: one SurgeryScheduled each.
    applied = await s.ok("POST", f"{url}/apply", json={"assignments": plan["assignments"]})
    assert len(applied["scheduled"]) == 3 and applied["rescheduled"] == []
    assert {x["anaesthetist_id"] for x in applied["scheduled"]} == {ANAESTHETIST["practitioner_id"]}, \
        "the plan's anaesthetist is recorded"
    events = await s.wait("SurgeryScheduled", 3)
    assert {e["patient_ref"] for e in events} == {c["patient_ref"] for c in cases}
    assert {(e["scheduled_start"], e["expected_duration_minutes"]) for e in events} == {
        (lines[c["id"]]["scheduled_start"], lines[c["id"]]["expected_duration_minutes"])
        for c in cases}
    assert all([(await s.ok("GET", f"/cases/{c['id']}"))["status"] == "scheduled" for c in cases])

    # All or none: the second assignment collides with a surgery just scheduled.
    late = [await s.case(ready=True, priority=2, expected_duration_minutes=60) for _ in range(2)]
    first = applied["scheduled"][0]
    body = {"assignments": [
        {"case_id": late[0]["id"], "operating_room_id": room["id"], "scheduled_start": "2030-06-14T16:00:00+01:00",
         "lead_surgeon_id": SURGEON["practitioner_id"]},
        {"case_id": late[1]["id"], "operating_room_id": room["id"], "scheduled_start": first["scheduled_start"],
         "lead_surgeon_id": SURGEON["practitioner_id"]},
    ]}
    await s.refused("POST", f"{url}/apply", 409, "already taken", first["id"], json=body)
    # Two new assignments colliding with each other are refused too.
    body["assignments"][1]["scheduled_start"] = "2030-06-14T16:30:00+01:00"
    await s.refused("POST", f"{url}/apply", 409, "already taken", json=body)
    assert all([(await s.ok("GET", f"/cases/{c['id']}"))["status"] == "waiting" for c in late])
    assert len(await s.ok("GET", f"/missions/{mission['id']}/surgeries")) == 3
    await s.settle()
    assert len(s.events("SurgeryScheduled")) == 3


async def test_replanning_after_a_cancellation_moves_as_few_surgeries_as_it_can(programme: Scheduling) -> None:
    s = programme
    room = await s.room()  # 08:00-18:00
    # A 30 min turnover in this room (its specialty's default would be 45).
    room = await s.ok("PATCH", f"/institutions/{CMCI}/operating-rooms/{room['id']}", json={"turnover_minutes": 30})
    assert room["turnover_minutes"] == 30
    mission = await s.mission(starts_on="2030-06-12", ends_on="2030-06-12", team=[SURGEON, ANAESTHETIST])
    # Not cardiac: on a one-day mission the team would leave before any cardiac case's post-operative days.
    a, b, c = [await s.case(ready=True, expected_duration_minutes=m, priority=3, risk_scheme="none", risk_category=None)
               for m in (120, 180, 120)]
    first = await s.surgery(mission, a, room, start="2030-06-12T08:00:00+01:00")  # 08:00-10:00
    await s.surgery(mission, b, room, start="2030-06-12T10:30:00+01:00")  # 10:30-13:30
    last = await s.surgery(mission, c, room, start="2030-06-12T14:30:00+01:00")  # 14:30-16:30
    await s.ok("POST", f"/missions/{mission['id']}/start")
    s.clock.advance(hours=23, minutes=15)  # 2030-06-12 09:15 local
    await s.ok("POST", f"/surgeries/{first['id']}/start")
    # B drops out; D (4 h, most urgent) fits only if C moves to 15:00.
    dropped = (await s.ok("GET", f"/missions/{mission['id']}/surgeries"))[1]
    await s.ok("POST", f"/surgeries/{dropped['id']}/cancel", json={"reason": "Syndrome grippal"})
    await s.ok("POST", f"/cases/{b['id']}/cancel", json={"reason": "Opéré ailleurs"})
    d = await s.case(ready=True, priority=1, expected_duration_minutes=240, risk_scheme="none", risk_category=None)

    url = f"/missions/{mission['id']}/plan"
    plan = await s.ok("POST", url, json={"time_limit_seconds": 2})
    assert plan["status"] == "optimal" and plan["moves"] == 1, (plan["reasons"], plan["unplanned"])
    lines = {x["case_id"]: x for x in plan["assignments"]}
    assert set(lines) == {a["id"], c["id"], d["id"]}
    assert (lines[a["id"]]["change"], lines[a["id"]]["surgery_id"]) == ("fixed", first["id"])
    assert lines[a["id"]]["scheduled_start"] == first["scheduled_start"]
    assert (lines[c["id"]]["change"], lines[c["id"]]["surgery_id"]) == ("moved", last["id"])
    assert lines[c["id"]]["scheduled_start"] >= "2030-06-12T14:00:00Z"  # 15:00 local or later
    assert lines[d["id"]]["change"] == "new"
    assert lines[c["id"]]["moved_minutes"] == plan["moved_minutes"] > 0
    # Pinned by the coordinator (or its day locked), C stays, and D does not fit.
    for pins in ({"pinned_surgery_ids": [last["id"]]}, {"locked_days": ["2030-06-12"]}):
        kept = await s.ok("POST", url, json={"time_limit_seconds": 1, **pins})
        by_case = {x["case_id"]: x for x in kept["assignments"]}
        assert kept["moves"] == 0 and d["id"] not in by_case, pins
        assert (by_case[c["id"]]["change"], by_case[c["id"]]["pinned"]) == ("kept", True)
    await s.refused("POST", url, 422, "not a live surgery", json={"pinned_surgery_ids": [a["id"]]})
    await s.refused("POST", url, 422, "not a day of the mission", json={"locked_days": ["2030-06-13"]})
    await s.settle()
    assert s.events("SurgeryRescheduled") == []

    applied = await s.ok("POST", f"{url}/apply", json={"assignments": plan["assignments"],
                                                       "reason": "Re-planification après désistement"})
    assert [x["case_id"] for x in applied["scheduled"]] == [d["id"]]
    assert [x["id"] for x in applied["rescheduled"]] == [last["id"]]
    (moved,) = await s.wait("SurgeryRescheduled")
    assert moved["surgery_id"] == last["id"] and moved["reason"] == "Re-planification après désistement"
    (new,) = await s.wait("SurgeryScheduled", 1, patient_ref=d["patient_ref"])
    assert new["expected_duration_minutes"] == 240
    # Applying the same plan again changes nothing; a plan for a case no longer waiting is refused.
    assert await s.ok("POST", f"{url}/apply", json={"assignments": plan["assignments"]}) == {
        "scheduled": [], "rescheduled": []}
    await s.refused("POST", f"{url}/apply", 409, "only a waiting case", b["patient_ref"],
                    json={"assignments": [{**lines[d["id"]], "case_id": b["id"], "surgery_id": None}]})
    again = await s.ok("POST", url, json={"time_limit_seconds": 1})
    assert again["moves"] == 0 and {x["change"] for x in again["assignments"]} <= {"fixed", "kept"}


async def test_the_plan_holds_the_anaesthetist_of_a_surgery_under_way(programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    await s.room(name="Bloc A - salle 1")  # free all day
    mission = await s.mission(starts_on="2030-06-12", ends_on="2030-06-12", team=[SURGEON, SURGEON_2, ANAESTHETIST])
    under_way = await s.case(ready=True, expected_duration_minutes=240, risk_scheme="none", risk_category=None)
    surgery = await s.surgery(mission, under_way, room, start="2030-06-12T08:00:00+01:00",  # 08:00-12:00
                              anaesthetist_id=ANAESTHETIST["practitioner_id"])
    await s.ok("POST", f"/missions/{mission['id']}/start")
    s.clock.advance(hours=23, minutes=15)  # 2030-06-12 09:15 local
    await s.ok("POST", f"/surgeries/{surgery['id']}/start")
    new = await s.case(ready=True, expected_duration_minutes=120, priority=1, risk_scheme="none", risk_category=None)

    url = f"/missions/{mission['id']}/plan"
    plan = await s.ok("POST", url, json={"time_limit_seconds": 2})
    lines = {x["case_id"]: x for x in plan["assignments"]}
    assert lines[under_way["id"]]["change"] == "fixed"
    assert lines[under_way["id"]]["anaesthetist_id"] == ANAESTHETIST["practitioner_id"]
    # The other room and the other surgeon are free at 09:30, the only anaesthetist is not.
    assert lines[new["id"]]["anaesthetist_id"] == ANAESTHETIST["practitioner_id"]
    assert lines[new["id"]]["scheduled_start"] >= "2030-06-12T11:30:00Z", "after 12:00 and the turnover, local"
    applied = await s.ok("POST", f"{url}/apply", json={"assignments": plan["assignments"]})
    assert [x["case_id"] for x in applied["scheduled"]] == [new["id"]]


async def test_applying_a_plan_edited_by_hand_cannot_overbook_intensive_care(programme: Scheduling) -> None:
    s = programme
    await s.ok("PUT", f"/institutions/{CMCI}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 1})
    await s.room()  # 08:00-18:00, the plan's only room
    mission = await s.mission(team=[SURGEON, SURGEON_2, ANAESTHETIST])  # 2030-06-10 to 14
    a, b = [await s.case(ready=True, expected_duration_minutes=120) for _ in range(2)]  # RACHS-1 3: a bed for 3 days
    url = f"/missions/{mission['id']}/plan"
    # By default the team stays 2 days after a RACHS-1 3 case: by 2030-06-12, and the one bed is
    # held until the 14th by the first.
    default = await s.ok("POST", url, json={"time_limit_seconds": 2})
    assert len(default["assignments"]) == 1 and "before the team leaves" in default["unplanned"][0]["reason"]
    await s.refused("POST", url, 422, "RACHS-1 9", json={"post_operative_days": [{"risk": "RACHS-1 9", "days": 1}]})
    await s.refused("POST", url, 422, "30", json={"post_operative_days": [{"risk": "STAT 2", "days": 31}]})
    plan = await s.ok("POST", url, json={"time_limit_seconds": 2,
                                         "post_operative_days": [{"risk": "RACHS-1 3", "days": 0}]})
    starts = sorted(x["scheduled_start"][:10] for x in plan["assignments"])
    assert len(starts) == 2 and starts[0] < starts[1], "the optimiser spreads the two over the one bed"

    # The same two, edited to the same day: the second patient would find no bed.
    same_day = [{**x, "scheduled_start": start} for x, start in
                zip(plan["assignments"], ["2030-06-12T08:00:00+01:00", "2030-06-12T11:00:00+01:00"])]
    await s.refused("POST", f"{url}/apply", 409, "no intensive-care bed free on 2030-06-12",
                    json={"assignments": same_day})
    assert await s.ok("GET", f"/missions/{mission['id']}/surgeries") == []
    assert {(await s.ok("GET", f"/cases/{c['id']}"))["status"] for c in (a, b)} == {"waiting"}
    applied = await s.ok("POST", f"{url}/apply", json={"assignments": plan["assignments"]})
    assert len(applied["scheduled"]) == 2
