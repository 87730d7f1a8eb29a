"""Benchmark of the scheduling service's surgery plan optimiser (not a test).

Generated instances: a 5-day mission, 2 operating rooms open 08:00-18:00,
2 surgeons and 2 anaesthetists, 4 intensive-care beds, and 30, 60, 120 and 200
waiting paediatric cardiac cases (2 to 6 hours, priorities 1-5, RACHS-1 / STAT
risk categories, a few non-cardiac cases). Prints, per instance, the CP-SAT
plan's objective, bound, gap, whether proven optimal and the solve time,
beside the greedy baseline (priority order, first fit).

    .venv/bin/python scripts/bench_planner.py                 # default limits: 10 s (<=60 cases), 30 s
    .venv/bin/python scripts/bench_planner.py --sizes 60 --time-limit 10 --seed 1
"""

from __future__ import annotations

import argparse
import random
import time

from scheduling.adapters.optimiser import Case, PlanRequest, Room, greedy, solve


def instance(n: int, seed: int, time_limit: float, workers: int) -> PlanRequest:
    rng = random.Random(seed * 1000 + n)
    cases = []
    for i in range(n):
        scheme = rng.choices(["RACHS-1", "STAT", "none"], weights=[6, 3, 1])[0]
        category = None if scheme == "none" else rng.choices(
            range(1, 7 if scheme == "RACHS-1" else 6),
            weights=[2, 4, 4, 2, 1, 1][: 6 if scheme == "RACHS-1" else 5])[0]
        hours = {None: (1.0, 2.5), 1: (2.0, 3.0), 2: (2.0, 3.5), 3: (3.0, 4.5), 4: (3.5, 5.0), 5: (4.0, 6.0),
                 6: (4.5, 6.0)}[category]
        duration = int(round(rng.uniform(*hours) * 60 / 15)) * 15
        cases.append(Case(f"c{i}", f"P-{i:04d}", rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 3, 3, 2])[0],
                          duration, scheme, category))
    return PlanRequest(days=5, rooms=[Room("r1", "Bloc A", 8 * 60, 18 * 60), Room("r2", "Bloc B", 8 * 60, 18 * 60)],
                       surgeons=["s1", "s2"], anaesthetists=["a1", "a2"], cases=cases, icu_beds=4,
                       time_limit_seconds=time_limit, workers=workers, seed=seed)


def main() -> None:
    from jumelage.cli import ArgumentParser  # no abbreviations, no echoed values

    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 60, 120, 200])
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per instance (default: 10 up to 60 cases, else 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"{'cases':>5} {'greedy':>7} {'cp-sat':>7} {'bound':>6} {'gap':>6} {'optimal':>8} {'tiebreak':>8} "
          f"{'proof s':>7} {'time s':>7} {'limit':>6} {'planned':>7} {'status':>9}")
    for n in args.sizes:
        limit = args.time_limit or (10.0 if n <= 60 else 30.0)
        req = instance(n, args.seed, limit, args.workers)
        base = greedy(req)
        t0 = time.perf_counter()
        plan = solve(req)
        wall = time.perf_counter() - t0
        print(f"{n:>5} {base.objective:>7} {plan.objective:>7} {plan.bound:>6} {plan.gap:>6.1%} "
              f"{str(plan.optimal):>8} {str(plan.tiebreak_optimal):>8} {plan.primary_seconds:>7.2f} "
              f"{wall:>7.2f} {limit:>6.0f} "
              f"{len(plan.assignments):>7} {plan.status.value:>9}", flush=True)
        assert plan.objective >= base.objective, "worse than greedy"


if __name__ == "__main__":
    main()
