"""The surgery plan optimiser on small instances whose optimum is known by hand, the
explanations of what cannot be planned, re-planning with few moves, and every
constraint checked on a generated instance (CP-SAT and the greedy baseline). Pure."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict

import pytest
from plan_checker import check_plan, exact_optimum

from scheduling.adapters import optimiser
from scheduling.adapters.optimiser import (
    ICU_DAYS,
    Blocked,
    Booking,
    Case,
    Plan,
    PlanRequest,
    PlanStatus,
    Room,
)


def solve(req: PlanRequest) -> Plan:
    """The optimiser, every plan checked by the independent checker."""
    plan = optimiser.solve(req)
    check_plan(plan, req)
    return plan


def greedy(req: PlanRequest) -> Plan:
    plan = optimiser.greedy(req)
    check_plan(plan, req)
    return plan

ROOM = Room("r1", "Bloc B", 8 * 60, 16 * 60)  # 8 hours


def request(cases: list[Case], **over: object) -> PlanRequest:
    values: dict[str, object] = dict(days=1, rooms=[ROOM], surgeons=["s1"], anaesthetists=["a1"], cases=cases,
                                     time_limit_seconds=2.0)
    values.update(over)
    return PlanRequest(**values)  # type: ignore[arg-type]


def chosen(plan: Plan) -> set[object]:
    return {a.case_id for a in plan.assignments}


def test_one_room_one_day_takes_the_best_subset() -> None:
    # 3 h + 3 h + 4 h do not fit in 8 h; any two do (with the 30 min turnover).
    cases = [Case("a", "P-A", 2, 180), Case("b", "P-B", 3, 180), Case("c", "P-C", 1, 240)]
    plan = solve(request(cases))
    assert plan.status is PlanStatus.optimal and plan.optimal
    assert chosen(plan) == {"c", "a"} and plan.objective == 16 + 8 == plan.bound
    # Longer case first in the day; a turnover between the two.
    first, second = plan.assignments
    assert (first.case_id, first.start_minute, second.start_minute) == ("c", 8 * 60, 8 * 60 + 240 + 30)
    (left,) = plan.unplanned
    assert left.case_id == "b" and "did not fit" in left.reason and "P-B" in left.reason
    assert plan.solve_seconds < 2.5


def test_the_turnover_is_kept_between_cases() -> None:
    cases = [Case("a", "P-A", 1, 240), Case("b", "P-B", 1, 240)]
    assert len(solve(request(cases)).assignments) == 1
    assert len(solve(request(cases, turnover_minutes=0)).assignments) == 2


def test_intensive_care_beds_force_a_choice() -> None:
    # One bed, two days. C (RACHS-1 3) holds it 3 days, A and B (RACHS-1 1) one day each.
    cases = [Case("a", "P-A", 3, 120, "RACHS-1", 1), Case("b", "P-B", 3, 120, "RACHS-1", 1),
             Case("c", "P-C", 1, 120, "RACHS-1", 3)]
    # (The team's stay is not the question here: no post-operative days with it.)
    plan = solve(request(cases, days=2, icu_beds=1, post_operative_days={}))
    assert plan.optimal and plan.objective == 16 + 4
    by_case = {a.case_id: a for a in plan.assignments}
    assert set(by_case) <= {"a", "b", "c"} and "c" in by_case and len(by_case) == 2
    assert by_case["c"].day == 1 and by_case["c"].icu_days == 3  # the other one on day 0, before it
    # Without the constraint, all three on the first day... in two rooms' worth of time? One room of 8 h: yes.
    assert len(solve(request(cases, days=2, post_operative_days={})).assignments) == 3
    # No bed at all: cardiac cases cannot be operated, and the reason says so.
    none = solve(request(cases + [Case("d", "P-D", 5, 60)], icu_beds=0))
    assert chosen(none) == {"d"}
    assert any("P-C" in u.reason and "intensive-care bed" in u.reason for u in none.unplanned)


def test_icu_days_table() -> None:
    assert [ICU_DAYS["STAT", c] for c in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [ICU_DAYS["RACHS-1", c] for c in range(1, 7)] == [1, 2, 3, 4, 5, 5]
    assert ICU_DAYS["none", None] == 0


def test_a_surgeons_daily_maximum() -> None:
    room = Room("r1", "Bloc B", 8 * 60, 18 * 60)
    cases = [Case("a", "P-A", 1, 180), Case("b", "P-B", 2, 180), Case("c", "P-C", 3, 120)]
    plan = solve(request(cases, rooms=[room], max_daily_minutes_per_surgeon=300))
    assert plan.optimal and chosen(plan) == {"a", "c"}  # 3 h + 3 h would be 6 h > 5 h
    both = solve(request(cases, rooms=[room], surgeons=["s1", "s2"], max_daily_minutes_per_surgeon=300))
    assert chosen(both) == {"a", "b", "c"}
    assert {a.surgeon_id for a in both.assignments} == {"s1", "s2"}


def test_one_anaesthetist_cannot_be_in_two_rooms() -> None:
    rooms = [ROOM, Room("r2", "Bloc A", 8 * 60, 16 * 60)]
    cases = [Case(x, f"P-{x}", 2, 210) for x in "abcd"]
    assert len(solve(request(cases, rooms=rooms, surgeons=["s1", "s2"])).assignments) == 2
    assert len(solve(request(cases, rooms=rooms, surgeons=["s1", "s2"], anaesthetists=["a1", "a2"])).assignments) == 4


def test_what_cannot_be_planned_is_explained() -> None:
    too_long = Case("x", "P-X", 1, 9 * 60)
    plan = solve(request([too_long, Case("a", "P-A", 2, 60)]))
    assert chosen(plan) == {"a"}
    (u,) = plan.unplanned
    assert u.case_id == "x" and "P-X lasts 540 min, longer than any room's day" in u.reason and "'Bloc B'" in u.reason

    plan = solve(request([Case("a", "P-A", 2, 60)], surgeons=[]))
    assert plan.status is PlanStatus.infeasible and plan.reasons == ["no surgeon on the mission's team"]
    assert plan.unplanned[0].reason == "no surgeon on the mission's team"
    assert "no anaesthetist" in solve(request([Case("a", "P-A", 2, 60)], anaesthetists=[])).reasons[0]
    assert "no operating room" in solve(request([Case("a", "P-A", 2, 60)], rooms=[])).reasons[0]

    empty = solve(request([]))
    assert (empty.status, empty.assignments, empty.reasons) == (PlanStatus.empty, [], ["no waiting case to plan"])
    longer_than_a_surgeon = solve(request([Case("a", "P-A", 2, 300)], max_daily_minutes_per_surgeon=240))
    assert longer_than_a_surgeon.status is PlanStatus.empty
    assert "more than a surgeon's daily maximum (240 min)" in longer_than_a_surgeon.unplanned[0].reason


def test_replanning_keeps_fixed_surgeries_and_moves_as_few_as_it_can() -> None:
    room = Room("r1", "Bloc B", 8 * 60, 18 * 60)
    x = Booking(Case("x", "P-X", 3, 180), "sx", 0, "r1", 8 * 60, "s1", fixed=True)  # started
    y = Booking(Case("y", "P-Y", 3, 180), "sy", 0, "r1", 13 * 60, "s1")
    # Free: 11:30-13:00 and 16:30-18:00. A 2 h case fits only if Y moves up to 11:30.
    z = Case("z", "P-Z", 1, 120)
    plan = solve(request([z], rooms=[room], bookings=[x, y], max_daily_minutes_per_surgeon=600))
    assert plan.optimal and plan.moves == 1
    by_case = {a.case_id: a for a in plan.assignments}
    assert set(by_case) == {"x", "y", "z"}
    assert by_case["x"].fixed and by_case["x"].start_minute == 8 * 60 and not by_case["x"].moved
    # The size of the move counts (issue 20): Y moves by 30 minutes (to 12:30, Z after it at 16:00),
    # not by 90 (to 11:30).
    assert by_case["y"].moved and by_case["y"].start_minute == 12 * 60 + 30 and by_case["y"].surgery_id == "sy"
    assert by_case["y"].moved_minutes == 30 and plan.moved_minutes == 30
    assert by_case["z"].start_minute == 16 * 60

    # Room enough without moving: nothing moves.
    small = Case("w", "P-W", 1, 60)
    plan = solve(request([small], rooms=[room], bookings=[x, y], max_daily_minutes_per_surgeon=600))
    assert plan.moves == 0 and {a.case_id for a in plan.assignments} == {"x", "y", "w"}
    assert not any(a.moved for a in plan.assignments)


def test_nothing_starts_before_the_earliest_instant() -> None:
    cases = [Case("a", "P-A", 1, 120)]
    plan = solve(request(cases, days=2, earliest=(0, 15 * 60)))
    (a,) = plan.assignments
    assert a.day == 1 and a.start_minute == 8 * 60


def check(plan: Plan, req: PlanRequest) -> None:
    """Every hard constraint, independently of the model (``plan_checker``)."""
    check_plan(plan, req)


def test_a_generated_mission_respects_every_constraint_and_beats_greedy() -> None:
    rng = random.Random(7)
    cases = []
    for i in range(24):
        category = rng.randint(1, 6)
        cases.append(Case(f"c{i}", f"P-{i}", rng.randint(1, 5), rng.choice([120, 150, 180, 240, 300, 360]),
                          "RACHS-1", category))
    req = PlanRequest(days=3, rooms=[Room("r1", "A", 8 * 60, 18 * 60), Room("r2", "B", 8 * 60, 17 * 60)],
                      surgeons=["s1", "s2"], anaesthetists=["a1", "a2"], cases=cases, icu_beds=3,
                      time_limit_seconds=2.0)
    plan, base = solve(req), greedy(req)
    check(plan, req)
    check(base, req)
    assert plan.objective >= base.objective and plan.objective <= plan.bound
    assert {a.case_id for a in plan.assignments}.isdisjoint({u.case_id for u in plan.unplanned})
    assert len(plan.assignments) + len(plan.unplanned) == len(cases)


def test_fixed_surgeries_booked_back_to_back_by_hand_stay_legal() -> None:
    room = Room("r1", "Bloc B", 8 * 60, 18 * 60)
    x = Booking(Case("x", "P-X", 3, 120, "RACHS-1", 2), "sx", 0, "r1", 8 * 60, "s1", fixed=True)
    y = Booking(Case("y", "P-Y", 3, 120, "RACHS-1", 2), "sy", 0, "r1", 10 * 60, "s1", fixed=True)  # no turnover
    plan = solve(request([Case("z", "P-Z", 1, 120, "RACHS-1", 1)], rooms=[room], bookings=[x, y], icu_beds=2))
    assert plan.optimal and plan.moves == 0
    # Both beds are held by X and Y on day 0: Z waits for day 1... which this one-day mission has not.
    assert chosen(plan) == {"x", "y"} and plan.unplanned[0].case_id == "z"
    plan = solve(request([Case("z", "P-Z", 1, 120)], rooms=[room], bookings=[x, y], icu_beds=2))
    assert chosen(plan) == {"x", "y", "z"} and {a.start_minute for a in plan.assignments} >= {8 * 60, 10 * 60}


def test_an_anaesthetist_recorded_on_a_surgery_is_busy_there_and_stays_with_it() -> None:
    rooms = [ROOM, Room("r2", "Bloc A", 8 * 60, 16 * 60)]
    # A started surgery in Bloc B, 8:00-12:00, with the team's only anaesthetist.
    started = Booking(Case("x", "P-X", 3, 240), "sx", 0, "r1", 8 * 60, "s1", fixed=True, anaesthetist_id="a1")
    new = Case("z", "P-Z", 1, 120)
    for plan in (solve(request([new], rooms=rooms, surgeons=["s1", "s2"], bookings=[started])),
                 greedy(request([new], rooms=rooms, surgeons=["s1", "s2"], bookings=[started]))):
        by_case = {a.case_id: a for a in plan.assignments}
        assert by_case["x"].anaesthetist_id == "a1"
        # Bloc A is free at 8:00, but a1 is not until 12:00 and the turnover.
        assert by_case["z"].anaesthetist_id == "a1" and by_case["z"].start_minute >= 12 * 60 + 30, plan.solver
    # A scheduled (movable) surgery keeps the anaesthetist recorded on it, even where another is free.
    booked = Booking(Case("y", "P-Y", 3, 120), "sy", 0, "r1", 8 * 60, "s1", anaesthetist_id="a2")
    for plan in (solve(request([new], bookings=[booked], anaesthetists=["a1", "a2"])),
                 greedy(request([new], bookings=[booked], anaesthetists=["a1", "a2"]))):
        by_case = {a.case_id: a for a in plan.assignments}
        assert by_case["y"].anaesthetist_id == "a2" and set(by_case) == {"y", "z"}, plan.solver


# -- every claim true (issue 20) -----------------------------------------------------------------


def test_a_solver_that_finds_nothing_leaves_a_heuristic_plan_with_a_real_bound(monkeypatch) -> None:
    from ortools.sat.python import cp_model

    cases = [Case(f"c{i}", f"P-{i}", 1 + i % 5, 180) for i in range(6)]  # 6 x 3.5 h in one 8-hour room
    # The solve stops before a first solution (what a 0.2 s limit does to a 60-case cardiac mission).
    monkeypatch.setattr(cp_model.CpSolver, "solve", lambda self, model, *a, **k: cp_model.UNKNOWN)
    plan = solve(request(cases))
    assert plan.solver == "greedy" and plan.status is PlanStatus.heuristic and not plan.optimal
    # The bound is a real one (every case operated), not the solver's empty 0.
    assert plan.bound == sum({1: 16, 2: 8, 3: 4, 4: 2, 5: 1}[c.priority] for c in cases) > plan.objective > 0
    assert plan.gap > 0
    assert any("no bound" in r or "heuristic" in r for r in plan.reasons), plan.reasons


def test_the_dominance_filter_counts_real_minutes_against_the_daily_maximum() -> None:
    # Turnover 0, a 10-hour room, a 300-minute daily maximum: 20- and 25-minute cases fill one grid
    # slot each, but the surgeon's minutes are real: 10 x 20 + 4 x 25 = 300, 14 cases.
    cases = ([Case(f"z{i}", f"P-Z{i}", 3, 20) for i in range(10)] +
             [Case(f"b{i}", f"P-B{i}", 3, 25) for i in range(20)])
    req = request(cases, rooms=[Room("r1", "Bloc B", 8 * 60, 18 * 60)], turnover_minutes=0,
                  max_daily_minutes_per_surgeon=300)
    plan = solve(req)
    check(plan, req)
    assert len(plan.assignments) == 14 and plan.objective == 14 * 4
    assert plan.status is PlanStatus.optimal and plan.bound == plan.objective


def test_the_practitioners_day_spans_rooms_that_open_at_different_hours() -> None:
    # One surgeon: 07:00-11:30 in the morning room, 12:00-16:30 in the afternoon room.
    rooms = [Room("am", "Bloc A", 7 * 60, 13 * 60), Room("pm", "Bloc B", 12 * 60, 18 * 60)]
    cases = [Case(f"c{i}", f"P-{i}", 2, 120) for i in range(5)]
    req = request(cases, rooms=rooms, max_daily_minutes_per_surgeon=600)
    plan = solve(req)
    check(plan, req)
    assert len(plan.assignments) == 4 and plan.status is PlanStatus.optimal and plan.bound == 4 * 8
    assert plan.solver == "cp-sat"


def test_a_surgery_booked_off_the_grid_is_modelled_at_its_real_times() -> None:
    # Booked by hand at 08:10 for 60 min: the room is free from 09:40 (30 min of turnover), and
    # the next 60-minute case ends exactly at closing.
    room = Room("r1", "Bloc B", 8 * 60, 10 * 60 + 40)
    booked = Booking(Case("x", "P-X", 3, 60), "sx", 0, "r1", 8 * 60 + 10, "s1", fixed=True)
    for plan in (solve(request([Case("z", "P-Z", 1, 60)], rooms=[room], bookings=[booked])),
                 greedy(request([Case("z", "P-Z", 1, 60)], rooms=[room], bookings=[booked]))):
        by_case = {a.case_id: a for a in plan.assignments}
        assert by_case["x"].start_minute == 8 * 60 + 10
        assert by_case["z"].start_minute == 9 * 60 + 40, (plan.solver, by_case["z"])
    # Movable and off the grid: it stays at 08:10 (not "moved" to 08:00 or 08:15).
    movable = Booking(Case("x", "P-X", 3, 60), "sx", 0, "r1", 8 * 60 + 10, "s1")
    plan = solve(request([Case("z", "P-Z", 1, 60)], rooms=[room], bookings=[movable]))
    assert plan.moves == 0 and {a.case_id: a.start_minute for a in plan.assignments}["x"] == 8 * 60 + 10


# -- property tests: an independent exact model and the checker (issue 20, 5) ----------------------


def random_instance(rng: random.Random, *, limit: float = 5.0) -> PlanRequest:
    rooms = []
    for i in range(rng.randint(1, 2)):
        opens = rng.choice([7 * 60, 8 * 60, 12 * 60])
        rooms.append(Room(f"r{i}", f"Bloc {i}", opens, opens + rng.choice([4, 5, 6]) * 60))
    cases = []
    for i in range(rng.randint(3, 7)):
        scheme = rng.choice(["none", "none", "RACHS-1", "STAT"])
        category = None if scheme == "none" else rng.randint(1, 3)
        cases.append(Case(f"c{i}", f"P-{i}", rng.randint(1, 5), rng.choice([30, 45, 60, 90, 120, 180]),
                          scheme, category))
    return PlanRequest(days=rng.randint(1, 2), rooms=rooms, surgeons=[f"s{i}" for i in range(rng.randint(1, 2))],
                       anaesthetists=[f"a{i}" for i in range(rng.randint(1, 2))], cases=cases,
                       icu_beds=rng.choice([None, 1, 2]), turnover_minutes=rng.choice([0, 15, 30]),
                       max_daily_minutes_per_surgeon=rng.choice([120, 240, 480]), time_limit_seconds=limit)


@pytest.mark.parametrize("seed", range(16))
def test_on_random_small_instances_an_exact_model_agrees_with_the_proven_optimum(seed: int) -> None:
    req = random_instance(random.Random(seed))
    plan, base = solve(req), greedy(req)  # both checked
    best = exact_optimum(req)
    assert base.objective <= plan.objective <= best <= plan.bound, (plan.status, plan.objective, best, plan.bound)
    assert plan.optimal and plan.objective == best, (plan.status, plan.objective, best)


@pytest.mark.parametrize("seed", range(16))
def test_decomposed_by_day_the_bound_holds_and_an_optimal_plan_is_optimal(seed: int) -> None:
    """The decomposition of large programmes (an assignment relaxation, then the full model on its
    days), forced on the random small instances: its bound is a real one (at least the exact
    optimum), and what it calls optimal is."""
    req = dataclasses.replace(random_instance(random.Random(seed)), decompose=True)
    plan, base = solve(req), greedy(req)  # both checked
    best = exact_optimum(req)
    assert base.objective <= plan.objective <= best <= plan.bound, (plan.status, plan.objective, best, plan.bound)
    assert plan.optimal == (plan.status is PlanStatus.optimal)
    if plan.optimal:
        assert plan.objective == best, (plan.objective, best)


def test_decomposed_with_a_room_open_until_midnight_the_days_are_sequenced_together() -> None:
    # A room's day and its turnover run past midnight: the days are not independent problems
    # (a case's turnover reaches the next day), so the decomposition sequences them in one model.
    room = Room("r1", "Bloc B", 16 * 60, 23 * 60 + 45)
    cases = [Case(f"c{i}", f"P-{i}", 1 + i % 5, 120 + 15 * (i % 3)) for i in range(7)]
    req = request(cases, days=2, rooms=[room], decompose=True)
    assert not optimiser._days_apart(optimiser._prepare(req))
    plan = solve(req)
    best = exact_optimum(req)
    assert plan.objective <= best <= plan.bound and (not plan.optimal or plan.objective == best)
    assert any("decomposed by day" in r and "then sequenced on those days" in r for r in plan.reasons)


@pytest.mark.parametrize("decompose", [None, True])
@pytest.mark.parametrize("seed", range(8))
def test_random_replans_keep_every_rule(seed: int, decompose: bool | None) -> None:
    """Bookings (some fixed, some movable), another mission's slot and an earliest start."""
    rng = random.Random(100 + seed)
    first = random_instance(rng, limit=2.0)
    booked = greedy(first)
    bookings = [Booking(next(c for c in first.cases if c.id == a.case_id), f"s-{a.case_id}", a.day, a.room_id,
                        a.start_minute + rng.choice([0, 0, 10]) * (a.start_minute + a.duration_minutes + 10
                                                                    <= next(r for r in first.rooms
                                                                            if r.id == a.room_id).closes_minute),
                        a.surgeon_id, fixed=rng.random() < 0.4, anaesthetist_id=a.anaesthetist_id)
                for a in booked.assignments[: rng.randint(1, 3)]]
    room, last = first.rooms[0], first.days - 1
    # Another mission's hour at the end of the last day, where no booking is (hand booking checks it).
    free = all(b.room_id != room.id or b.day != last or b.start_minute + b.case.duration_minutes
               + first.turnover_minutes <= room.closes_minute - 60 for b in bookings)
    req = PlanRequest(days=first.days, rooms=first.rooms, surgeons=first.surgeons, anaesthetists=first.anaesthetists,
                      cases=[Case(f"n{i}", f"P-N{i}", rng.randint(1, 5), rng.choice([30, 60, 95, 120]))
                             for i in range(rng.randint(2, 5))],
                      icu_beds=first.icu_beds, bookings=bookings, turnover_minutes=first.turnover_minutes,
                      blocked=[Blocked(room.id, last, room.closes_minute - 60, room.closes_minute)] if free else [],
                      earliest=(0, rng.choice([0, 9 * 60 + 7])), max_daily_minutes_per_surgeon=480,
                      time_limit_seconds=2.0, decompose=decompose)
    plan = solve(req)
    greedy(req)
    if plan.status is not PlanStatus.infeasible:
        assert {b.case.id for b in bookings} <= {a.case_id for a in plan.assignments}


