"""Free loopback ports, for servers a test or a script starts.

A port found free by binding it and letting it go may be taken before the server
binds it: by another test worker or script that asked for a port at the same time,
or by an outgoing connection, which the kernel gives a port of its ephemeral range
(``ip_local_port_range``, 32768-60999 by default), where ``bind(0)`` also picks.
So ports are picked below that range, and every port handed out is written, under a
file lock, to a registry in the temporary folder that every process of this
machine's tests and scripts reads: none is handed out twice within ``HELD_SECONDS``.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import socket
import tempfile
import time
from pathlib import Path

LOW, HIGH = 20000, 32000  # below the kernel's default ephemeral range
HELD_SECONDS = 900.0
REGISTRY = Path(tempfile.gettempdir()) / "jumelage-test-ports.json"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now, and that no other caller of
    this function on the machine was given in the last ``HELD_SECONDS``."""
    with open(REGISTRY.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        now = time.time()
        try:
            handed = {int(p): t for p, t in json.loads(REGISTRY.read_text()).items() if now - t < HELD_SECONDS}
        except (OSError, ValueError):
            handed = {}
        start = random.randrange(LOW, HIGH)
        for offset in range(HIGH - LOW):
            port = LOW + (start - LOW + offset) % (HIGH - LOW)
            if port in handed or not _bindable(port):
                continue
            handed[port] = now
            tmp = REGISTRY.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(handed))
            tmp.replace(REGISTRY)
            return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
