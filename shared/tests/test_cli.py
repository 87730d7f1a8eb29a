"""The shared entrypoint: ``serve`` tunes the garbage collector once the service is built."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from jumelage.testing import scaled


def test_serve_freezes_start_up_and_raises_the_young_threshold_before_uvicorn_runs() -> None:
    # In a process of its own: the collector's settings are process-wide.
    probe = textwrap.dedent("""
        import gc, json, sys
        import uvicorn
        from jumelage import cli

        seen = {}
        def run(app, **kwargs):  # instead of serving: what the collector looks like then
            seen.update(threshold=gc.get_threshold(), frozen=gc.get_freeze_count(), app=app)

        uvicorn.run = run
        cli.uvicorn.run = run
        built = object()
        before = (gc.get_threshold(), gc.get_freeze_count())

        class Settings:
            service_name = "probe"
            log_format = "json"
            log_level = "WARNING"
            migrate_on_start = False
            http_host, http_port = "127.0.0.1", 0

        cli.main(Settings, lambda s: None, lambda s: built, None, ["serve"])
        print(json.dumps({"before": before, "threshold": seen["threshold"], "frozen": seen["frozen"],
                          "app_served": seen["app"] is built}))
    """)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         timeout=scaled(120))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["before"][1] == 0, "nothing frozen in a fresh interpreter"
    assert result["threshold"] == [10_000, 10, 10]
    assert result["frozen"] > 10_000, "start-up's objects are frozen"
    assert result["app_served"]
