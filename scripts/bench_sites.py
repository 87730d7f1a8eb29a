"""A practitioner at one site a day (issue 19): the optimiser on 60 cases at two sites open on the
same 5 days, blind to the sites and with the rule, each plan judged by the independent checker.
Usage: .venv/bin/python scripts/bench_sites.py [time limit in seconds, default 10]"""

import dataclasses
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "services" / "scheduling" / "tests"))
from scheduling.adapters import optimiser
from scheduling.adapters.optimiser import Case, PlanRequest, Room
from plan_checker import check_plan

rng = random.Random(1)
rooms = [Room("a1", "A1", 480, 1080, site="A"), Room("a2", "A2", 480, 1080, site="A"), Room("b1", "B1", 480, 1080, site="B")]
cases = []
for i in range(60):
    site = "A" if i % 3 else "B"
    cases.append(Case(f"c{i}", f"c{i}", rng.randint(1, 5), rng.choice([120, 180, 240, 300]),
                      rooms=frozenset(r.id for r in rooms if r.site == site), days=frozenset(range(5)), ward=site))
req = PlanRequest(days=5, rooms=rooms, surgeons=["s1", "s2", "s3"], anaesthetists=["n1", "n2"], cases=cases,
                  time_limit_seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 10, post_operative_days={}, seed=1)
blind = dataclasses.replace(req, rooms=[dataclasses.replace(r, site=None) for r in rooms])
for label, r in (("rule off (sites blind)", blind), ("rule on", req)):
    for name, f in (("whole", lambda x: optimiser.solve(dataclasses.replace(x, decompose=False))),
                    ("by-day", lambda x: optimiser.solve(dataclasses.replace(x, decompose=True))),
                    ("greedy", optimiser.greedy)):
        t = time.perf_counter()
        plan = f(r)
        dt = time.perf_counter() - t
        ok = "checked"
        try:
            check_plan(plan, req)
        except AssertionError:
            ok = "breaks the rule"
        print(f"{label:24} {name:7} {plan.status.value:9} objective {plan.objective:4} bound {plan.bound:4} "
              f"planned {len(plan.assignments):3} {dt:5.1f} s  {ok}", flush=True)
