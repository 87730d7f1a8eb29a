"""Run a service (``python scripts/profiled.py <service> <prefix>``) as ``python -m <service> serve``
does, with two more routes, for the benchmark's profiles only (``scripts/bench.py --profile DIR``):
``POST /__profile/start`` starts a fresh cProfile profiler on the event loop's thread and
``POST /__profile/stop`` stops it and writes ``<prefix>.<n>.prof`` (n = 1, 2, ... for each start).

So a profile covers one measured mix, not the service's start-up or the mix's set-up. Standard
library only; cProfile sees the event loop's thread, not aiosqlite's worker threads. (Signals
were tried first: under uvloop a Python signal handler ran late or not at all.)"""

from __future__ import annotations

import cProfile
import runpy
import sys
from typing import Any

import jumelage.cli

service, out = sys.argv[1], sys.argv[2]
state: dict[str, Any] = {"profiler": None, "runs": 0}
serve = jumelage.cli.main


def main(settings_class: Any, build_runtime: Any, create_app: Any, *args: Any, **kwargs: Any) -> Any:
    def create_profiled_app(settings: Any) -> Any:
        app = create_app(settings)

        @app.post("/__profile/start", include_in_schema=False)
        async def start() -> dict[str, int]:
            state["profiler"] = cProfile.Profile()
            state["runs"] += 1
            state["profiler"].enable()
            return {"run": state["runs"]}

        @app.post("/__profile/stop", include_in_schema=False)
        async def stop() -> dict[str, int]:
            profiler = state["profiler"]
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{out}.{state['runs']}.prof")
                state["profiler"] = None
            return {"run": state["runs"]}

        return app

    return serve(settings_class, build_runtime, create_profiled_app, *args, **kwargs)


jumelage.cli.main = main
sys.argv = [service, "serve"]
runpy.run_module(service, run_name="__main__", alter_sys=True)
