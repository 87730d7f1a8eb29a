"""The optimiser for a mission at several host sites (issue 19): each case only in its site's
rooms, on the mission's days there, holding its own site's intensive-care beds. Pure."""

from __future__ import annotations

import dataclasses

import pytest

from scheduling.adapters import optimiser
from scheduling.adapters.optimiser import Case, PlanRequest, Room

BOUSMAIL, TIARET = "cmci", "tiaret"
ROOMS = [Room("r-cmci", "Bloc B", 8 * 60, 16 * 60), Room("r-tiaret", "Bloc Tiaret", 8 * 60, 16 * 60)]
AT = {BOUSMAIL: (frozenset({"r-cmci"}), frozenset({0, 1})), TIARET: (frozenset({"r-tiaret"}), frozenset({2, 3}))}


def case(ref: str, site: str, minutes: int = 210, **kw: object) -> Case:
    rooms, days = AT[site]
    return Case(ref, ref, 2, minutes, rooms=rooms, days=days, ward=site, **kw)  # type: ignore[arg-type]


def request(cases: list[Case], **kw: object) -> PlanRequest:
    return PlanRequest(days=4, rooms=ROOMS, surgeons=["s1", "s2"], anaesthetists=["a1", "a2"], cases=cases,
                       time_limit_seconds=2, post_operative_days={}, **kw)  # type: ignore[arg-type]


# The solver whole, the solver decomposed by day (as for a national programme), and the greedy.
SOLVERS = [optimiser.solve, lambda r: optimiser.solve(dataclasses.replace(r, decompose=True)), optimiser.greedy]
SOLVER_IDS = ["cp-sat", "cp-sat-by-day", "greedy"]


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_each_case_is_planned_in_its_sites_rooms_on_its_days(solver) -> None:
    # Tiaret has four cases of 3.5 hours (two a day with the turnover) for its two days: all of them, there (the CMCI room stays free then).
    cases = [case(f"t{i}", TIARET) for i in range(4)] + [case("c0", BOUSMAIL)]
    plan = solver(request(cases))
    assert {a.case_id for a in plan.assignments} == {c.id for c in cases}
    for a in plan.assignments:
        site = BOUSMAIL if a.case_id.startswith("c") else TIARET
        rooms, days = AT[site]
        assert a.room_id in rooms and a.day in days, (a.case_id, a.room_id, a.day)


@pytest.mark.parametrize("decompose", [False, True], ids=["whole", "by-day"])
def test_a_fifth_case_at_a_full_site_stays_unplanned_though_another_sites_room_is_free(decompose: bool) -> None:
    cases = [case(f"t{i}", TIARET) for i in range(5)]
    plan = optimiser.solve(request(cases, decompose=decompose))
    assert len(plan.assignments) == 4 and plan.optimal
    assert [u.case_id for u in plan.unplanned] == [c.id for c in cases if c.id not in
                                                   {a.case_id for a in plan.assignments}]


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_each_site_holds_its_own_intensive_care_beds(solver) -> None:
    # One bed at CMCI, none recorded at Tiaret: two one-day stays on CMCI's first day, two at Tiaret.
    one_day = {"risk_scheme": "STAT", "risk_category": 1}
    cases = [case("c0", BOUSMAIL, 120, **one_day), case("c1", BOUSMAIL, 120, **one_day),
             case("t0", TIARET, 120, **one_day), case("t1", TIARET, 120, **one_day)]
    cmci_days = frozenset({0})
    cases[:2] = [Case(c.id, c.ref, c.priority, c.duration_minutes, c.risk_scheme, c.risk_category, rooms=c.rooms,
                      days=cmci_days, ward=c.ward) for c in cases[:2]]
    plan = solver(request(cases, ward_beds={BOUSMAIL: 1, TIARET: None}))
    planned = {a.case_id for a in plan.assignments}
    assert len(planned & {"c0", "c1"}) == 1, "CMCI's one bed, its one day"
    assert {"t0", "t1"} <= planned, "Tiaret's beds are its own (not recorded: no limit)"
