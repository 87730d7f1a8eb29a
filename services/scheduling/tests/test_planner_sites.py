"""The optimiser for a mission at several host sites (issue 19): each case only in its site's
rooms, on the mission's days there, holding its own site's intensive-care beds. Pure."""

from __future__ import annotations

import dataclasses

import pytest

from scheduling.adapters import optimiser
from plan_checker import check_plan
from scheduling.adapters.optimiser import Booking, Case, PlanRequest, Room

BOUSMAIL, TIARET = "cmci", "tiaret"
ROOMS = [Room("r-cmci", "Bloc B", 8 * 60, 16 * 60, site=BOUSMAIL),
         Room("r-tiaret", "Bloc Tiaret", 8 * 60, 16 * 60, site=TIARET)]
AT = {BOUSMAIL: (frozenset({"r-cmci"}), frozenset({0, 1})), TIARET: (frozenset({"r-tiaret"}), frozenset({2, 3}))}


def case(ref: str, site: str, minutes: int = 210, **kw: object) -> Case:
    rooms, days = AT[site]
    return Case(ref, ref, 2, minutes, rooms=rooms, days=days, ward=site, **kw)  # type: ignore[arg-type]


def request(cases: list[Case], **kw: object) -> PlanRequest:
    args: dict = dict(days=4, rooms=ROOMS, surgeons=["s1", "s2"], anaesthetists=["a1", "a2"], cases=cases,
                      time_limit_seconds=2, post_operative_days={})
    return PlanRequest(**(args | kw))


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


# -- a practitioner works at one site a day ------------------------------------------------------


def both_sites(ref: str, site: str, minutes: int = 120, days: frozenset[int] = frozenset({0, 1})) -> Case:
    """A case of ``site`` on days when the mission is at both sites (the team may split)."""
    return Case(ref, ref, 2, minutes, rooms=AT[site][0], days=days, ward=site)


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_a_lone_surgeon_works_at_one_site_a_day(solver) -> None:
    # One day, one surgeon, one case at each site, both rooms free: he could do both by the clock,
    # but not at both hospitals the same day.
    cases = [both_sites("c0", BOUSMAIL, days=frozenset({0})), both_sites("t0", TIARET, days=frozenset({0}))]
    req = request(cases, surgeons=["s1"], days=1)
    plan = solver(req)
    check_plan(plan, req)
    assert len(plan.assignments) == 1 and len(plan.unplanned) == 1
    if solver is not optimiser.greedy:
        assert plan.optimal


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_a_lone_anaesthetist_works_at_one_site_a_day(solver) -> None:
    cases = [both_sites("c0", BOUSMAIL, days=frozenset({0})), both_sites("t0", TIARET, days=frozenset({0}))]
    req = request(cases, anaesthetists=["a1"], days=1)
    plan = solver(req)
    check_plan(plan, req)
    assert len(plan.assignments) == 1


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_over_two_days_each_practitioner_keeps_to_one_site_each_day(solver) -> None:
    # Two cases at each site, both sites open both days, one surgeon and one anaesthetist: all four
    # are operated, a day at each site.
    cases = [both_sites(f"c{i}", BOUSMAIL) for i in range(2)] + [both_sites(f"t{i}", TIARET) for i in range(2)]
    req = request(cases, surgeons=["s1"], anaesthetists=["a1"], days=2)
    plan = solver(req)
    check_plan(plan, req)
    assert len(plan.assignments) == 4
    sites = {r.id: r.site for r in ROOMS}
    for day in (0, 1):
        assert len({sites[a.room_id] for a in plan.assignments if a.day == day}) == 1, day


@pytest.mark.parametrize("solver", SOLVERS, ids=SOLVER_IDS)
def test_a_surgery_fixed_at_one_site_keeps_its_surgeon_there_that_day(solver) -> None:
    # s1 operates at Tiaret on day 0 (started): a CMCI case that day waits for s2's day, not s1's.
    fixed = Booking(both_sites("t-fixed", TIARET), "sx", 0, "r-tiaret", 8 * 60, "s1", fixed=True,
                    anaesthetist_id="a1")
    cases = [both_sites("c0", BOUSMAIL, days=frozenset({0})), both_sites("t0", TIARET, days=frozenset({0}))]
    req = request(cases, surgeons=["s1"], anaesthetists=["a1", "a2"], days=1, bookings=[fixed])
    plan = solver(req)
    check_plan(plan, req)
    planned = {a.case_id: a for a in plan.assignments}
    assert "c0" not in planned and "t0" in planned, "s1 is at Tiaret that day"


def test_the_checker_refuses_a_practitioner_at_two_sites_the_same_day() -> None:
    """The independent checker sees it too (a plan that breaks the rule is refused)."""
    cases = [both_sites("c0", BOUSMAIL, days=frozenset({0})), both_sites("t0", TIARET, days=frozenset({0}))]
    req = request(cases, surgeons=["s1"], days=1)
    no_site = dataclasses.replace(req, rooms=[dataclasses.replace(r, site=None) for r in ROOMS])
    plan = optimiser.greedy(no_site)  # blind to the sites: both cases, s1 at both
    assert len(plan.assignments) == 2
    with pytest.raises(AssertionError, match="two sites"):
        check_plan(plan, req)
