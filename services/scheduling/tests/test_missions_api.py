"""Missions over HTTP and the real broker, on SQLite and PostgreSQL: scheduling
under the convention's rules, the practitioner overlap rule (also under
concurrent requests), the lifecycle with its events, and the team."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from scheduling_testkit import (
    ANAESTHETIST, CMCI, CNAS, CONVENTION, GSD, PERFUSIONIST, SPECIALTY, SURGEON, SURGEON_2, TIARET, Scheduling, signed,
)

NURSE = {"practitioner_id": "7b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d", "full_name": "Sara Ricci", "role": "nurse"}


async def test_schedule_a_mission_publishes_mission_scheduled(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission(specialty="  chirurgie cardiaque PÉDIATRIQUE ")
    assert mission["status"] == "scheduled"
    assert mission["specialty"] == SPECIALTY, "the convention's spelling"
    assert [m["full_name"] for m in mission["team"]] == ["Marco Bellini", "Giulia Ferraro", "Luca Moretti"]
    assert await s.ok("GET", f"/missions/{mission['id']}") == mission

    (event,) = await s.wait("MissionScheduled")
    assert event == {
        "mission_id": mission["id"], "convention_id": str(CONVENTION), "host_institution_id": str(CMCI),
        "visiting_institution_id": str(GSD), "specialty": SPECIALTY, "starts_on": "2030-06-10",
        "ends_on": "2030-06-14", "team": [
            {**m, "home_institution_id": str(GSD), "arrives_on": None, "leaves_on": None}
            for m in (SURGEON, ANAESTHETIST, PERFUSIONIST)],
        # The host is the only site, on every day (the event names it all the same).
        "sites": [{"institution_id": str(CMCI), "starts_on": "2030-06-10", "ends_on": "2030-06-14"}],
    }
    (envelope,) = s.tap.of_type("MissionScheduled")
    assert envelope["subject"] == f"missions/{mission['id']}"
    assert envelope["source"] == "/services/scheduling"

    listed = await s.ok("GET", "/missions", params={"convention_id": str(CONVENTION), "status": "scheduled"})
    assert [m["id"] for m in listed] == [mission["id"]]
    # Another host's missions are not this coordinator's to list: refused, not an empty list.
    await s.refused("GET", "/missions", 403, f"hosted by institution {TIARET}",
                    params={"host_institution_id": str(TIARET)})


BAD_MISSIONS: list[tuple[dict[str, Any], str, str]] = [
    ({"specialty": "Orthopédie"}, "specialty", "not covered by convention CNAS-GSD-2030-01"),
    ({"starts_on": "2030-01-20"}, "starts_on", "before convention CNAS-GSD-2030-01 is in effect"),
    ({"ends_on": "2031-02-03"}, "ends_on", "after convention CNAS-GSD-2030-01 ends"),
    ({"host_institution_id": str(CNAS)}, "host_institution_id", "not a beneficiary"),
    ({"visiting_institution_id": str(CMCI)}, "visiting_institution_id", "not a provider"),
    ({"ends_on": "2030-06-01"}, "ends_on", "before it starts"),
    ({"team": [SURGEON, SURGEON]}, "team.1.practitioner_id", "listed twice"),
    ({"team": []}, "team", ""),
    ({"team": [{**SURGEON, "role": "plumber"}]}, "team.0.role", ""),
    ({"team": [{**SURGEON, "full_name": ""}]}, "team.0.full_name", ""),
    ({"starts_on": "10/06/2030"}, "starts_on", ""),
    ({"convention_id": "CNAS-GSD-2030-01"}, "convention_id", ""),
    ({"budget": 12}, "budget", ""),
]


async def test_a_mission_that_does_not_fit_is_422_naming_the_field(programme: Scheduling) -> None:
    for over, field, needle in BAD_MISSIONS:
        body = programme.mission_body(**over)
        with programme.client.auth.acting("coordinator", institution=body["host_institution_id"]):
            detail = await programme.refused("POST", "/missions", 422, needle, json=body)
        assert field.split(".") in [[str(p) for p in e["loc"][1:]] for e in detail], (over, detail)
    assert await programme.ok("GET", "/missions") == []
    body = programme.mission_body()
    del body["team"]
    detail = await programme.refused("POST", "/missions", 422, json=body)
    assert ["body", "team"] in [e["loc"] for e in detail]
    unknown = uuid.uuid4()
    await programme.refused("POST", "/missions", 404, f"no convention {unknown} known here",
                            json=programme.mission_body(convention_id=str(unknown)))


async def test_a_practitioner_cannot_be_on_two_overlapping_missions(programme: Scheduling) -> None:
    s = programme
    first = await s.mission()
    # Overlaps by one day (the 14th), with the anaesthetist in common.
    detail = await s.refused(
        "POST", "/missions", 409, "Giulia Ferraro", ANAESTHETIST["practitioner_id"], first["id"],
        json=s.mission_body(starts_on="2030-06-14", ends_on="2030-06-18", team=[SURGEON_2, ANAESTHETIST]))
    assert "2030-06-10 to 2030-06-14" in detail
    # The day after, or without anyone in common, is fine.
    second = await s.mission(starts_on="2030-06-15", ends_on="2030-06-18", team=[SURGEON_2, ANAESTHETIST])
    await s.mission(team=[NURSE])
    await s.wait("MissionScheduled", 3)
    await s.settle()
    assert len(s.events("MissionScheduled")) == 3
    # Rescheduling keeps the rule; a mission moved within its own dates does not collide with itself.
    await s.refused("POST", f"/missions/{second['id']}/reschedule", 409, "Giulia Ferraro", first["id"],
                    json={"starts_on": "2030-06-12", "ends_on": "2030-06-16", "reason": "earlier"})
    assert (await s.ok("GET", f"/missions/{second['id']}"))["starts_on"] == "2030-06-15"
    await s.ok("POST", f"/missions/{first['id']}/reschedule",
               json={"starts_on": "2030-06-09", "ends_on": "2030-06-13", "reason": "one day earlier"})
    assert len(await s.wait("MissionRescheduled")) == 1


async def test_concurrent_requests_cannot_both_book_the_same_practitioner(programme: Scheduling) -> None:
    s = programme
    # Two conventions, so the requests do not queue on one convention's row: only the
    # practitioner's own lock (PostgreSQL) or the write lock (SQLite) keeps them apart.
    second = uuid.uuid4()
    await s.deliver(signed(convention_id=second, reference="CNAS-GSD-2030-02"))
    bodies = [s.mission_body(convention_id=str(c), team=[SURGEON, {**NURSE, "practitioner_id": str(uuid.uuid4())}])
              for c in (CONVENTION, second, CONVENTION, second)]
    responses = await asyncio.gather(*(s.client.post("/missions", json=b) for b in bodies))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409], [r.text for r in responses]
    assert all("Marco Bellini" in r.json()["detail"] for r in responses if r.status_code == 409)
    await s.settle()
    assert len(s.events("MissionScheduled")) == 1


async def test_lifecycle_and_illegal_transitions(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    url = f"/missions/{mission['id']}"
    await s.refused("POST", f"{url}/complete", 409, "it is scheduled")

    moved = await s.ok("POST", f"{url}/reschedule", json={"starts_on": "2030-06-17", "ends_on": "2030-06-21",
                                                          "reason": "Bloc B en maintenance"})
    assert (moved["starts_on"], moved["ends_on"]) == ("2030-06-17", "2030-06-21")
    (event,) = await s.wait("MissionRescheduled")
    assert event == {"mission_id": mission["id"], "starts_on": "2030-06-17", "ends_on": "2030-06-21",
                     "reason": "Bloc B en maintenance",
                     "sites": [{"institution_id": str(CMCI), "starts_on": "2030-06-17", "ends_on": "2030-06-21"}]}
    detail = await s.refused("POST", f"{url}/reschedule", 422, "after convention",
                             json={"starts_on": "2031-01-30", "ends_on": "2031-02-02", "reason": "later"})
    assert detail[0]["loc"] == ["body", "ends_on"]
    await s.refused("POST", f"{url}/reschedule", 422, json={"starts_on": "2030-06-17", "ends_on": "2030-06-21"})

    started = await s.ok("POST", f"{url}/start")
    assert started["status"] == "started"
    assert await s.wait("MissionStarted") == [{"mission_id": mission["id"], "convention_id": str(CONVENTION)}]
    for action, body in [("start", None), ("cancel", {"reason": "x"}),
                         ("reschedule", {"starts_on": "2030-07-01", "ends_on": "2030-07-02", "reason": "x"})]:
        await s.refused("POST", f"{url}/{action}", 409, "it is started", json=body)

    done = await s.ok("POST", f"{url}/complete")
    assert done["status"] == "completed"
    assert done["totals"] == {"surgeries": 0, "consultations": 0, "training_sessions": 0}
    assert await s.wait("MissionCompleted") == [{
        "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "totals": {"surgeries": 0, "consultations": 0, "training_sessions": 0},
    }]
    await s.refused("POST", f"{url}/complete", 409, "it is completed")
    await s.refused("POST", f"/missions/{uuid.uuid4()}/start", 404, "no mission")

    # Cancelling one not yet started; a cancelled mission holds nobody, so the same team can go again.
    other = await s.mission(starts_on="2030-07-01", ends_on="2030-07-04")
    await s.refused("POST", f"/missions/{other['id']}/cancel", 422, json={"reason": ""})
    cancelled = await s.ok("POST", f"/missions/{other['id']}/cancel", json={"reason": "Visas non délivrés"})
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "Visas non délivrés")
    assert await s.wait("MissionCancelled") == [{"mission_id": other["id"], "reason": "Visas non délivrés"}]
    await s.refused("POST", f"/missions/{other['id']}/start", 409, "it is cancelled")
    await s.mission(starts_on="2030-07-01", ends_on="2030-07-04")


async def test_team_changes_before_start_with_the_overlap_rule(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    other = await s.mission(starts_on="2030-06-12", ends_on="2030-06-13", team=[NURSE])
    url = f"/missions/{mission['id']}/team"
    await s.refused("POST", url, 409, "Sara Ricci", other["id"], json=NURSE)
    await s.refused("POST", url, 409, "already on the team", json=SURGEON)
    await s.refused("POST", url, 422, json={**SURGEON_2, "role": "chef"})
    grown = await s.ok("POST", url, 201, json=SURGEON_2)
    assert [m["full_name"] for m in grown["team"]][-1] == "Paola Conti"
    shrunk = await s.ok("DELETE", f"{url}/{PERFUSIONIST['practitioner_id']}")
    assert PERFUSIONIST["practitioner_id"] not in [m["practitioner_id"] for m in shrunk["team"]]
    await s.refused("DELETE", f"{url}/{PERFUSIONIST['practitioner_id']}", 404, "not on the team")
    assert (await s.ok("GET", f"/missions/{mission['id']}"))["team"] == shrunk["team"]
    # The perfusionist is free again for those dates.
    await s.mission(team=[PERFUSIONIST])
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.refused("POST", url, 409, "it is started", json=NURSE)
    await s.refused("DELETE", f"{url}/{SURGEON_2['practitioner_id']}", 409, "it is started")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)  # SQLite: BEGIN IMMEDIATE, no named locks
async def test_a_teams_locks_are_all_held_until_commit(service: Scheduling) -> None:
    """``lock`` takes every name in one statement (PostgreSQL advisory locks); while
    the transaction is open, another connection can take none of them."""
    from sqlalchemy import text

    from scheduling.store.unit_of_work import SchedulingUnitOfWork

    runtime = service.client.runtime  # type: ignore[attr-defined]
    assert runtime.engine.dialect.name == "postgresql"
    names = ["practitioner:c", "practitioner:a", "practitioner:b", "practitioner:a"]
    free = text("SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), hashtext(:name))")
    async with SchedulingUnitOfWork(runtime.sessions) as uow:
        await uow.lock(*names)
        async with runtime.sessions() as other, other.begin():
            taken = [(await other.execute(free, {"name": n})).scalar_one() for n in sorted(set(names))]
            assert taken == [False, False, False], "every name is held by the open transaction"
    async with runtime.sessions() as other, other.begin():  # rolled back: all released
        assert [(await other.execute(free, {"name": n})).scalar_one() for n in set(names)] == [True] * 3