# -- the visiting team leaves (issue 20) ---------------------------------------------------------


def cardiac_mission(n: int, days: int, rooms: int, beds: int, seed: int, **over: object) -> PlanRequest:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        scheme = rng.choice(["RACHS-1", "STAT"])
        category = rng.randint(1, 6 if scheme == "RACHS-1" else 5)
        cases.append(Case(f"c{i}", f"P-{i}", rng.randint(1, 5), rng.choice([120, 180, 240, 300]), scheme, category))
    values: dict[str, object] = dict(
        days=days, rooms=[Room(f"r{i}", f"Bloc {i}", 8 * 60, 18 * 60) for i in range(rooms)],
        surgeons=[f"s{i}" for i in range(rooms)], anaesthetists=[f"a{i}" for i in range(rooms)], cases=cases,
        icu_beds=beds, time_limit_seconds=2.0)
    values.update(over)
    return PlanRequest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("n", "days", "rooms", "beds"), [(12, 4, 1, 2), (24, 5, 2, 4), (40, 6, 2, 5)])
def test_the_highest_risk_cases_come_first_and_no_critical_window_falls_after_the_team_leaves(
        n: int, days: int, rooms: int, beds: int) -> None:
    req = cardiac_mission(n, days, rooms, beds, seed=n)
    for plan in (optimiser.solve(req), optimiser.greedy(req)):
        for a in plan.assignments:
            case = next(c for c in req.cases if c.id == a.case_id)
            window = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3}[case.risk_category]
            assert a.day + window <= days - 1, (plan.solver, case, a.day)
        check_plan(plan, req)
        assert plan.assignments, plan.solver
    # The highest categories (3 post-operative days) on the first days, none later.
    highest = [a.day for a in optimiser.solve(req).assignments if a.icu_days == 5]
    assert all(d <= days - 4 for d in highest)


