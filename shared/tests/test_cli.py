"""The shared entrypoint: ``serve`` tunes the garbage collector once the service is built.
Every command line of the repository: no abbreviations, and no secret ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jumelage.testkit.waiting import scaled


@pytest.mark.system  # starts a process
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


# -- every command line: no abbreviations, no secret echoed ------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3CRET-never-to-be-printed-0123456789abcdef"

# Every argument parser of the repository, with each of its subcommands: ``--hel``
# (which abbreviates ``--help``, the option every parser has) goes where "{}" is.
SERVICE = ["convention.app:Settings", "convention.app:build_runtime", "convention.app:create_app"]
COMMANDS: dict[str, list[list[str]]] = {
    "shared/src/jumelage/auth.py": [["{}", "mint", "--subject", "x"], ["mint", "--subject", "x", "{}"]],
    "shared/src/jumelage/cli.py": [["{}", "serve"], ["serve", "{}"], ["migrate", "{}"], ["asyncapi", "{}"]],
    "services/convention/src/convention/rebuild.py": [["{}"], ["--convention", "00000000-0000-0000-0000-000000000001", "{}"]],
    "deploy/rabbitmq/hash_password.py": [["{}", "x"]],
    "scripts/run.py": [["{}"]],
    "scripts/faults.py": [["{}"]],
    "scripts/bench.py": [["{}"]],
    "scripts/bench_planner.py": [["{}"]],
    "scripts/bench_web.py": [["{}"]],
    "shared/src/jumelage/testkit/oidc.py": [["{}"]],
    "shared/src/jumelage/backup.py": [["{}", "sqlite", "a", "b"], ["sqlite", "a", "b", "{}"]],
    "shared/src/jumelage/dlq.py": [["{}", "list", "--service", "notification"],
                                   ["list", "--service", "notification", "{}"],
                                   ["retry", "--service", "notification", "--all", "--by", "x", "{}"]],
    "shared/src/jumelage/replay.py": [["{}", "--service", "convention", "--since-seq", "0", "--queue", "q", "--by", "x"],
                                      ["--service", "convention", "--since-seq", "0", "--queue", "q", "--by", "x", "{}"]],
}


def _parse_in_process(path: str, argv: list[str]) -> int:
    """Run the command line's entrypoint here (cheaper than a fresh interpreter each):
    it parses its arguments before doing anything, so a refusal exits at once."""
    import runpy
    from unittest import mock

    if path == "shared/src/jumelage/auth.py":
        from jumelage import auth
        call = lambda: auth.main(argv)  # noqa: E731
    elif path == "shared/src/jumelage/dlq.py":
        from jumelage import dlq
        call = lambda: dlq.main(argv)  # noqa: E731
    elif path == "shared/src/jumelage/replay.py":
        from jumelage import replay
        call = lambda: replay.main(argv)  # noqa: E731
    elif path == "services/convention/src/convention/rebuild.py":
        import convention.app
        from convention.rebuild import rebuild_progress
        call = lambda: rebuild_progress(convention.app.Settings, argv)  # noqa: E731
    elif path == "shared/src/jumelage/cli.py":
        import convention.app
        from jumelage import cli
        call = lambda: cli.main(convention.app.Settings, convention.app.build_runtime,  # noqa: E731
                                convention.app.create_app, convention.app.MIGRATIONS, argv)
    else:
        def call() -> None:
            with mock.patch.object(sys, "argv", [path, *argv]):
                runpy.run_path(str(ROOT / path), run_name="__main__")
    try:
        call()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def _parsers_in_the_repository() -> set[str]:
    found = set()
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if (relative.startswith((".venv/", "build/")) or "/tests/" in f"/{relative}" or "site-packages" in relative
                or "/node_modules/" in f"/{relative}"):  # npm's packages (tools/, services/web/): not ours
            continue
        if relative == "shared/src/jumelage/arguments.py":
            continue  # where the class is defined: no command line of its own
        if "ArgumentParser(" in path.read_text(encoding="utf-8", errors="replace"):
            found.add(relative)
    return found


def _run_all(commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Side by side: each is a fresh interpreter (a second or two of imports)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    running = [subprocess.Popen([sys.executable, *c], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for c in commands]
    done = []
    for command, p in zip(commands, running, strict=True):
        out, err = p.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, p.returncode, out, err))
    return done


def test_every_parser_in_the_repository_refuses_an_abbreviation(capsys: pytest.CaptureFixture[str]) -> None:
    assert _parsers_in_the_repository() <= set(COMMANDS), "a new command line: add it to COMMANDS"
    for path, commands in COMMANDS.items():
        for command in commands:
            argv = [a if a != "{}" else "--hel" for a in command]
            code = _parse_in_process(path, argv)
            out, err = capsys.readouterr()
            assert (code, "show this help" in out) == (2, False), (path, argv, code, out, err)
            assert "unrecognized arguments: --hel" in err, (path, argv, err)


@pytest.mark.system  # starts a process
def test_a_mistyped_secret_option_is_refused_and_the_secret_is_printed_nowhere(tmp_path: Path) -> None:
    mint = ["-m", "jumelage.auth", "mint", "--subject", "karim"]
    results = _run_all([
        [*mint, "--secret", SECRET],            # taken for --secret-file, once
        [*mint, f"--secret={SECRET}"],
        [*mint, "--secret-file", SECRET],        # the secret given as the file's name
        [*mint, "--secret-file", str(tmp_path)],  # a folder: unreadable
        [*mint, SECRET],                         # given where no argument goes
        ["deploy/rabbitmq/hash_password.py", f"--pasword={SECRET}", "x"],
        ["deploy/rabbitmq/hash_password.py", "--update", f"nobody={SECRET}"],
        ["deploy/rabbitmq/hash_password.py", "--update", SECRET],
        ["deploy/rabbitmq/hash_password.py", "--check", "not-a-hash!", SECRET],
    ])
    for result in results:
        assert result.returncode in (1, 2), (result.args, result.returncode)
        assert SECRET not in result.stdout and SECRET not in result.stderr, (result.args, result.stderr)
        assert "Traceback" not in result.stderr, (result.args, result.stderr)
        assert len(result.stderr.strip().splitlines()) <= 2, (result.args, result.stderr)  # usage and one line
    assert results[0].returncode == 2 and "unrecognized arguments: --secret" in results[0].stderr
    assert results[2].returncode == 2 and "cannot read the file given with --secret-file" in results[2].stderr
    assert str(tmp_path) not in results[3].stderr
