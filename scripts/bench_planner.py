"""Benchmark of the scheduling service's surgery plan optimiser (not a test).

Families of generated instances (issue 20), each beside the greedy baseline of the same run:

- ``short``: cataract-like lists, 20-40 min cases, no intensive care, 5 days x 2 rooms;
- ``cardiac``: paediatric cardiac missions (2-6 h, RACHS-1 / STAT, a few non-cardiac),
  scarce intensive-care beds, 5 days x 2 rooms;
- ``large``: a national programme, 10 days x 3 rooms, 4 surgeons, 3 anaesthetists;
- ``replan``: a cardiac mission planned, then 3 surgeries cancelled and 6 new cases, from day 1.

Prints the machine's load, then per instance: cases scheduled, objective and bound, gap, status,
the solver (``cp-sat``, or ``greedy`` when the greedy plan is the answer), the time (``1st s``: the
first solve's, before the tie-break; where ``optimal`` was proven), moves (and
their minutes), and whether every high-risk case (2 or more post-operative days with the team)
falls within the team's stay, for CP-SAT and for greedy.

    .venv/bin/python scripts/bench_planner.py                          # every family, default limits
    .venv/bin/python scripts/bench_planner.py --families large --time-limit 30 --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import time

from scheduling.adapters.optimiser import Booking, Case, Plan, PlanRequest, Room, greedy, solve
from scheduling.domain.planning import post_operative_days


def cardiac_cases(rng: random.Random, n: int, prefix: str = "c") -> list[Case]:
    cases = []
    for i in range(n):
        scheme = rng.choices(["RACHS-1", "STAT", "none"], weights=[6, 3, 1])[0]
        category = None if scheme == "none" else rng.choices(
            range(1, 7 if scheme == "RACHS-1" else 6),
            weights=[2, 4, 4, 2, 1, 1][: 6 if scheme == "RACHS-1" else 5])[0]
        hours = {None: (1.0, 2.5), 1: (2.0, 3.0), 2: (2.0, 3.5), 3: (3.0, 4.5), 4: (3.5, 5.0), 5: (4.0, 6.0),
                 6: (4.5, 6.0)}[category]
        duration = int(round(rng.uniform(*hours) * 60 / 15)) * 15
        cases.append(Case(f"{prefix}{i}", f"P-{prefix}{i:04d}", rng.choices([1, 2, 3, 4, 5], weights=[1, 2, 3, 3, 2])[0],
                          duration, scheme, category))
    return cases


def rooms(n: int) -> list[Room]:
    return [Room(f"r{i}", f"Bloc {chr(65 + i)}", 8 * 60, 18 * 60) for i in range(n)]


def short(n: int, seed: int, limit: float, workers: int) -> PlanRequest:
    rng = random.Random(seed * 1000 + n)
    cases = [Case(f"k{i}", f"P-K{i:04d}", rng.choices([2, 3, 4, 5], weights=[1, 3, 3, 2])[0], rng.randint(20, 40))
             for i in range(n)]
    return PlanRequest(days=5, rooms=rooms(2), surgeons=["s1", "s2"], anaesthetists=["a1", "a2"], cases=cases,
                       turnover_minutes=15, time_limit_seconds=limit, workers=workers, seed=seed)


def cardiac(n: int, seed: int, limit: float, workers: int) -> PlanRequest:
    rng = random.Random(seed * 1000 + n)
    return PlanRequest(days=5, rooms=rooms(2), surgeons=["s1", "s2"], anaesthetists=["a1", "a2"],
                       cases=cardiac_cases(rng, n), icu_beds=4, time_limit_seconds=limit, workers=workers, seed=seed)


def large(n: int, seed: int, limit: float, workers: int) -> PlanRequest:
    rng = random.Random(seed * 1000 + n)
    return PlanRequest(days=10, rooms=rooms(3), surgeons=["s1", "s2", "s3", "s4"], anaesthetists=["a1", "a2", "a3"],
                       cases=cardiac_cases(rng, n), icu_beds=8, time_limit_seconds=limit, workers=workers, seed=seed)


def replan(n: int, seed: int, limit: float, workers: int) -> PlanRequest:
    rng = random.Random(seed * 1000 + n)
    first = cardiac(n, seed, limit, workers)
    planned = solve(first)
    kept = [a for a in planned.assignments]
    rng.shuffle(kept)
    kept = kept[3:]  # three cancelled
    by_id = {c.id: c for c in first.cases}
    bookings = [Booking(by_id[a.case_id], f"s-{a.case_id}", a.day, a.room_id, a.start_minute, a.surgeon_id,
                        fixed=a.day == 0, anaesthetist_id=a.anaesthetist_id) for a in kept]
    planned_ids = {a.case_id for a in planned.assignments}
    waiting = [c for c in first.cases if c.id not in planned_ids] + cardiac_cases(rng, 6, prefix="n")
    return PlanRequest(days=5, rooms=first.rooms, surgeons=first.surgeons, anaesthetists=first.anaesthetists,
                       cases=waiting, icu_beds=4, bookings=bookings, earliest=(1, 0), time_limit_seconds=limit,
                       workers=workers, seed=seed)


FAMILIES = {"short": (short, [120]), "cardiac": (cardiac, [30, 60]), "large": (large, [200, 400]),
            "replan": (replan, [60])}


def within_stay(plan: Plan, req: PlanRequest) -> str:
    """High-risk cases (2 or more post-operative days) planned, and how many within the team's stay."""
    cases = {c.id: c for c in [*req.cases, *(b.case for b in req.bookings)]}
    high = [(a, post_operative_days(req.post_operative_days, cases[a.case_id].risk_scheme,
                                    cases[a.case_id].risk_category)) for a in plan.assignments]
    high = [(a, n) for a, n in high if n >= 2]
    ok = sum(1 for a, n in high if a.day + n <= req.days - 1)
    return f"{ok}/{len(high)}"