def test_intensive_care_stays_past_the_missions_end_count_against_the_hosts_limit() -> None:
    # A 4-day mission, a room for one 4-hour case a day, two beds. RACHS-1 4: 4 days in intensive
    # care, 2 with the team: day 0 (stay days 0-3) or day 1 (stay days 1-4, one day past the end).
    room = Room("r1", "Bloc B", 8 * 60, 13 * 60)
    cases = [Case("a", "P-A", 1, 240, "RACHS-1", 4), Case("b", "P-B", 2, 240, "RACHS-1", 4)]
    assert len(solve(request(cases, days=4, rooms=[room], icu_beds=2)).assignments) == 2
    plan = solve(request(cases, days=4, rooms=[room], icu_beds=2, icu_beds_after_mission=0))
    assert [(a.case_id, a.day) for a in plan.assignments] == [("a", 0)]
    (left,) = plan.unplanned
    assert left.case_id == "b" and "intensive-care beds" in left.reason and "team leaves" in left.reason
    assert greedy(request(cases, days=4, rooms=[room], icu_beds=2, icu_beds_after_mission=0)).objective == 16
    # A 2-day mission: the team would leave before its 2 post-operative days, whatever the beds.
    short = solve(request(cases, days=2, rooms=[room], icu_beds=2))
    assert short.status is PlanStatus.empty and "the team leaves before" in short.unplanned[0].reason


