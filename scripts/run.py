"""Run the three services locally as separate processes, each with its own database.

    make run    # SQLite files under ./data, loopback RabbitMQ

Each service needs a database of its own: to use PostgreSQL, set
CONVENTION_DATABASE_URL, SCHEDULING_DATABASE_URL and NOTIFICATION_DATABASE_URL.

Checks the broker first and says clearly if it is not there, migrates each
database, starts the services, waits until each is ready and prints where they
answer. ``--check`` then registers an institution, waits until the two other
services know it, and stops (used by the system test).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aio_pika
import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"convention": 8001, "scheduling": 8002, "notification": 8003}


def broker_reachable(url: str) -> str | None:
    async def probe() -> None:
        conn = await asyncio.wait_for(aio_pika.connect(url), timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return repr(exc)
    return None


def start(service: str, port: int, base_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**base_env, "HTTP_PORT": str(port), "MIGRATE_ON_START": "true"}
    own_db = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if own_db:
        env["DATABASE_URL"] = own_db
    return subprocess.Popen([sys.executable, "-m", service, "serve"], env=env, cwd=ROOT)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def check(ports: dict[str, int]) -> None:
    name = f"Check Clinic {uuid.uuid4().hex[:6]}"
    r = httpx.post(f"http://127.0.0.1:{ports['convention']}/institutions",
                   json={"name": name, "kind": "clinic", "country": "DZ", "city": "Tipaza"}, timeout=10)
    r.raise_for_status()
    institution_id = r.json()["id"]
    for service in ("scheduling", "notification"):
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{ports[service]}/institutions/{institution_id}", timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"{service} never learnt of institution {institution_id}")
            time.sleep(0.2)
        print(f"check: {service} knows {name}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="register an institution, see it replicated, stop")
    parser.add_argument("--port-offset", type=int, default=0, help="add to the ports 8001-8003")
    args = parser.parse_args()

    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    problem = broker_reachable(amqp_url)
    if problem:
        print(f"RabbitMQ is not reachable at {amqp_url.split('@')[-1]} ({problem}).\n"
              "Start it with `rabbitmq-server -detached`, or set AMQP_URL.", file=sys.stderr)
        return 2

    base_env = {**os.environ, "AMQP_URL": amqp_url}
    base_env.pop("DATABASE_URL", None)  # one URL cannot serve three databases
    base_env.setdefault("LOG_FORMAT", "console")
    ports = {s: p + args.port_offset for s, p in SERVICES.items()}
    procs = {s: start(s, ports[s], base_env) for s in SERVICES}
    try:
        for service, proc in procs.items():
            if not wait_ready(ports[service], proc):
                print(f"{service} did not become ready", file=sys.stderr)
                return 1
        for service, port in ports.items():
            print(f"{service:>12}: http://127.0.0.1:{port}/docs  (AsyncAPI: /asyncapi)", flush=True)
        if args.check:
            check(ports)
            return 0
        print("running; Ctrl-C stops all three", flush=True)
        # Blocked only now, after the children started (they inherit the mask).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
