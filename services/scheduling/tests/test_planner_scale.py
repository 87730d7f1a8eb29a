"""The optimiser on a national programme (issue 20, "Scale"): 200 and 400 cases over 10 days in
3 rooms, planned by the decomposition by day (``optimiser._Assignment``, then the full model on
its days). No timed assertion: a modest time limit, and what the answer must be whatever the
machine's load: a CP-SAT plan (not the greedy one), valid by the independent checker, better
than greedy, with a real bound (the solver's, below "every case operated") and an honest status.
The figures against the issue's targets are the benchmark's (``scripts/bench_planner.py``,
README "Benchmark"). Tens of seconds each: marked ``slow``, out of the fast tier."""

from __future__ import annotations

import random

import pytest
from plan_checker import check_plan

from scheduling.adapters import optimiser
from scheduling.adapters.optimiser import PRIORITY_WEIGHT, Case, PlanRequest, PlanStatus, Room

pytestmark = pytest.mark.slow


def programme(n: int, seed: int, limit: float) -> PlanRequest:
    """A paediatric cardiac programme (2-6 h RACHS-1 / STAT cases, a few non-cardiac), as the
    benchmark's ``large`` family: 10 days, 3 rooms 08:00-18:00, 4 surgeons, 3 anaesthetists, 8 beds."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        scheme = rng.choices(["RACHS-1", "STAT", "none"], weights=[6, 3, 1])[0]
        category = None if scheme == "none" else rng.randint(1, 6 if scheme == "RACHS-1" else 5)
        hours = (1.0, 2.5) if category is None else (2.0 + category / 2, 3.0 + category / 2)
        cases.append(Case(f"c{i}", f"P-{i:04d}", rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 3, 3, 2])[0],
                          int(round(rng.uniform(*hours) * 4)) * 15, scheme, category))
    return PlanRequest(days=10, rooms=[Room(f"r{i}", f"Bloc {'ABC'[i]}", 8 * 60, 18 * 60) for i in range(3)],
                       surgeons=["s1", "s2", "s3", "s4"], anaesthetists=["a1", "a2", "a3"], cases=cases,
                       icu_beds=8, time_limit_seconds=limit)


@pytest.mark.parametrize(("n", "limit"), [(200, 20.0), (400, 25.0)])
def test_a_national_programme_gets_a_cp_sat_plan_better_than_greedy_with_a_real_bound(n: int, limit: float) -> None:
    req = programme(n, seed=n, limit=limit)
    base = optimiser.greedy(req)
    plan = optimiser.solve(req)
    check_plan(plan, req)
    check_plan(base, req)
    assert plan.solver == "cp-sat" and plan.status in (PlanStatus.optimal, PlanStatus.feasible), plan.reasons
    assert plan.objective > base.objective == plan.greedy_objective
    # A real bound: the assignment relaxation's, proven by CP-SAT; never below the plan, and below
    # the trivial one (every case operated), which is all a solve that proved nothing may claim.
    every_case = sum(PRIORITY_WEIGHT[c.priority] for c in req.cases)
    assert plan.objective <= plan.bound < every_case
    assert plan.optimal == (plan.status is PlanStatus.optimal) == (plan.bound == plan.objective)
    assert any("decomposed by day" in r for r in plan.reasons), plan.reasons
