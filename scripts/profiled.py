"""Run a service (``python scripts/profiled.py <service> <prefix>``) as ``python -m <service> serve``
does, with a cProfile profiler that SIGUSR1 starts afresh and SIGUSR2 stops, writing
``<prefix>.<n>.prof`` (n = 1, 2, ... for each start).

For the benchmark (``scripts/bench.py --profile DIR``): it profiles the services' event loops
during one measured mix only, not their start-up or the mix's set-up. Standard library only;
cProfile sees the main thread (the event loop), not aiosqlite's threads."""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys

service, out = sys.argv[1], sys.argv[2]
profiler = cProfile.Profile()
runs = 0


def _start(*_: object) -> None:
    global profiler, runs
    profiler = cProfile.Profile()
    runs += 1
    profiler.enable()


def _stop(*_: object) -> None:
    profiler.disable()
    profiler.dump_stats(f"{out}.{runs}.prof")


signal.signal(signal.SIGUSR1, _start)
signal.signal(signal.SIGUSR2, _stop)
sys.argv = [service, "serve"]
runpy.run_module(service, run_name="__main__", alter_sys=True)
