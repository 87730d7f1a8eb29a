"""Turnover per operating room, with a default per specialty (issue 19), over HTTP and the real
broker, on SQLite and PostgreSQL: the host sets it on its rooms, and the plan optimiser and every
booking by hand use the one rule (``domain.surgeries.turnover_minutes``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduling_testkit import ANAESTHETIST, CMCI, SURGEON, SURGEON_2, Scheduling

from scheduling.domain.resources import default_turnover


def test_the_default_turnover_follows_the_specialty() -> None:
    assert default_turnover("Chirurgie cardiaque pédiatrique") == 45
    assert default_turnover("paediatric cardiac surgery") == 45
    assert default_turnover("Chirurgie orthopédique") == 40
    assert default_turnover("Chirurgie générale") == 30


async def test_rooms_set_their_turnover_and_both_the_plan_and_a_booking_keep_it(programme: Scheduling) -> None:
    s = programme
    url = f"/institutions/{CMCI}/operating-rooms"
    slow = await s.ok("POST", url, 201, json={"name": "Bloc A", "opens_at": "08:00", "closes_at": "18:00",
                                              "turnover_minutes": 60})
    usual = await s.room()  # no turnover of its own: the mission's specialty's (cardiac surgery: 45 min)
    assert (slow["turnover_minutes"], usual["turnover_minutes"]) == (60, None)
    detail = await s.refused("POST", url, 422, json={"name": "Bloc C", "opens_at": "08:00", "closes_at": "18:00",
                                                     "turnover_minutes": 241})
    assert ["body", "turnover_minutes"] in [e["loc"] for e in detail]

    mission = await s.mission(starts_on="2030-06-12", ends_on="2030-06-12", team=[SURGEON, SURGEON_2, ANAESTHETIST])
    for _ in range(4):
        await s.case(ready=True, expected_duration_minutes=150, risk_scheme="none", risk_category=None)
    plan = await s.ok("POST", f"/missions/{mission['id']}/plan", json={"time_limit_seconds": 2})
    assert plan["room_turnover_minutes"] == {slow["id"]: 60, usual["id"]: 45}
    by_room: dict[str, list[tuple[str, str]]] = {}
    for a in plan["assignments"]:
        by_room.setdefault(a["operating_room_id"], []).append((a["scheduled_start"], a["scheduled_end"]))
    for room_id, spans in by_room.items():
        spans.sort()
        gap = timedelta(minutes=plan["room_turnover_minutes"][room_id])
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert datetime.fromisoformat(start) - datetime.fromisoformat(end) >= gap, (room_id, spans)
    # What the plan proposes, a booking accepts: the same rule.
    applied = await s.ok("POST", f"/missions/{mission['id']}/plan/apply", json={"assignments": plan["assignments"]})
    assert len(applied["scheduled"]) == len(plan["assignments"])

    # By hand, in the slow room: 60 min after a surgery, not 59.
    other = await s.mission(starts_on="2030-06-13", ends_on="2030-06-13", team=[SURGEON_2])
    first = await s.surgery(other, await s.case(), slow, start="2030-06-13T08:00:00+01:00", surgeon=SURGEON_2)
    r = await s.surgery(other, await s.case(), slow, start="2030-06-13T12:59:00+01:00", surgeon=SURGEON_2, status=409)
    assert "'Bloc A' needs 60 min between two surgeries (its turnover)" in r.json()["detail"]
    assert first["id"] in r.json()["detail"]
    # Back to the specialty's default (null), the room needs 45 min.
    back = await s.ok("PATCH", f"{url}/{slow['id']}", json={"turnover_minutes": None})
    assert back["turnover_minutes"] is None
    await s.surgery(other, await s.case(), slow, start="2030-06-13T12:45:00+01:00", surgeon=SURGEON_2)
