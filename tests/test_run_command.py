"""The README's run command starts the three services as real processes that
find each other over the broker (``scripts/run.py --check``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jumelage.testkit.waiting import scaled

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.system
@pytest.mark.cost(25)
def test_run_command_starts_three_services_that_talk(amqp_url: str, namespace: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "TOPOLOGY_NAMESPACE": namespace,
        "DATA_DIR": str(tmp_path),
        "LOG_FORMAT": "json",
        "RETRY_DELAYS": "0.1,0.2",  # the retry queues the namespace fixture removes
    }
    done = subprocess.run(
        [sys.executable, "scripts/run.py", "--check", "--port-offset", "100"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=scaled(300),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "check: scheduling knows" in done.stdout
    assert "check: notification knows" in done.stdout
    for service in ("convention", "scheduling", "notification"):
        assert (tmp_path / f"{service}.db").exists(), f"{service} has its own SQLite database"


@pytest.mark.system  # starts a process
def test_run_command_says_clearly_when_the_broker_is_missing(tmp_path: Path) -> None:
    env = {**os.environ, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/", "DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "scripts/run.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=scaled(120))
    assert done.returncode == 2
    assert "RabbitMQ is not reachable at 127.0.0.1:1" in done.stderr
    assert "rabbitmq-server -detached" in done.stderr
