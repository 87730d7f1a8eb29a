"""``ServiceProcess``: a service as deployed, ``python -m <service> serve``, as a child
process (its JSON log lines to files, or to this terminal), waited on until ready."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

from jumelage.testkit.waiting import scaled


class ServiceProcess:
    """One service's process. ``env`` is its whole environment (``HTTP_PORT`` included);
    ``logs``: a folder for its output, one file per start (``None``: this terminal)."""

    def __init__(self, service: str, env: dict[str, str], logs: Path | None = None,
                 cwd: Path | None = None, command: list[str] | None = None) -> None:
        from jumelage.testkit.client import TEST_IDENTITY_ENV

        self.service = service
        # The tests' identity key ring unless the caller gives one (scripts/run.py keeps its own).
        self.env = {**TEST_IDENTITY_ENV, **env} if service in ("scheduling", "notification") else env
        self.port = int(env["HTTP_PORT"])
        self.logs = logs
        self.cwd = cwd
        # What runs the service (default ``python -m <service> serve``; the benchmark's profiler wraps it).
        self.command = command or [sys.executable, "-m", service, "serve"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_files: list[Path] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = self.command
        if self.logs is None:
            self.proc = subprocess.Popen(command, env=self.env, cwd=self.cwd)
            return
        path = self.logs / f"{self.service}-{len(self.log_files) + 1}.log"
        self.log_files.append(path)
        with path.open("wb") as out:
            self.proc = subprocess.Popen(command, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT)

    def _where(self) -> str:
        return f"; see {self.log_files[-1]}" if self.log_files else ""

    def _is_ready(self, response: httpx.Response) -> bool:
        return response.status_code == 200

    async def ready(self, timeout: float = 60.0) -> None:
        """Until ``/health/ready`` answers 200 (the process exiting first is an error)."""
        limit = scaled(timeout)
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    raise RuntimeError(f"{self.service} exited{self._where()}")
                with suppress(httpx.HTTPError):
                    if self._is_ready(await client.get(f"{self.url}/health/ready", timeout=2)):
                        return
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.service} not ready within {limit}s{self._where()}")

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """:meth:`ready` for plain code: whether it became ready in time."""
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            with suppress(httpx.HTTPError):
                if self._is_ready(httpx.get(f"{self.url}/health/ready", timeout=2)):
                    return True
            time.sleep(0.2)
        return False

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self) -> None:
        """SIGTERM, without waiting (see :meth:`wait_stopped`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = 20.0) -> None:
        """Until the process ended after :meth:`terminate` (kill -9 after ``timeout``)."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            self.kill9()

    async def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM, and a generous while to finish what is in flight (kill -9 after)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + scaled(timeout)
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            self.kill9()

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process so far (Linux ``/proc``)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for path in self.log_files:
            for raw in path.read_text(errors="replace").splitlines():
                with suppress(ValueError):
                    line = json.loads(raw)
                    if isinstance(line, dict):
                        lines.append(line)
        return lines
