"""Run the three services locally as separate processes, each with its own
database, and play the two reference programmes through their HTTP APIs.

    make run                              # the demo, then the services stay up (Ctrl-C stops them)
    .venv/bin/python scripts/run.py --no-demo   # just the services, on the real clock

The demo runs in a fresh namespace and data folder (data/demo), on a scenario
clock it moves itself (20 May 2024, the eve of the mission, after it), with a
local mail catcher receiving the e-mails the notification service sends.

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
import json
import os
import secrets
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from jumelage.auth import mint
from jumelage.cli import ArgumentParser
from jumelage.sealing import KeyRing
from jumelage.clock import write_scenario_instant
from jumelage.testkit.mail import MailCatcher
from jumelage.testkit.processes import ServiceProcess
from jumelage.testkit.servers import delete_namespace as delete

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {"convention": 8001, "scheduling": 8002, "notification": 8003}
WEB_PORT = 8000
READY_WITHIN = 240.0  # seconds, per service (scaled by JUMELAGE_TEST_TIMEOUT_SCALE in tests)


def broker_reachable(url: str) -> str | None:
    async def probe() -> None:
        conn = await asyncio.wait_for(aio_pika.connect(url), timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return repr(exc)
    return None


def start(service: str, port: int, base_env: dict[str, str]) -> ServiceProcess:
    env = {**base_env, "HTTP_PORT": str(port), "MIGRATE_ON_START": "true"}
    own_db = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if own_db:
        env["DATABASE_URL"] = own_db
        env["DATABASE_SCHEMA"] = os.environ.get(f"{service.upper()}_DATABASE_SCHEMA", "")
    process = ServiceProcess(service, env, cwd=ROOT)  # its logs on this terminal
    process.start()
    return process


def show_mail(message: Any, rcpts: list[str]) -> None:
    """The demo's timeline line for an e-mail the mail catcher received."""
    subject = " ".join(str(message.get("Subject", "")).split())
    print(f"  mail   {subject}  ({len(rcpts)} recipient(s))", flush=True)


async def delete_namespace(amqp_url: str, namespace: str) -> None:
    await delete(amqp_url, namespace, retry_delays=(1.0, 5.0, 30.0))


def local_secret(data_dir: Path) -> str:
    """AUTH_SECRET if set, else this machine's own, made once and kept in DATA_DIR/auth-secret
    (readable by its owner only), so tokens minted with it keep working across runs."""
    given = os.environ.get("AUTH_SECRET")
    if given:
        return given
    path = data_dir / "auth-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def local_identity_keys(data_dir: Path) -> dict[str, str]:
    """IDENTITY_KEYS and IDENTITY_SEARCH_KEY if set, else this machine's own, made once and kept in
    DATA_DIR/identity-keys (readable by its owner only, never in a database), so what the services
    sealed in earlier runs still opens."""
    if os.environ.get("IDENTITY_KEYS") and os.environ.get("IDENTITY_SEARCH_KEY"):
        return {name: os.environ[name] for name in ("IDENTITY_KEYS", "IDENTITY_SEARCH_KEY")}
    path = data_dir / "identity-keys"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps({"IDENTITY_KEYS": "k1:" + KeyRing.new_key(),
                                    "IDENTITY_SEARCH_KEY": KeyRing.new_key()}))
    return json.loads(path.read_text())


def check(ports: dict[str, int], secret: str) -> None:
    name = f"Check Clinic {uuid.uuid4().hex[:6]}"
    admin = {"Authorization": "Bearer " + mint(secret, subject="run-check", roles=["administrator"], ttl_seconds=300)}
    r = httpx.post(f"http://127.0.0.1:{ports['convention']}/institutions", headers=admin,
                   json={"name": name, "kind": "clinic", "country": "DZ", "city": "Tipaza"}, timeout=10)
    r.raise_for_status()
    institution_id = r.json()["id"]
    for service in ("scheduling", "notification"):
        deadline = time.monotonic() + 30
        while httpx.get(f"http://127.0.0.1:{ports[service]}/institutions/{institution_id}", headers=admin,
                        timeout=5).status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"{service} never learnt of institution {institution_id}")
            time.sleep(0.2)
        print(f"check: {service} knows {name}", flush=True)


