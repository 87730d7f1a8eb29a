"""Server time of a mission's page and of its day's operating list, for a mission whose host has
200 cases on its waiting list and the optimiser's plan applied (issue 18, "Measure": budget p50
under 200 ms). Not part of the suite (the name does not start with test_); run it by name:

    .venv/bin/pytest services/web/tests/bench_mission_page.py -q -s

The time is the web app's answer as a browser waits for it, through the three real services
in this process (SQLite, the real broker): every call the page makes to them is counted."""

from __future__ import annotations

import statistics
import time

from programmes import CASES, mission_programme, planned
from web_testkit import Stack

ROUNDS = 40


async def test_mission_page_time_with_200_cases(stack: Stack) -> None:
    cases = [CASES[i % len(CASES)] for i in range(200)]
    programme = await mission_programme(stack, cases=cases, days=5)
    surgeries = await planned(stack, programme, time_limit=10)
    day = sorted({s["scheduled_start"][:10] for s in surgeries})[0]
    for subject in ("amina", "samir"):  # a coordinator of the host; a clinician (who also reads the 200 cases)
        browser = stack.browser()
        await browser.sign_in(subject)
        for label, path in (("mission page", programme.path), ("operating list", f"{programme.path}/day/{day}")):
            await browser.open(path)  # warm
            times = []
            for _ in range(ROUNDS):
                began = time.perf_counter()
                await browser.open(path)
                times.append((time.perf_counter() - began) * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
            print(f"\n{label} as {subject}: {len(surgeries)} surgeries, 200 cases, {ROUNDS} rounds: "
                  f"p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms")