def main() -> None:
    from jumelage.cli import ArgumentParser  # no abbreviations, no echoed values

    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", choices=sorted(FAMILIES), default=list(FAMILIES))
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="instead of each family's own")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per instance (default: 5 up to 60 cases, else 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--decompose", choices=["auto", "yes", "no"], default="auto",
                        help="decomposition by day: by the model's size (auto), always, never")
    args = parser.parse_args()
    decompose = {"auto": None, "yes": True, "no": False}[args.decompose]
    # The machine's load beside the figures: on shared cores, times (and what a limit reaches) vary with it.
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} cores; seed {args.seed}, {args.workers} workers")
    print(f"{'family':>7} {'cases':>5} {'days×rooms':>10} | {'greedy':>6} {'planned':>7} | {'plan':>6} "
          f"{'bound':>6} {'gap':>6} {'status':>9} {'solver':>6} {'time s':>6} {'1st s':>5} {'planned':>7} {'moves':>5} {'min':>5} "
          f"{'stay ok':>7} | {'greedy stay ok':>14}")
    for family in args.families:
        make, sizes = FAMILIES[family]
        for n in args.sizes or sizes:
            limit = args.time_limit or (5.0 if n <= 60 else 30.0)
            req = dataclasses.replace(make(n, args.seed, limit, args.workers), decompose=decompose)
            base = greedy(req)
            t0 = time.perf_counter()
            plan = solve(req)
            wall = time.perf_counter() - t0
            print(f"{family:>7} {len(req.cases) + len(req.bookings):>5} {f'{req.days}×{len(req.rooms)}':>10} | "
                  f"{base.objective:>6} {len(base.assignments):>7} | {plan.objective:>6} {plan.bound:>6} "
                  f"{plan.gap:>6.1%} {plan.status.value:>9} {plan.solver:>6} {wall:>6.1f} {plan.primary_seconds:>5.1f} {len(plan.assignments):>7} "
                  f"{plan.moves:>5} {plan.moved_minutes:>5} {within_stay(plan, req):>7} | "
                  f"{within_stay(base, req):>14}", flush=True)
            assert plan.objective >= base.objective, "worse than greedy"


if __name__ == "__main__":
    main()