def test_an_unplanned_case_is_told_its_real_cause() -> None:
    # Cataract cases (no intensive care) beside a cardiac one, beds recorded: the room is full.
    cases = [Case(f"k{i}", f"P-K{i}", 3, 90) for i in range(8)] + [Case("h", "P-H", 1, 120, "RACHS-1", 1)]
    plan = solve(request(cases, days=2, icu_beds=2))
    cataract = [u for u in plan.unplanned if u.case_id.startswith("k")]
    assert cataract and all("did not fit beside the cases chosen" in u.reason for u in cataract)
    assert not any("intensive-care" in u.reason or "team leaves" in u.reason for u in cataract), cataract


# -- what coordinators need to steer it (issue 20) --------------------------------------------------


def test_a_4_hour_move_is_worse_than_a_15_minute_one() -> None:
    # Two 2-hour surgeries booked at 08:00 and 12:00 in a 08:00-18:00 room, one surgeon.
    room = Room("r1", "Bloc B", 8 * 60, 18 * 60)
    a = Booking(Case("a", "P-A", 3, 120), "sa", 0, "r1", 8 * 60, "s1")
    b = Booking(Case("b", "P-B", 3, 120), "sb", 0, "r1", 12 * 60, "s1")
    # Free: 10:30-11:30 and 14:30-18:00. A 3.5-hour case takes 14:30 without a move.
    plan = solve(request([Case("z", "P-Z", 1, 210)], rooms=[room], bookings=[a, b], max_daily_minutes_per_surgeon=600))
    by_case = {x.case_id: x for x in plan.assignments}
    assert plan.moves == 0 and by_case["z"].start_minute == 14 * 60 + 30
    # A 4-hour case needs a move: B by 30 minutes (to 11:30, Z from 14:00), not by 90 (to 10:30,
    # Z from 13:00) nor a move of hours.
    plan = solve(request([Case("z", "P-Z", 1, 240)], rooms=[room], bookings=[a, b], max_daily_minutes_per_surgeon=600))
    by_case = {x.case_id: x for x in plan.assignments}
    assert plan.moves == 1 and plan.moved_minutes == 30 == by_case["b"].moved_minutes
    assert (by_case["b"].start_minute, by_case["z"].start_minute) == (11 * 60 + 30, 14 * 60)


