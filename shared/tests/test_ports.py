"""free_port: never the same port twice, whichever process asks, and below the
kernel's ephemeral range."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jumelage.testkit.ports import HIGH, LOW, free_port

pytestmark = pytest.mark.system  # starts interpreters


def test_ports_asked_for_by_several_processes_at_once_are_all_different() -> None:
    code = "from jumelage.testkit.ports import free_port; print(*(free_port() for _ in range(50)))"
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    ports = [int(p) for run in runs for p in run.communicate(timeout=60)[0].split()]
    ports += [free_port() for _ in range(50)]
    assert len(ports) == 250
    assert len(set(ports)) == 250, "a port handed out twice"
    assert all(LOW <= p < HIGH for p in ports)