def main() -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="register an institution, see it replicated, stop")
    parser.add_argument("--port-offset", type=int, default=0, help="add to the ports 8001-8003")
    parser.add_argument("--no-demo", action="store_true", help="do not play the reference programmes")
    parser.add_argument("--exit-after-demo", action="store_true", help="stop once the demo is played")
    args = parser.parse_args()
    demo_mode = not args.no_demo and not args.check

    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    problem = broker_reachable(amqp_url)
    if problem:
        print(f"RabbitMQ is not reachable at {amqp_url.split('@')[-1]} ({problem}).\n"
              "Start it with `rabbitmq-server -detached`, or set AMQP_URL.", file=sys.stderr)
        return 2

    base_env = {**os.environ, "AMQP_URL": amqp_url}
    base_env.pop("DATABASE_URL", None)  # one URL cannot serve three databases
    secret_file = Path(base_env.get("DATA_DIR", ROOT / "data")) / "auth-secret"
    secret = local_secret(secret_file.parent)
    base_env["AUTH_SECRET"] = secret  # the services verify tokens with it; never printed
    base_env.update(local_identity_keys(secret_file.parent))  # the identity key ring; never printed
    base_env.setdefault("LOG_FORMAT", "console")
    mails = MailCatcher(on_message=show_mail)
    namespace = base_env.get("TOPOLOGY_NAMESPACE", "")
    if demo_mode:
        import shutil

        data_dir = Path(base_env.get("DATA_DIR", ROOT / "data")) / "demo"
        shutil.rmtree(data_dir, ignore_errors=True)  # the demo's own data, played afresh each time
        namespace = f"demo-{uuid.uuid4().hex[:6]}."
        data_dir.mkdir(parents=True)
        story_clock = data_dir / "clock"  # the demo moves time for all three services
        write_scenario_instant(story_clock, "2024-05-20T08:00:00Z")
        base_env.update({
            "DATA_DIR": str(data_dir), "TOPOLOGY_NAMESPACE": namespace,
            "SCENARIO_CLOCK_FILE": str(story_clock), "SMTP_PORT": str(mails.start()),
            "LOG_LEVEL": base_env.get("LOG_LEVEL", "WARNING"),  # the timeline is the show
            # The story moves its clock by weeks in seconds: the reminder job looks every second, so a
            # reminder the story makes due (the day-30 follow-ups) goes out before it moves on.
            "REMINDER_CHECK_INTERVAL": base_env.get("REMINDER_CHECK_INTERVAL", "1"),
        })
    ports = {s: p + args.port_offset for s, p in SERVICES.items()}
    procs = {s: start(s, ports[s], base_env) for s in SERVICES}
    web_port = WEB_PORT + args.port_offset
    people_file = Path(base_env.get("DATA_DIR", ROOT / "data")) / "people.json"
    web_env = {**base_env, "LOCAL_PEOPLE_FILE": str(people_file), "PUBLIC_URL": f"http://127.0.0.1:{web_port}",
               **{f"{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()}}
    procs["web"] = start("web", web_port, web_env)
    try:
        # A generous limit: on a busy machine three interpreters importing at once take
        # more than a minute, and someone who typed `make run` would rather wait than retry.
        for service, proc in procs.items():
            if not proc.wait_ready(timeout=READY_WITHIN):
                print(f"{service} did not become ready within {READY_WITHIN:.0f} s", file=sys.stderr)
                return 1
        for service, port in ports.items():
            print(f"{service:>12}: http://127.0.0.1:{port}/docs  (AsyncAPI: /asyncapi)", flush=True)
        print(f"{'web app':>12}: http://127.0.0.1:{web_port}/  (local sign-in: the demo's people)", flush=True)
        where = "" if os.environ.get("AUTH_SECRET") else f"--secret-file {secret_file} "
        print(f"every call needs a token: .venv/bin/python -m jumelage.auth mint {where}"
              "--subject me --role administrator", flush=True)
        if args.check:
            check(ports, secret)
            return 0
        if demo_mode:
            urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
            asyncio.run(demo.play(urls, amqp_url, f"{namespace}jumelage.events", story_clock,
                                  mails.messages, secret=secret, people_file=people_file))
            if args.exit_after_demo:
                return 0
        print("running; Ctrl-C stops them all", flush=True)
        # Blocked only now, after the children started (they inherit the mask).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait_stopped(timeout=20)
        if demo_mode:
            mails.stop()
            asyncio.run(delete_namespace(amqp_url, namespace))


if __name__ == "__main__":
    sys.exit(main())