def test_pinned_surgeries_and_locked_days_never_move() -> None:
    room = Room("r1", "Bloc B", 8 * 60, 18 * 60)
    x = Booking(Case("x", "P-X", 3, 180), "sx", 0, "r1", 8 * 60, "s1", fixed=True)
    y = Booking(Case("y", "P-Y", 3, 180), "sy", 0, "r1", 13 * 60, "s1")
    z = Case("z", "P-Z", 1, 120)
    base = dict(rooms=[room], bookings=[x, y], max_daily_minutes_per_surgeon=600)
    assert solve(request([z], **base)).moves == 1  # Y moves for Z
    pinned = solve(request([z], pinned=frozenset({"sy"}), **base))
    by_case = {a.case_id: a for a in pinned.assignments}
    assert pinned.moves == 0 and by_case["y"].start_minute == 13 * 60 and by_case["y"].pinned
    assert not by_case["y"].fixed and "z" not in by_case and pinned.status is PlanStatus.optimal
    # A locked day: nothing there moves, nothing new comes; the next day takes Z.
    locked = solve(request([z], days=2, locked_days=frozenset({0}), **base))
    by_case = {a.case_id: a for a in locked.assignments}
    assert locked.moves == 0 and by_case["y"].start_minute == 13 * 60 and by_case["z"].day == 1
    assert greedy(request([z], days=2, locked_days=frozenset({0}), **base)).assignments[-1].day == 1
