"""Messaging benchmark: our outbox relay and idempotent consumer against raw baselines.

Not a test: a script that prints one table, each figure of ours beside a raw
baseline measured in the same run (so the ratio holds on a noisy machine):

  (a) raw aio-pika: publish N persistent messages with publisher confirms to a
      quorum queue (batches of 500 in flight), then consume them with manual
      acks (prefetch 100);
  (b) raw aio-pika + asyncpg: one consumer, per message one PostgreSQL
      transaction (inbox insert, one effect upsert, one outbox insert), ack
      after commit;
  (c) our OutboxRelay draining N pending events (rows written first with
      UnitOfWork.record), vs (a)'s publish;
  (d) our consumer path (FastStream subscriber + EventConsumer + unit of work):
      d1 the convention service's real runtime consuming SurgeryCompleted (its
         handler upserts a progress fact; it records no outgoing event);
      d2 the same runtime machinery with a generic handler doing one effect
         upsert and one uow.record (inbox + effect + outbox), vs (b);
  (e) latency at low load of HTTP POST /missions on the scheduling service
      (real uvicorn over TCP) until the resulting NotificationSent is seen on
      the exchange: MissionScheduled reaches the notification service, which
      e-mails the host institution (its default audience) through a local SMTP
      server (aiosmtpd, its own process) and records NotificationSent; the three
      services run as processes of their own (as deployed: the target figure),
      then in this one process (for comparison). Every HTTP call carries a token
      minted once per identity (``ServicesClient.as_``), not in the timings.
  (o) request overhead at one client: an authenticated GET /institutions on an
      empty database (the convention service as deployed, a process of its own,
      over loopback TCP), beside its /health/live, beside a raw Starlette app
      doing the same read (the count and the first page) on the same database
      with the driver alone, and beside a floor (a fixed answer, no framework),
      requests of the four taking turns, from the lightest client (a blocking
      keep-alive socket); SQLite and PostgreSQL; the service's CPU per request;
      what the client costs (and what httpx.AsyncClient would add).

Usage (RabbitMQ and PostgreSQL running locally):

  .venv/bin/python scripts/bench.py            # N = 10000
  .venv/bin/python scripts/bench.py --quick    # N = 2000
  .venv/bin/python scripts/bench.py --only e   # one figure (d implies b and c)
  .venv/bin/python scripts/bench.py --only e --e-processes-only   # (e) as deployed only
  .venv/bin/python scripts/bench.py --only o   # request overhead

(e) also reports the CPU time the three service processes spent per command.
BENCH_KEEP_LOGS=1 keeps the (e) service processes' JSON logs and prints where.

AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/) and POSTGRES_URL
(default postgresql://postgres@127.0.0.1:5432/test). Everything runs under
unique queue/exchange names and fresh PostgreSQL schemas, removed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import asyncpg

from jumelage.testkit import servers
from jumelage.testkit.client import ServicesClient
from jumelage.testkit.mail import MailSinkProcess
from jumelage.testkit.ports import free_port
from jumelage.testkit.processes import ServiceProcess
from jumelage.testkit.servers import plain_pg
from jumelage.testkit.waiting import holds_within

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES_URL = os.environ.get("POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PUBLISH_BATCH = 500
RAW_PREFETCH = 100

RUN = f"bench{uuid.uuid4().hex[:8]}"
PARTS = "abcdefgho"  # in the order they run


def _setup_limits() -> Any:
    """The setup's httpx client drops a connection idle for 2 s itself: uvicorn closes one idle
    for 5 s, and a request sent on it just then fails (httpx.ReadError) on a busy machine."""
    import httpx

    return httpx.Limits(max_connections=20, keepalive_expiry=2.0)


SETUP_LIMITS = _setup_limits()


def say(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ fixtures ---


class Resources:
    """What this run created, removed at the end whatever happens."""

    def __init__(self) -> None:
        self.schemas: list[str] = []
        self.queues: list[str] = []
        self.exchanges: list[str] = []
        self._made: dict[tuple[str, str], int] = {}

    def _fresh(self, kind: str, suffix: str) -> str:
        # A figure measured again gets a schema and a namespace of its own.
        n = self._made[kind, suffix] = self._made.get((kind, suffix), 0) + 1
        return suffix if n == 1 else f"{suffix}{n}"

    async def schema(self, suffix: str) -> str:
        name = f"{RUN}_{self._fresh('schema', suffix)}"
        conn = await asyncpg.connect(plain_pg(POSTGRES_URL))
        try:
            await conn.execute(f'CREATE SCHEMA "{name}"')
        finally:
            await conn.close()
        self.schemas.append(name)
        return name

    def namespace(self, suffix: str) -> str:
        from jumelage.messaging.topology import Topology

        ns = f"{RUN}.{self._fresh('namespace', suffix)}."
        topology = Topology(namespace=ns)
        self.queues += [q.name for sq in topology.service_queues() for q in sq.all_queues()]
        self.exchanges += [topology.exchange_name, *(sq.forward_exchange_name for sq in topology.service_queues())]
        return ns

    async def cleanup(self) -> None:
        with suppress(Exception):
            conn = await aio_pika.connect(AMQP_URL)
            try:
                ch = await conn.channel()
                for name in self.queues:
                    with suppress(Exception):
                        await ch.queue_delete(name)
                for name in self.exchanges:
                    with suppress(Exception):
                        await ch.exchange_delete(name)
            finally:
                await conn.close()
        with suppress(Exception):
            conn = await asyncpg.connect(plain_pg(POSTGRES_URL))
            try:
                for name in self.schemas:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            finally:
                await conn.close()


async def migrate_convention(schema: str) -> None:
    """The convention service's tables (outbox, inbox, progress facts, ...) in ``schema``."""
    from convention.app import MIGRATIONS

    from jumelage.db import create_engine
    from jumelage.migrations import migrate

    engine = create_engine(POSTGRES_URL, schema=schema)
    try:
        await migrate(engine, MIGRATIONS)
        async with engine.begin() as conn:
            from sqlalchemy import text

            await conn.execute(text(
                "CREATE TABLE bench_effect (id uuid PRIMARY KEY, convention_id uuid NOT NULL, n integer NOT NULL)"
            ))
    finally:
        await engine.dispose()


def surgery_completed() -> Any:
    from jumelage.events import SurgeryCompleted

    return SurgeryCompleted(
        surgery_id=uuid.uuid4(), mission_id=uuid.uuid4(), convention_id=uuid.uuid4(),
        patient_ref=f"P-{uuid.uuid4().hex[:10]}", procedure="Tetralogy of Fallot repair",
        completed_at=datetime.now(UTC), duration_minutes=240, outcome="successful",
        previously_referred_abroad=True,
    )


def envelope_body() -> bytes:
    """A real SurgeryCompleted envelope, so raw and ours move the same bytes."""
    from jumelage.events import new_envelope

    return new_envelope(surgery_completed(), correlation_id=None, causation_id=None).to_json().encode()


async def declare_service_queue(namespace: str, service: str = "convention") -> None:
    """The service's queue (with retry/DLQ queues and bindings) under ``namespace``,
    declared before anything is published, as the broker definitions would."""
    from faststream.rabbit import RabbitBroker

    from jumelage.messaging.topology import Topology

    topology = Topology(namespace=namespace)
    broker = RabbitBroker(AMQP_URL, logger=None)
    await broker.connect()
    try:
        await topology.declare(broker, [topology.service_queue(service)])
    finally:
        await broker.stop()


async def queue_depth(name: str) -> int:
    return await servers.queue_depth(AMQP_URL, name)


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.05) -> None:
    if not await holds_within(check, timeout, interval):
        raise TimeoutError("benchmark step did not finish in time")


# ------------------------------------------------------- (a) raw aio-pika ---


async def raw_publish_consume(n: int, res: Resources) -> tuple[float, float]:
    body = envelope_body()
    queue_name = f"{RUN}.raw"
    res.queues.append(queue_name)
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel(publisher_confirms=True)
        await ch.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        t0 = time.perf_counter()
        for start in range(0, n, PUBLISH_BATCH):
            await asyncio.gather(*(
                ch.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                     message_id=str(uuid.uuid4()), content_type="application/cloudevents+json"),
                    routing_key=queue_name, mandatory=True,
                )
                for _ in range(min(PUBLISH_BATCH, n - start))
            ))
        publish_rate = n / (time.perf_counter() - t0)

        cch = await conn.channel()
        await cch.set_qos(prefetch_count=RAW_PREFETCH)
        q = await cch.get_queue(queue_name)
        done = asyncio.Event()
        count = 0

        async def on_message(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal count
            await msg.ack()
            count += 1
            if count >= n:
                done.set()

        t0 = time.perf_counter()
        tag = await q.consume(on_message)
        await asyncio.wait_for(done.wait(), timeout=300)
        consume_rate = n / (time.perf_counter() - t0)
        await q.cancel(tag)
        return publish_rate, consume_rate
    finally:
        await conn.close()


# ---------------------------------------------- (b) raw aio-pika + asyncpg ---


async def raw_transactional_consumer(n: int, res: Resources) -> tuple[float, float]:
    """One asyncpg connection, one message at a time: parse, BEGIN, inbox insert
    (ON CONFLICT DO NOTHING), effect upsert, outbox insert, COMMIT, ack."""
    schema = await res.schema("raw")
    await migrate_convention(schema)
    queue_name = f"{RUN}.rawtx"
    res.queues.append(queue_name)
    body = envelope_body()
    conn = await aio_pika.connect(AMQP_URL)
    pg = await asyncpg.connect(plain_pg(POSTGRES_URL), server_settings={"search_path": schema})
    try:
        ch = await conn.channel(publisher_confirms=True)
        await ch.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        for start in range(0, n, PUBLISH_BATCH):  # the feed: N different events
            msgs = []
            for _ in range(min(PUBLISH_BATCH, n - start)):
                doc = json.loads(body)
                doc["id"] = str(uuid.uuid4())
                doc["data"]["surgery_id"] = str(uuid.uuid4())
                msgs.append(json.dumps(doc).encode())
            await asyncio.gather(*(
                ch.default_exchange.publish(aio_pika.Message(m, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                            routing_key=queue_name)
                for m in msgs
            ))
        out_body = envelope_body().decode()
        # asyncpg prepares and caches these statements on first use
        inbox = (
            "INSERT INTO inbox (consumer, event_id, handled_at) VALUES ($1, $2, now()) "
            "ON CONFLICT DO NOTHING RETURNING event_id")
        effect = (
            "INSERT INTO bench_effect (id, convention_id, n) VALUES ($1, $2, 1) "
            "ON CONFLICT (id) DO UPDATE SET n = bench_effect.n + 1")
        outbox = (
            "INSERT INTO outbox (event_id, event_type, routing_key, correlation_id, envelope, created_at, attempts) "
            "VALUES ($1, 'InstitutionUpdated', 'institution.updated', $2, $3, now(), 0)")

        cch = await conn.channel()
        await cch.set_qos(prefetch_count=RAW_PREFETCH)
        q = await cch.get_queue(queue_name)
        count = 0
        t0, cpu0 = time.perf_counter(), time.process_time()
        async with q.iterator() as it:
            async for msg in it:
                doc = json.loads(msg.body)
                event_id = uuid.UUID(doc["id"])
                async with pg.transaction():
                    if await pg.fetchval(inbox, queue_name, event_id) is not None:
                        await pg.execute(effect, uuid.UUID(doc["data"]["surgery_id"]),
                                         uuid.UUID(doc["data"]["convention_id"]))
                        await pg.execute(outbox, uuid.uuid4(), doc["id"], out_body)
                await msg.ack()
                count += 1
                if count >= n:
                    break
        return n / (time.perf_counter() - t0), (time.process_time() - cpu0) / n * 1000
    finally:
        await pg.close()
        await conn.close()


# ------------------------------------------------------- (c) outbox relay ---


async def outbox_relay(n: int, res: Resources, batch_size: int) -> tuple[float, str]:
    """Our relay draining N pending SurgeryCompleted rows into the exchange of a
    namespace whose convention queue (quorum) receives them; returns the rate and
    the namespace, whose queue then feeds (d1)."""
    from faststream.rabbit import RabbitBroker

    from jumelage.db import UnitOfWork, create_engine, session_factory
    from jumelage.messaging.outbox import OutboxRelay
    from jumelage.messaging.topology import Topology

    schema = await res.schema("relay")
    await migrate_convention(schema)
    ns = res.namespace("relay")
    await declare_service_queue(ns)
    topology = Topology(namespace=ns)

    engine = create_engine(POSTGRES_URL, schema=schema)
    sessions = session_factory(engine)
    for start in range(0, n, 500):
        async with UnitOfWork(sessions) as uow:
            for _ in range(min(500, n - start)):
                uow.record(surgery_completed())
            await uow.commit()

    # Setup, not the relay's work: let PostgreSQL settle the bulk insert (statistics,
    # visibility map, dirty pages) now, rather than in the background of the timing.
    conn = await asyncpg.connect(plain_pg(POSTGRES_URL))
    try:
        await conn.execute(f'VACUUM (ANALYZE) "{schema}".outbox')
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    broker = RabbitBroker(AMQP_URL, logger=logging.getLogger("faststream.bench"))
    relay = OutboxRelay(sessions, broker, name="bench", exchange=topology.exchange, batch_size=batch_size)
    await broker.start()
    try:
        t0 = time.perf_counter()
        sent = 0
        while sent < n:
            got = await relay.relay_once()  # the loop of OutboxRelay.run, without its idle sleep
            if got == 0:
                raise RuntimeError(f"relay stopped after {sent} of {n}")
            sent += got
        rate = n / (time.perf_counter() - t0)
    finally:
        await broker.stop()
        await engine.dispose()
    return rate, ns


# ------------------------------------------------------------ (d) consumer ---


def bench_settings(schema: str, ns: str, **kw: Any) -> Any:
    from convention.app import Settings

    return Settings(
        amqp_url=AMQP_URL, database_url=POSTGRES_URL, database_schema=schema, topology_namespace=ns,
        declare_topology="own", log_format="json", log_level="INFO", expiry_check_interval=3600.0,
        auth_secret=BENCH_SECRET, **kw,
    )


async def inbox_count(schema: str) -> int:
    conn = await asyncpg.connect(plain_pg(POSTGRES_URL), server_settings={"search_path": schema})
    try:
        return await conn.fetchval("SELECT count(*) FROM inbox")
    finally:
        await conn.close()


async def consume_with_runtime(runtime: Any, schema: str, n: int, *, relay: bool) -> tuple[float, float]:
    """Start the runtime on a queue already holding N events; time until N are in its
    inbox. Returns events/s and this process's CPU milliseconds per event."""
    if not relay:
        runtime.relay.start = lambda: None  # measure the consumer alone, like (b)
    pg = await asyncpg.connect(plain_pg(POSTGRES_URL), server_settings={"search_path": schema})
    try:
        await runtime.start()
        await asyncio.wait_for(runtime.broker_connected.wait(), timeout=30)
        t0, cpu0 = time.perf_counter(), time.process_time()

        async def all_handled() -> bool:
            return await pg.fetchval("SELECT count(*) FROM inbox") >= n

        await wait_until(all_handled, timeout=600, interval=0.1)
        return n / (time.perf_counter() - t0), (time.process_time() - cpu0) / n * 1000
    finally:
        await runtime.stop()
        await pg.close()


async def convention_consumer(n: int, res: Resources, ns: str) -> tuple[float, float]:
    """(d1) The convention service's real runtime on the N SurgeryCompleted of (c)."""
    from convention.app import build_runtime

    schema = await res.schema("conv")
    await migrate_convention(schema)
    queue = f"{ns}convention.events"
    depth = await queue_depth(queue)
    if depth < n:
        raise RuntimeError(f"{queue} holds {depth} events, expected {n}")
    runtime = build_runtime(bench_settings(schema, ns))
    return await consume_with_runtime(runtime, schema, n, relay=False)


async def generic_consumer(n: int, res: Resources) -> tuple[float, float]:
    """(d2) ServiceRuntime (event_router -> EventConsumer -> UnitOfWork) with a
    handler doing one effect upsert and one uow.record."""
    from sqlalchemy import text

    from jumelage.events import CloudEvent, InstitutionUpdated, SurgeryCompleted
    from jumelage.service import ServiceRuntime

    schema = await res.schema("generic")
    await migrate_convention(schema)
    ns = res.namespace("generic")
    await declare_service_queue(ns)
    upsert = text("INSERT INTO bench_effect (id, convention_id, n) VALUES (:id, :c, 1) "
                  "ON CONFLICT (id) DO UPDATE SET n = bench_effect.n + 1")
    institution = uuid.uuid4()

    async def handler(event: CloudEvent[SurgeryCompleted], uow: Any) -> None:
        await uow.session.execute(upsert, {"id": event.data.surgery_id, "c": event.data.convention_id})
        uow.record(InstitutionUpdated(institution_id=institution, name="CMCI Bousmail", kind="clinic",
                                      country="DZ", city="Bou Ismail", wilaya="Tipaza"))

    # the feed, published raw to the exchange (routing key surgery.completed)
    conn = await aio_pika.connect(AMQP_URL)
    try:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(f"{ns}jumelage.events")
        from jumelage.events import new_envelope

        for start in range(0, n, PUBLISH_BATCH):
            await asyncio.gather(*(
                ex.publish(aio_pika.Message(
                    new_envelope(surgery_completed(), correlation_id=None, causation_id=None).to_json().encode(),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key="surgery.completed")
                for _ in range(min(PUBLISH_BATCH, n - start))
            ))
    finally:
        await conn.close()

    runtime = ServiceRuntime(bench_settings(schema, ns), handlers={SurgeryCompleted: handler})
    return await consume_with_runtime(runtime, schema, n, relay=False)


# ------------------------------------------------------------- (e) latency ---


BENCH_SECRET = secrets.token_urlsafe(48)  # the services of this run verify tokens with it


class Served:
    """One service's FastAPI app under uvicorn on a loopback port, in this process."""

    def __init__(self, name: str, app: Any, port: int) -> None:
        import uvicorn

        self.name, self.app, self.port = name, app, port
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                   access_log=False, lifespan="on"))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        await wait_until(lambda: _true(self.server.started), timeout=30)
        await asyncio.wait_for(self.app.state.runtime.broker_connected.wait(), timeout=30)

    def cpu_seconds(self) -> float:
        # All three share this process (and the client): counted once, by the first.
        return time.process_time() if self.name == "convention" else 0.0

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with suppress(Exception):
                await asyncio.wait_for(self.task, timeout=30)


class ServedProcess:
    """One service as a process of its own (``python -m <service> serve``), as deployed."""

    def __init__(self, name: str, env: dict[str, str], logs: Path, profile: str | None = None) -> None:
        self.name, self.port = name, int(env["HTTP_PORT"])
        # --profile: under scripts/profiled.py, whose cProfile SIGUSR1 starts and SIGUSR2 stops.
        command = None if profile is None else [sys.executable, str(Path(__file__).with_name("profiled.py")),
                                                 name, profile]
        self.process = ServiceProcess(name, env, logs, command=command)

    def profiling(self, on: bool) -> None:
        if self.process.command[1:2] == [str(Path(__file__).with_name("profiled.py"))]:
            import httpx

            httpx.post(f"http://127.0.0.1:{self.port}/__profile/{'start' if on else 'stop'}", timeout=60)

    async def start(self) -> None:
        self.process.start()
        # Migrating at start on a busy machine (load 15-20 on 2 cores) took over the 60 s default.
        await self.process.ready(timeout=300)

    async def stop(self) -> None:
        await self.process.stop()

    def cpu_seconds(self) -> float:
        return self.process.cpu_seconds()


async def http_to_notification_latency(samples: int, res: Resources, *, processes: bool) -> dict[str, list[float]]:
    """POST /missions on the scheduling service (real uvicorn over TCP) until the
    NotificationSent of the e-mail to the host institution is seen on the exchange.

    The three services run each on its own PostgreSQL schema, either in this
    process (one event loop for all three and this client) or, with
    ``processes``, as three processes of their own, as deployed; the
    notification service delivers to a local SMTP server (aiosmtpd, in a
    process of its own). Setup, through the APIs: two institutions and a signed
    convention (convention service), the host institution's contact
    (notification service). Each sample schedules a new mission at that host
    with a new practitioner (no overlap): MissionScheduled goes to the host
    institution by default (notification routing), which gets one e-mail, then
    NotificationSent. Matched by the correlation id sent with the command.
    """
    import tempfile

    import httpx
    from convention.app import MIGRATIONS as CONVENTION_MIGRATIONS
    from convention.app import Settings as ConventionSettings
    from convention.app import create_app as convention_app
    from notification.app import MIGRATIONS as NOTIFICATION_MIGRATIONS
    from notification.app import Settings as NotificationSettings
    from notification.app import create_app as notification_app
    from scheduling.app import MIGRATIONS as SCHEDULING_MIGRATIONS
    from scheduling.app import Settings as SchedulingSettings
    from scheduling.app import create_app as scheduling_app

    from jumelage.migrations import migrate

    ns = res.namespace("latency")
    await declare_service_queue(ns)  # the exchange, as the broker definitions would
    smtp = MailSinkProcess()
    smtp_port = smtp.start()
    common = {"amqp_url": AMQP_URL, "database_url": POSTGRES_URL, "topology_namespace": ns,
              "log_format": "json", "log_level": "INFO", "auth_secret": BENCH_SECRET}
    specs = [
        ("convention", ConventionSettings, convention_app, CONVENTION_MIGRATIONS, {"expiry_check_interval": 3600.0}),
        ("scheduling", SchedulingSettings, scheduling_app, SCHEDULING_MIGRATIONS, {}),
        ("notification", NotificationSettings, notification_app, NOTIFICATION_MIGRATIONS,
         {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_timeout": 10.0, "reminder_check_interval": 3600.0}),
    ]
    served: dict[str, Any] = {}
    logs = Path(tempfile.mkdtemp(prefix="jumelage-bench-"))  # the processes' JSON logs
    for name, settings_cls, create, migrations, extra in specs:
        schema = await res.schema(f"lat_{name}")
        port = free_port()
        if processes:
            env = {**os.environ, **{k.upper(): str(v) for k, v in {**common, **extra}.items()},
                   "DATABASE_SCHEMA": schema, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port),
                   "MIGRATE_ON_START": "true", "PYTHONUNBUFFERED": "1"}
            env.pop("SECRETS_DIR", None)
            served[name] = ServedProcess(name, env, logs)
        else:
            app = create(settings_cls(**common, database_schema=schema, http_port=port, **extra))
            await migrate(app.state.runtime.engine, migrations)
            served[name] = Served(name, app, port)

    arrived: dict[tuple[str, str], float] = {}  # (event type, correlation id) -> when seen
    new_arrival = asyncio.Event()
    conn = await aio_pika.connect(AMQP_URL)
    try:
        for s in served.values():
            await s.start()
        ch = await conn.channel()
        ex = await ch.get_exchange(f"{ns}jumelage.events")
        tap = await ch.declare_queue("", exclusive=True)
        for key in ("mission.scheduled", "notification.*"):
            await tap.bind(ex, key)

        async def on_message(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            now = time.perf_counter()
            await msg.ack()
            doc = json.loads(msg.body)
            arrived.setdefault((doc.get("type"), doc.get("correlationid")), now)
            new_arrival.set()

        await tap.consume(on_message)
        async with httpx.AsyncClient(timeout=30, limits=SETUP_LIMITS) as client:
            urls = {name: f"http://127.0.0.1:{s.port}" for name, s in served.items()}
            api = ServicesClient(urls, BENCH_SECRET, client).as_("bench", "administrator")  # registers the institutions
            institution = {"kind": "hospital", "country": "DZ"}
            host = (await api.call("convention", "POST", "/institutions",
                                   {**institution, "name": "EPH Tiaret", "city": "Tiaret"}))["id"]
            visiting = (await api.call("convention", "POST", "/institutions",
                                       {**institution, "name": "CHU Oran", "city": "Oran"}))["id"]
            # The host's coordinator (who may also register its mailbox): drafts, schedules, subscribes.
            api = api.as_("bench", "coordinator", institution=host)
            today = datetime.now(UTC).date()
            convention = await api.call("convention", "POST", "/conventions", {
                "reference": f"BENCH-{RUN}", "title": "Jumelage en chirurgie générale",
                "kind": "twinning", "parties": [{"institution_id": visiting, "role": "provider"},
                                                {"institution_id": host, "role": "beneficiary"}],
                "effective_from": today.isoformat(), "effective_until": today.replace(year=today.year + 2).isoformat(),
                "specialties": ["general surgery"],
                "objectives": {"surgeries": 10, "consultations": 10, "training_sessions": 1},
            })
            await api.call("convention", "POST", f"/conventions/{convention['id']}/sign",
                           {"signed_on": today.isoformat(), "signed_at": "Oran"})
            await api.until("scheduling", f"/conventions/{convention['id']}", lambda c: c["status"] == "signed")
            await api.call("notification", "POST", "/contacts", {
                "kind": "institution", "institution_id": host, "email": "direction@eph-tiaret.example.dz",
                "language": "fr"})

            to_sent: list[float] = []
            to_scheduled: list[float] = []
            to_response: list[float] = []
            starts = today.replace(year=today.year + 1)
            cpu_start: dict[str, float] = {}
            for i in range(samples + 5):  # the first 5 warm up
                if i == 5:
                    cpu_start = {name: s.cpu_seconds() for name, s in served.items()}
                correlation = f"bench-{RUN}-{i}"
                body = {"convention_id": convention["id"], "host_institution_id": host,
                        "visiting_institution_id": visiting, "specialty": "general surgery",
                        "starts_on": starts.isoformat(), "ends_on": starts.isoformat(),
                        "team": [{"practitioner_id": str(uuid.uuid4()), "full_name": f"Dr Bench {i}",
                                  "role": "surgeon"}]}
                t0 = time.perf_counter()
                await api.call("scheduling", "POST", "/missions", body, headers={"X-Correlation-ID": correlation})
                t1 = time.perf_counter()
                while ("NotificationSent", correlation) not in arrived:
                    failed = arrived.get(("NotificationFailed", correlation))
                    if failed is not None:
                        raise RuntimeError(f"the notification of sample {i} failed")
                    new_arrival.clear()
                    await asyncio.wait_for(new_arrival.wait(), timeout=30)
                if i >= 5:
                    to_response.append(t1 - t0)
                    to_sent.append(arrived[("NotificationSent", correlation)] - t0)
                    to_scheduled.append(arrived.get(("MissionScheduled", correlation), t1) - t0)
                await asyncio.sleep(0.02)  # low load: one command at a time, with pauses
            each = {name: (s.cpu_seconds() - cpu_start[name]) / samples for name, s in served.items()}
        return {"sent": to_sent, "scheduled": to_scheduled, "response": to_response,
                "cpu": [sum(each.values())], "cpu_each": [each[name] for name, *_ in specs]}
    finally:
        await stop_served(served, smtp, logs)
        await conn.close()


# ------------------------------------------------------ (o) request overhead ---


def raw_institutions_app(kind: str, url: str, schema: str | None) -> Any:
    """Starlette and the driver alone: the count and the first page of institutions, as JSON."""
    import aiosqlite
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    count = "SELECT count(*) FROM institution"
    page = ("SELECT id, name, kind, country, city, wilaya, registered_at FROM institution "
            "ORDER BY name, id LIMIT 50 OFFSET 0")
    columns = ("id", "name", "kind", "country", "city", "wilaya", "registered_at")
    held: dict[str, Any] = {}

    async def institutions(_request: Any) -> JSONResponse:
        if kind == "sqlite":
            db = held["db"]
            await db.execute("BEGIN")  # one snapshot for both, as the service's read
            try:
                total = (await (await db.execute(count)).fetchone())[0]
                rows = await (await db.execute(page)).fetchall()
            finally:
                await db.execute("ROLLBACK")
        else:
            async with held["pool"].acquire() as conn:
                total = await conn.fetchval(count)
                rows = await conn.fetch(page)
        items = [{c: str(v) if c in ("id", "registered_at") and v is not None else v for c, v in zip(columns, r)}
                 for r in rows]
        return JSONResponse({"items": items, "total": total, "limit": 50, "offset": 0})

    @asynccontextmanager
    async def lifespan(_app: Any):  # type: ignore[no-untyped-def]
        if kind == "sqlite":
            held["db"] = await aiosqlite.connect(url.split("///", 1)[1], isolation_level=None)
            await held["db"].execute("PRAGMA journal_mode=WAL")
        else:
            held["pool"] = await asyncpg.create_pool(plain_pg(url), min_size=1, max_size=2,
                                                     server_settings={"search_path": schema or "public"})
        try:
            yield
        finally:
            await (held["db"].close() if kind == "sqlite" else held["pool"].close())

    return Starlette(routes=[Route("/institutions", institutions)], lifespan=lifespan)


FLOOR_ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


def serve(argv: list[str]) -> None:
    """``bench.py serve raw KIND URL SCHEMA PORT`` / ``serve floor PORT``: (o)'s baselines, each a
    process of its own like the service, on the event loop uvicorn picks for it (uvloop)."""
    import uvicorn

    if argv[0] == "mix":
        serve_mix(argv[1], argv[2], int(argv[3]))
        return
    if argv[0] == "raw":
        kind, url, schema, port = argv[1], argv[2], argv[3] or None, int(argv[4])
        uvicorn.run(raw_institutions_app(kind, url, schema), host="127.0.0.1", port=port, log_config=None,
                    access_log=False, lifespan="on")
        return
    port = int(argv[1])

    class Floor(asyncio.Protocol):
        """No HTTP framework at all: a fixed answer to each request (one at a time, as (o) sends them)."""

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if data.endswith(b"\r\n\r\n"):
                self.transport.write(FLOOR_ANSWER)

    async def floor() -> None:
        server = await asyncio.get_running_loop().create_server(Floor, "127.0.0.1", port)
        await server.serve_forever()

    try:
        import uvloop  # uvicorn's choice for the others when it is installed
    except ImportError:
        asyncio.run(floor())
    else:
        uvloop.run(floor())


class KeepAlive:
    """One HTTP/1.1 keep-alive connection and one GET, sent again and again: a blocking socket
    and a few lines of parsing, the lightest client there is in Python (about 30 us a request
    here; ``httpx.AsyncClient`` costs about 2 ms more, reported beside), so the figures are
    the server's."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        import socket

        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.request = f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()
        self.path = path
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get(self) -> float:
        """Seconds from sending the request to the last byte of a 200."""
        t0 = time.perf_counter()
        self.sock.sendall(self.request)
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        head, body = buf[:end], buf[end + 4:]
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                       if line.lower().startswith(b"content-length:")), None)
        if length is None:
            raise RuntimeError(f"GET {self.path}: no Content-Length in {head[:300]!r}")
        while len(body) < length:
            body += self._recv()
        elapsed = time.perf_counter() - t0
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            raise RuntimeError(f"GET {self.path}: {status} {body[:300]!r}")
        return elapsed

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"GET {self.path}: the server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def take_turns(clients: dict[str, KeepAlive], samples: int, warm_up: int = 100) -> tuple[dict[str, list[float]], float]:
    """Each client's GET in turn, ``samples`` times after ``warm_up``; and the client's own CPU
    seconds per request (this thread's)."""
    times: dict[str, list[float]] = {name: [] for name in clients}
    cpu0 = time.thread_time()
    for i in range(warm_up + samples):
        for name, client in clients.items():
            elapsed = client.get()
            if i >= warm_up:
                times[name].append(elapsed)
    return times, (time.thread_time() - cpu0) / ((warm_up + samples) * len(clients))


def burst(client: KeepAlive, n: int) -> None:
    for _ in range(n):
        client.get()


async def httpx_live(port: int, samples: int) -> list[float]:
    """The client (o) used before, on the same /health/live, for the client's cost."""
    import httpx

    times = []
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(samples + 100):
            t0 = time.perf_counter()
            response = await client.get(f"http://127.0.0.1:{port}/health/live")
            elapsed = time.perf_counter() - t0
            response.raise_for_status()
            if i >= 100:
                times.append(elapsed)
    return times


def _process(command: list[str], logs: Path, name: str) -> Any:
    import subprocess

    out = (logs / f"{name}.log").open("wb")
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


async def _listening(port: int, proc: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"a baseline server exited ({proc.args})")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port} within {timeout}s")


async def request_overhead(samples: int, res: Resources) -> dict[str, Any]:
    """Seconds per request at one client (each waits for the previous answer), per database.

    The convention service runs as deployed (``python -m convention serve``: uvicorn, uvloop,
    httptools), and so do the two baselines: the raw app (the same read with Starlette and the
    driver alone) and the floor (a fixed answer, no framework: what the client and the loopback
    cost). The client is :class:`KeepAlive`; requests to the four take turns. Then the service's
    CPU per request, from /proc, over a burst of each of its two routes."""
    import tempfile

    from jumelage.testkit.processes import ServiceProcess

    logs = Path(tempfile.mkdtemp(prefix="jumelage-bench-h-"))
    out: dict[str, Any] = {}
    floor_port = free_port()
    floor = _process([sys.executable, __file__, "serve", "floor", str(floor_port)], logs, "floor")
    try:
        await _listening(floor_port, floor)
        for kind in ("sqlite", "postgresql"):
            schema = "" if kind == "sqlite" else await res.schema("overhead")
            url = f"sqlite+aiosqlite:///{logs / 'convention.db'}" if kind == "sqlite" else POSTGRES_URL
            port, raw_port = free_port(), free_port()
            env = {**os.environ, "AMQP_URL": AMQP_URL, "DATABASE_URL": url, "DATABASE_SCHEMA": schema,
                   "TOPOLOGY_NAMESPACE": res.namespace(f"overhead{kind}"), "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
                   "AUTH_SECRET": BENCH_SECRET, "EXPIRY_CHECK_INTERVAL": "3600", "HTTP_HOST": "127.0.0.1",
                   "HTTP_PORT": str(port), "MIGRATE_ON_START": "true", "PYTHONUNBUFFERED": "1"}
            env.pop("SECRETS_DIR", None)
            service = ServiceProcess("convention", env, logs)
            service.start()
            raw = None
            clients: dict[str, KeepAlive] = {}
            try:
                # Listening once migrated and started (MIGRATE_ON_START); the broker plays no part in these
                # routes, so its state is not waited for.
                assert service.proc is not None
                await _listening(port, service.proc)
                raw = _process([sys.executable, __file__, "serve", "raw", kind, url, schema, str(raw_port)], logs,
                               f"raw-{kind}")
                await _listening(raw_port, raw)
                reader = ServicesClient({}, BENCH_SECRET).as_("bench", "coordinator", institution=str(uuid.uuid4()))
                clients = {"floor": KeepAlive(floor_port, "/"), "live": KeepAlive(port, "/health/live"),
                           "raw": KeepAlive(raw_port, "/institutions"),
                           "ours": KeepAlive(port, "/institutions", reader.headers())}
                times, client_cpu = await asyncio.to_thread(take_turns, clients, samples)
                cpu = {}
                for name in ("live", "ours"):
                    before = service.cpu_seconds()
                    await asyncio.to_thread(burst, clients[name], samples)
                    cpu[name] = (service.cpu_seconds() - before) / samples
                out[kind] = {"times": times, "client_cpu": client_cpu, "server_cpu": cpu}
                if kind == "sqlite":
                    out["httpx_live"] = await httpx_live(port, samples)
                    out["keepalive_live"] = times["live"]
            finally:
                for client in clients.values():
                    client.close()
                if raw is not None:
                    raw.terminate()
                    raw.wait()
                await service.stop()
    finally:
        floor.terminate()
        floor.wait()
        drop_logs(logs)
    return out


async def _true(value: bool) -> bool:
    return value


async def in_rounds(rounds: int, first_baseline: float, *, baseline: Callable[[], Awaitable[tuple[float, Any]]],
                    baseline_name: str, ours: Callable[[], Awaitable[tuple[float, Any]]],
                    ours_name: str) -> tuple[list[tuple[float, Any]], float, str]:
    """Rounds of ours, each bracketed by the baseline: the machine's speed drifts
    within minutes, so each of our figures is set against the mean of the baseline
    measured just before it and just after it (the first round's "before" is the
    baseline already measured; each "after" is the next round's "before"). Returns
    our results, the median ratio, and the ratios of the rounds as a note."""
    results: list[tuple[float, Any]] = []
    ratios: list[float] = []
    before = first_baseline
    for k in range(rounds):
        say(f"{ours_name}, round {k + 1} of {rounds} ...")
        results.append(await ours())
        say(f"{baseline_name} again, after round {k + 1} ...")
        after = (await baseline())[0]
        ratios.append(results[-1][0] / ((before + after) / 2))
        before = after
    each = f" (median of rounds {', '.join(f'{r:.2f}' for r in ratios)})" if len(ratios) > 1 else ""
    return results, statistics.median(ratios), each


# ------------------------------------------------- (f) many people at once ---

LOAD_ROOMS = 10  # operating rooms at the host, and as many surgeons on the mission: one slot each an hour
LOAD_DAYS = 28  # the mission's length


def load_case_body(i: int) -> dict[str, Any]:
    return {"patient": {"full_name": f"Patient Bench {i}", "date_of_birth": "2024-02-14", "sex": "female",
                        "weight_kg": 11.5},
            "diagnosis": "Communication interventriculaire", "planned_procedure": "Fermeture de CIV",
            "priority": 1 + i % 3, "expected_duration_minutes": 60, "risk_scheme": "RACHS-1", "risk_category": 2,
            "referred_abroad": False}


class HttpConn(KeepAlive):
    """KeepAlive for any method, with a JSON body; returns (status, seconds)."""

    def __init__(self, port: int, headers: dict[str, str], timeout: float = 60) -> None:
        self.port, self.headers, self.path, self.timeout = port, headers, "/", timeout
        self._connect()
        self.used = time.monotonic()

    def _connect(self) -> None:
        import socket

        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, float]:
        # uvicorn closes a keep-alive connection idle for 5 s: open a new one first, as any
        # HTTP client's pool does (not in the timing).
        if time.monotonic() - self.used > 4.0:
            self.sock.close()
            self._connect()
        try:
            return self._send(method, path, body)
        finally:
            self.used = time.monotonic()

    def _send(self, method: str, path: str, body: Any = None) -> tuple[int, float]:
        self.path = path
        data = b"" if body is None else json.dumps(body).encode()
        extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        if body is not None:
            extra += f"content-type: application/json\r\ncontent-length: {len(data)}\r\n"
        t0 = time.perf_counter()
        self.sock.sendall(f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n{extra}\r\n".encode() + data)
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv()
        head, rest = buf[:end], buf[end + 4:]
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                       if line.lower().startswith(b"content-length:")), 0)
        while len(rest) < length:
            rest += self._recv()
        elapsed = time.perf_counter() - t0
        status = int(head.split(b" ", 2)[1])
        if status >= 300:
            say(f"    {method} {path}: {status} {rest[:300]!r}")
        return status, elapsed


Op = tuple[str, str, str, Any]  # (service, method, path, body)


def run_clients(ports: dict[str, int] | list[dict[str, int]], headers: dict[str, str],
                scripts: list[list[Op]]) -> dict[str, Any]:
    """One thread per client, each with a keep-alive connection to each service, sending its
    script one request after the other; all start together. Latencies by operation. ``ports``
    as a list: one per replica of the services, client ``i`` talking to replica ``i % len``."""
    replicas = ports if isinstance(ports, list) else [ports]
    import threading

    times: dict[str, list[float]] = {}
    errors: list[str] = []  # a client that lost its connection
    refused: list[str] = []  # requests answered with a status >= 300
    lock = threading.Lock()
    go = threading.Barrier(len(scripts) + 1)

    def client(i: int, script: list[Op]) -> None:
        conns: dict[str, HttpConn] = {}
        mine: list[tuple[str, float]] = []
        try:
            conns = {name: HttpConn(port, headers) for name, port in replicas[i % len(replicas)].items()}
            go.wait()
            for service, method, path, body in script:
                status, elapsed = conns[service].send(method, path, body)
                if status >= 300:
                    with lock:
                        refused.append(f"{method} {service}{op_name(path)}: {status}")
                mine.append((f"{method} {op_name(path)}", elapsed))
        except Exception as e:  # noqa: BLE001 (reported, the run fails)
            with lock:
                errors.append(f"{type(e).__name__}: {e}")
            if go.n_waiting and not go.broken:
                go.abort()
        finally:
            for c in conns.values():
                c.close()
            with lock:
                for name, elapsed in mine:
                    times.setdefault(name, []).append(elapsed)

    threads = [threading.Thread(target=client, args=(i, s), daemon=True) for i, s in enumerate(scripts)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:  # its figures would be incomplete
        raise RuntimeError(f"{len(errors)} clients failed, first: {errors[0]}")
    return {"times": times, "wall": wall, "count": sum(len(v) for v in times.values()), "refused": refused}


def op_name(path: str) -> str:
    """A path with its ids as {id}, for grouping latencies by route."""
    return "/".join("{id}" if len(p) == 36 and p.count("-") == 4 else p for p in path.split("?")[0].split("/"))


def raw_mix_app(kind: str, dbs: dict[str, str], tz: str) -> Any:
    """Starlette and the drivers alone, the same reads and writes as the services' routes of
    the (f) mixes, on the same databases: per read the same rows; per write the row(s) the
    service inserts (copied from one it made at setup, with new ids and the request's values),
    the same overlap check for a surgery, and one outbox row, in one transaction."""
    import aiosqlite
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    held: dict[str, Any] = {}
    templates: dict[str, dict[str, Any]] = {}

    def param(v: Any) -> Any:
        return v.hex if kind == "sqlite" and isinstance(v, uuid.UUID) else v

    def sql(q: str) -> str:  # $1 ... for asyncpg, ? for sqlite
        if kind == "sqlite":
            import re

            return re.sub(r"\$\d+", "?", q)
        return q

    def ident(v: str) -> Any:
        return uuid.UUID(v).hex if kind == "sqlite" else uuid.UUID(v)

    def stamp(v: datetime) -> Any:
        return v.strftime("%Y-%m-%d %H:%M:%S.%f") if kind == "sqlite" else v

    @asynccontextmanager
    async def reading(db: str):  # type: ignore[no-untyped-def]
        if kind == "sqlite":
            conn = await held[db, "read"].get()
            try:
                await conn.execute("BEGIN")
                try:
                    yield SqliteQ(conn)
                finally:
                    await conn.execute("ROLLBACK")
            finally:
                held[db, "read"].put_nowait(conn)
        else:
            async with held[db].acquire() as conn, conn.transaction(readonly=True):
                yield PgQ(conn)

    @asynccontextmanager
    async def writing(db: str):  # type: ignore[no-untyped-def]
        if kind == "sqlite":
            async with held[db, "lock"]:
                conn = held[db, "write"]
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield SqliteQ(conn)
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
        else:
            async with held[db].acquire() as conn, conn.transaction():
                yield PgQ(conn)

    class SqliteQ:
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        async def rows(self, q: str, *args: Any) -> list[dict[str, Any]]:
            cur = await self.conn.execute(sql(q), [param(a) for a in args])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in await cur.fetchall()]

        async def run(self, q: str, *args: Any) -> None:
            await self.conn.execute(sql(q), [param(a) for a in args])

        async def many(self, q: str, rows: list[tuple[Any, ...]]) -> None:
            await self.conn.executemany(sql(q), [[param(a) for a in r] for r in rows])

    class PgQ:
        def __init__(self, conn: Any) -> None:
            self.conn = conn

        async def rows(self, q: str, *args: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in await self.conn.fetch(q, *args)]

        async def run(self, q: str, *args: Any) -> None:
            await self.conn.execute(q, *args)

        async def many(self, q: str, rows: list[tuple[Any, ...]]) -> None:
            await self.conn.executemany(q, rows)

    async def insert_like(q: Any, table: str, template: str | None = None, **values: Any) -> None:
        row = {**templates[template or table], **values}
        row.pop("seq", None)
        cols = list(row)
        await q.run(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                    f"({', '.join(f'${i + 1}' for i in range(len(cols)))})", *row.values())

    async def outbox(q: Any, db: str) -> None:
        """The change's audit row, and its event when the service records one for it."""
        now = stamp(datetime.now(UTC))
        await insert_like(q, "audit", f"{db}_audit", at=now)
        if f"{db}_outbox" in templates:
            await insert_like(q, "outbox", f"{db}_outbox", event_id=ident(str(uuid.uuid4())), published_at=None,
                              created_at=now)

    def jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v if isinstance(v, int | float | str | None) else str(v) for k, v in r.items()} for r in rows]

    async def convention(request: Any) -> JSONResponse:
        cid = ident(request.path_params["id"])
        async with reading("convention") as q:
            rows = await q.rows("SELECT * FROM convention WHERE id = $1", cid)
            parties = await q.rows("SELECT * FROM convention_party WHERE convention_id = $1", cid)
            specialties = await q.rows("SELECT * FROM convention_specialty WHERE convention_id = $1", cid)
        return JSONResponse({**jsonable(rows)[0], "parties": jsonable(parties), "specialties": jsonable(specialties)})

    async def surgeries(request: Any) -> JSONResponse:
        mid = ident(request.path_params["id"])
        if request.method == "GET":
            async with reading("scheduling") as q:
                await q.rows("SELECT * FROM mission WHERE id = $1", mid)  # the access check's read
                rows = await q.rows("SELECT * FROM surgery WHERE mission_id = $1 ORDER BY scheduled_start", mid)
            return JSONResponse(jsonable(rows))
        body = await request.json()
        start = datetime.fromisoformat(body["scheduled_start"]).astimezone(UTC)
        end = start + timedelta(minutes=60)
        async with writing("scheduling") as q:
            case = (await q.rows("SELECT * FROM patient_case WHERE id = $1", ident(body["case_id"])))[0]
            await q.rows("SELECT * FROM mission WHERE id = $1", mid)
            await q.rows("SELECT * FROM mission_member WHERE mission_id = $1", mid)
            await q.rows("SELECT * FROM operating_room WHERE id = $1", ident(body["operating_room_id"]))
            clash = await q.rows(
                "SELECT id FROM surgery WHERE scheduled_start < $1 AND scheduled_end > $2 AND status <> 'cancelled' "
                "AND (operating_room_id = $3 OR lead_surgeon_id = $4)",
                stamp(end), stamp(start), ident(body["operating_room_id"]), ident(body["lead_surgeon_id"]))
            if clash:
                return JSONResponse({"detail": "taken"}, status_code=409)
            await insert_like(q, "surgery", id=ident(str(uuid.uuid4())), mission_id=mid, case_id=case["id"],
                              patient_ref=case["patient_ref"], operating_room_id=ident(body["operating_room_id"]),
                              scheduled_start=stamp(start), scheduled_end=stamp(end),
                              lead_surgeon_id=ident(body["lead_surgeon_id"]))
            await q.run("UPDATE patient_case SET status = 'scheduled', version = version + 1 WHERE id = $1",
                        case["id"])
            await outbox(q, "scheduling")
        return JSONResponse({"id": "x"}, status_code=201)

    async def consultations(request: Any) -> JSONResponse:
        mid = ident(request.path_params["id"])
        body = await request.json()
        case_id = ident(str(uuid.uuid4()))
        async with writing("scheduling") as q:
            await q.rows("SELECT * FROM mission WHERE id = $1", mid)
            await insert_like(q, "patient_case", id=case_id, patient_ref=f"P-{uuid.uuid4().hex[:12]}",
                              full_name=body["new_patient"]["patient"]["full_name"])
            await insert_like(q, "consultation", id=ident(str(uuid.uuid4())), mission_id=mid, case_id=case_id,
                              scheduled_at=stamp(datetime.fromisoformat(body["scheduled_at"]).astimezone(UTC)))
            await outbox(q, "scheduling")
        return JSONResponse({"id": "x"}, status_code=201)

    async def cases(request: Any) -> JSONResponse:
        iid = ident(request.path_params["id"])
        async with reading("scheduling") as q:
            # the first page, as the service's route answers it (keyset paged, ``limit`` rows)
            limit = min(200, int(request.query_params.get("limit", "50")))
            rows = await q.rows("SELECT * FROM patient_case WHERE host_institution_id = $1 AND status = 'waiting' "
                                f"ORDER BY priority, registered_at, id LIMIT {limit}", iid)
        # As the route must (jumelage.identity_access): who saw each patient, written before the answer.
        now = stamp(datetime.now(UTC))
        async with writing("scheduling") as q:
            await q.many("INSERT INTO identity_access (at, subject, institution_id, roles, action, target, what, "
                         "patient_ref, host_institution_id, correlation_id) "
                         "VALUES ($1, 'bench', $2, 'clinician coordinator', 'GET /institutions/{id}/cases', $3, "
                         "'case_list', $4, $5, NULL)",
                         [(now, iid, request.url.path, r["patient_ref"], iid) for r in rows])
        return JSONResponse(jsonable(rows))

    async def contacts(request: Any) -> JSONResponse:
        body = await request.json()
        async with writing("notification") as q:
            await insert_like(q, "contact", id=ident(str(uuid.uuid4())), subject_ref=body["practitioner_id"],
                              email=body["email"])
            await outbox(q, "notification")
        return JSONResponse({"id": "x"}, status_code=201)

    @asynccontextmanager
    async def lifespan(_app: Any):  # type: ignore[no-untyped-def]
        for db, where in dbs.items():
            if kind == "sqlite":
                path = where.split("///", 1)[1]
                held[db, "write"] = await aiosqlite.connect(path, isolation_level=None)
                held[db, "lock"] = asyncio.Lock()
                held[db, "read"] = asyncio.Queue()
                for _ in range(4):
                    c = await aiosqlite.connect(path, isolation_level=None)
                    await c.execute("PRAGMA busy_timeout = 30000")
                    held[db, "read"].put_nowait(c)
                await held[db, "write"].execute("PRAGMA busy_timeout = 30000")
            else:
                held[db] = await asyncpg.create_pool(plain_pg(POSTGRES_URL), min_size=2, max_size=10,
                                                     server_settings={"search_path": where})
        for db, table in (("scheduling", "surgery"), ("scheduling", "consultation"), ("scheduling", "patient_case"),
                          ("notification", "contact"), ("scheduling", "outbox"), ("notification", "outbox"),
                          ("scheduling", "audit"), ("notification", "audit")):
            async with reading(db) as q:
                found = await q.rows(f"SELECT * FROM {table} ORDER BY 1 DESC LIMIT 1")
            if found:  # the notification service records no event for a new contact
                templates[table if table not in ("outbox", "audit") else f"{db}_{table}"] = found[0]
        try:
            yield
        finally:
            for key, value in held.items():
                if kind == "sqlite" and key[1] == "read":
                    while not value.empty():
                        await value.get_nowait().close()
                elif kind == "sqlite" and key[1] == "write":
                    await value.close()
                elif kind != "sqlite":
                    await value.close()

    return Starlette(routes=[
        Route("/conventions/{id}", convention), Route("/missions/{id}/surgeries", surgeries, methods=["GET", "POST"]),
        Route("/missions/{id}/consultations", consultations, methods=["POST"]),
        Route("/institutions/{id}/cases", cases), Route("/contacts", contacts, methods=["POST"]),
    ], lifespan=lifespan)


def serve_mix(kind: str, dbs_json: str, port: int) -> None:
    import uvicorn

    uvicorn.run(raw_mix_app(kind, json.loads(dbs_json), "Africa/Algiers"), host="127.0.0.1", port=port,
                log_config=None, access_log=False, lifespan="on")


def drop_logs(logs: Path) -> None:
    """The run's service logs removed, unless BENCH_KEEP_LOGS asks to keep them."""
    if os.environ.get("BENCH_KEEP_LOGS"):
        print("logs kept in", logs)
    else:
        shutil.rmtree(logs, ignore_errors=True)


async def stop_served(served: dict[str, Any], smtp: Any, logs: Path) -> None:
    """The services stopped (last started first), the mail catcher, and their logs dropped."""
    for s in reversed(served.values()):
        await s.stop()
    smtp.stop()
    drop_logs(logs)


async def twinned_institutions(admin: Any) -> tuple[str, str]:
    """The host and the visiting university hospital of (f)'s and (h)'s twinning."""
    institution = {"kind": "hospital", "country": "DZ"}
    host = (await admin.call("convention", "POST", "/institutions",
                             {**institution, "name": "EPH Tiaret", "city": "Tiaret"}))["id"]
    visiting = (await admin.call("convention", "POST", "/institutions",
                                 {**institution, "name": "CHU Oran", "city": "Oran"}))["id"]
    return host, visiting


async def signed_twinning(api: Any, host: str, visiting: str, reference: str,
                          objectives: dict[str, int]) -> tuple[dict[str, Any], date]:
    """A cardiac surgery twinning signed today, once the scheduling service has it; and the
    first day of its mission, a year on (nothing is planned in the past)."""
    today = datetime.now(UTC).date()
    convention = await api.call("convention", "POST", "/conventions", {
        "reference": reference, "title": "Jumelage en chirurgie cardiaque",
        "kind": "twinning", "parties": [{"institution_id": visiting, "role": "provider"},
                                        {"institution_id": host, "role": "beneficiary"}],
        "effective_from": today.isoformat(), "effective_until": today.replace(year=today.year + 2).isoformat(),
        "specialties": ["cardiac surgery"], "objectives": objectives,
    })
    await api.call("convention", "POST", f"/conventions/{convention['id']}/sign",
                   {"signed_on": today.isoformat(), "signed_at": "Oran"})
    await api.until("scheduling", f"/conventions/{convention['id']}", lambda c: c["status"] == "signed")
    return convention, today.replace(year=today.year + 1)


async def load_mission(api: Any, convention: dict[str, Any], host: str, visiting: str, starts: date,
                       surgeons: list[str], names: str) -> tuple[dict[str, Any], list[str]]:
    """A LOAD_DAYS mission of the twinning with one surgeon per room, and its LOAD_ROOMS rooms."""
    mission = await api.call("scheduling", "POST", "/missions", {
        "convention_id": convention["id"], "host_institution_id": host, "visiting_institution_id": visiting,
        "specialty": "cardiac surgery", "starts_on": starts.isoformat(),
        "ends_on": (starts + timedelta(days=LOAD_DAYS - 1)).isoformat(),
        "team": [{"practitioner_id": p, "full_name": f"{names} {i}", "role": "surgeon"}
                 for i, p in enumerate(surgeons)]})
    rooms = [(await api.call("scheduling", "POST", f"/institutions/{host}/operating-rooms",
                             {"name": f"Bloc {i}", "opens_at": "08:00", "closes_at": "18:00",
                              # Hourly slots of 60-minute cases: no turnover between them (a cardiac
                              # room's default is 45 min), so that the slots the figures count all fit.
                              "turnover_minutes": 0}))["id"]
             for i in range(LOAD_ROOMS)]
    return mission, rooms


PROFILE_DIR: Path | None = None
"""--profile: where (f) writes cProfile profiles of the services during each of our mixes."""


async def many_at_once(kind: str, clients: int, per_client: int, res: Resources, replicas: int = 1) -> dict[str, Any]:
    """(f) on one kind of database: the three services as processes, set up through their APIs
    (two institutions, a signed convention, a 28-day mission with ten surgeons, ten operating
    rooms, a waiting list), then ``clients`` clients at once, each ``per_client`` requests of the
    read mix, then of the write mix; then the raw app on the same databases, the same requests.
    On SQLite, then the read mix once more while another connection holds each database's write
    lock: every read must still answer."""
    import sqlite3
    import tempfile

    import httpx

    logs = Path(tempfile.mkdtemp(prefix="jumelage-bench-f-"))
    ns = res.namespace(f"load{kind}")
    await declare_service_queue(ns)
    smtp = MailSinkProcess()
    smtp_port = smtp.start()
    extra = {"convention": {"EXPIRY_CHECK_INTERVAL": "3600"}, "scheduling": {},
             "notification": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_TIMEOUT": "10",
                              "REMINDER_CHECK_INTERVAL": "3600"}}
    dbs: dict[str, str] = {}
    served: dict[str, ServedProcess] = {}
    envs: dict[str, dict[str, str]] = {}
    for name in ("convention", "scheduling", "notification"):
        if kind == "sqlite":
            url, schema = f"sqlite+aiosqlite:///{logs / name}.db", ""
            dbs[name] = url
        else:
            url, schema = POSTGRES_URL, await res.schema(f"load_{name}")
            dbs[name] = schema
        env = {**os.environ, "AMQP_URL": AMQP_URL, "DATABASE_URL": url, "DATABASE_SCHEMA": schema,
               "TOPOLOGY_NAMESPACE": ns, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "AUTH_SECRET": BENCH_SECRET,
               "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(free_port()), "MIGRATE_ON_START": "true",
               "PYTHONUNBUFFERED": "1", **extra[name]}
        env.pop("SECRETS_DIR", None)
        envs[name] = env
        profile = None if PROFILE_DIR is None else str(PROFILE_DIR / f"f-{kind}-{name}")
        served[name] = ServedProcess(name, env, logs, profile)
    more: list[ServedProcess] = []  # --replicas: the further replicas, started once one replica is measured
    raw = None
    out: dict[str, Any] = {}
    try:
        for s in served.values():
            await s.start()
        async with httpx.AsyncClient(timeout=60, limits=SETUP_LIMITS) as http:
            urls = {name: f"http://127.0.0.1:{s.port}" for name, s in served.items()}
            admin = ServicesClient(urls, BENCH_SECRET, http).as_("bench", "administrator")
            host, visiting = await twinned_institutions(admin)
            api = admin.as_("bench", "coordinator", "clinician", institution=host)
            convention, starts = await signed_twinning(api, host, visiting, f"LOAD-{RUN}-{kind}",
                                                       {"surgeries": 1000, "consultations": 1000, "training_sessions": 1})
            surgeons = [str(uuid.uuid4()) for _ in range(LOAD_ROOMS)]
            mission, rooms = await load_mission(api, convention, host, visiting, starts, surgeons, "Dr Load")
            writes = clients * per_client
            runs = 3 if replicas > 1 else 2  # ours (and ours again with the replicas) and the raw app's
            surgeries_needed = runs * (writes // 3 + 1) + 1  # and one at setup
            if surgeries_needed > LOAD_ROOMS * 10 * LOAD_DAYS:
                raise ValueError("more surgeries than the mission's slots: fewer clients or requests")
            cases: list[str] = []
            for start in range(0, surgeries_needed + 20, 10):
                cases += [c["id"] for c in await asyncio.gather(*(
                    api.call("scheduling", "POST", f"/institutions/{host}/cases", load_case_body(i))
                    for i in range(start, min(start + 10, surgeries_needed + 20))))]
            slot = iter(range(LOAD_ROOMS * 10 * LOAD_DAYS))
            case = iter(cases[20:])

            def surgery() -> Op:
                k = next(slot)
                room, hour, day = k % LOAD_ROOMS, (k // LOAD_ROOMS) % 10, k // (LOAD_ROOMS * 10)
                when = datetime.combine(starts + timedelta(days=day), datetime.min.time()).replace(
                    hour=8 + hour, tzinfo=ZoneInfo("Africa/Algiers"))
                return ("scheduling", "POST", f"/missions/{mission['id']}/surgeries",
                        {"case_id": next(case), "operating_room_id": rooms[room],
                         "scheduled_start": when.isoformat(), "lead_surgeon_id": surgeons[room]})

            counter = iter(range(10**9))

            def contact() -> Op:
                return ("notification", "POST", "/contacts",
                        {"kind": "practitioner", "practitioner_id": str(uuid.uuid4()),
                         "email": f"dr.{next(counter)}@chu-oran.example.dz", "language": "fr"})

            def consultation() -> Op:
                i = next(counter)
                when = datetime.combine(starts + timedelta(days=i % LOAD_DAYS), datetime.min.time()).replace(
                    hour=9, tzinfo=ZoneInfo("Africa/Algiers"))
                return ("scheduling", "POST", f"/missions/{mission['id']}/consultations",
                        {"scheduled_at": when.isoformat(), "new_patient": load_case_body(100_000 + i)})

            # One of each write at setup: the raw app copies these rows.
            for service, method, path, body in (surgery(), contact(), consultation()):
                await api.call(service, method, path, body)
            reads: list[Op] = [("convention", "GET", f"/conventions/{convention['id']}", None),
                               ("scheduling", "GET", f"/missions/{mission['id']}/surgeries", None),
                               ("scheduling", "GET", f"/institutions/{host}/cases?status=waiting&limit=50", None)]
            read_scripts = [[reads[(c + j) % 3] for j in range(per_client)] for c in range(clients)]
            write_kinds = (surgery, contact, consultation)

            def write_scripts() -> list[list[Op]]:
                return [[write_kinds[(c + j) % 3]() for j in range(per_client)] for c in range(clients)]

            headers = api.headers()
        ports = {name: s.port for name, s in served.items()}
        raw_port = free_port()
        raw = _process([sys.executable, __file__, "serve", "mix", kind, json.dumps(dbs), str(raw_port)], logs,
                       f"raw-mix-{kind}")
        await _listening(raw_port, raw)
        raw_ports = dict.fromkeys(ports, raw_port)
        every: list[tuple[str, Any]] = [("ours", ports), ("raw", raw_ports)]
        if replicas > 1:
            every.insert(1, (f"ours x{replicas}", None))
        for who, where in every:
            if where is None:  # the further replicas of each service, on the same databases and queues
                try:
                    for k in range(1, replicas):
                        for name in served:
                            (logs / f"replica{k}").mkdir(exist_ok=True)
                            env = {**envs[name], "HTTP_PORT": str(free_port()), "MIGRATE_ON_START": "false"}
                            more.append(ServedProcess(f"{name}", env, logs / f"replica{k}"))
                            await more[-1].start()
                except Exception as e:  # noqa: BLE001 (one replica's figures, and the raw app's, stay)
                    for mix in ("read", "write"):
                        out[who, mix] = {"failed": f"starting the replicas: {type(e).__name__}: {e}"[:300]}
                    say(f"    {kind}: {out[who, 'read']['failed']}")
                    for extra_replica in reversed(more):
                        await extra_replica.stop()
                    more.clear()
                    continue
                where = [ports] + [{s.name: s.port for s in more[k * 3:(k + 1) * 3]} for k in range(replicas - 1)]
            # warm-up, not measured: each client's connections and the servers' pools
            try:
                await asyncio.to_thread(run_clients, where, headers, [reads for _ in range(clients)])
            except Exception as e:  # noqa: BLE001 (the others' figures stay)
                for mix in ("read", "write"):
                    out[who, mix] = {"failed": f"warm-up: {type(e).__name__}: {e}".splitlines()[0][:300]}
                say(f"    {kind}: {who}: warm-up FAILED: {out[who, 'read']['failed']}")
                continue
            for mix, scripts in (("read", lambda: read_scripts), ("write", write_scripts)):
                say(f"    {kind}: {who}, {mix} mix, {clients} clients x {per_client} ...")
                try:
                    if who == "ours":
                        for s in served.values():
                            s.profiling(True)  # --profile: this mix's profile (n = 1 read, 2 write)
                    try:
                        out[who, mix] = await asyncio.to_thread(run_clients, where, headers, scripts())
                    finally:
                        if who == "ours":
                            for s in served.values():
                                s.profiling(False)
                except Exception as e:  # noqa: BLE001 (a mix that fails must not lose the others' figures)
                    out[who, mix] = {"failed": f"{type(e).__name__}: {e}".splitlines()[0][:300]}
                    say(f"    {kind}: {who}, {mix} mix FAILED: {out[who, mix]['failed']}")
            if more:  # measured: their database connections go before the raw app opens its pools
                for extra_replica in reversed(more):
                    await extra_replica.stop()
                more.clear()
        if kind == "sqlite":
            # Reads while another connection holds every database's write lock (BEGIN IMMEDIATE).
            holders = []
            for url in dbs.values():
                c = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=30)
                c.execute("BEGIN IMMEDIATE")
                holders.append(c)
            try:
                # The waiting list writes who saw each patient (jumelage.identity_access) before it answers:
                # that write needs the lock, so it is measured apart (it waits, then answers 503).
                short = [[reads[j % 2] for j in range(3)] for _ in range(10)]
                t0 = time.perf_counter()
                try:
                    locked = await asyncio.to_thread(run_clients, ports, headers, short)
                    out["locked"] = (locked["count"] - len(locked["refused"]), time.perf_counter() - t0)
                except Exception as e:  # noqa: BLE001 (the mixes' figures stay)
                    out["locked"] = (0, float("inf"))
                    say(f"    {kind}: reads under the write lock FAILED: {type(e).__name__}: {e}")
            finally:
                for c in holders:
                    c.execute("ROLLBACK")
                    c.close()
    finally:
        if raw is not None:
            raw.terminate()
            raw.wait()
        for extra_replica in reversed(more):
            await extra_replica.stop()
        await stop_served(served, smtp, logs)
    return out


# ------------------------------------------------------------------ (g) years of data ---


async def years_of_data(kind: str, scale: float, samples: int, res: Resources) -> dict[str, Any]:
    """(g) on one kind of database: the three services' databases migrated, then filled
    straight with years of data (``scripts/years.py``, bulk inserts, at ``scale`` of the
    issue's sizes); the outbox and inbox sizes; the services started as processes, whose
    pruning job runs at start (then hourly) with the default windows (7 days of published
    outbox rows, 30 of inbox keys): the sizes again once it is done; then, one request at a
    time, ``samples`` times each, the list routes (first page and a deep keyset page), a
    convention's progress and a mission's page."""
    import tempfile

    import httpx

    import years
    from convention.app import MIGRATIONS as CONVENTION
    from notification.app import MIGRATIONS as NOTIFICATION
    from scheduling.app import MIGRATIONS as SCHEDULING

    from jumelage.db import create_engine
    from jumelage.migrations import migrate

    scripts = {"convention": CONVENTION, "scheduling": SCHEDULING, "notification": NOTIFICATION}
    logs = Path(tempfile.mkdtemp(prefix="jumelage-bench-g-"))
    ns = res.namespace(f"years{kind}")
    await declare_service_queue(ns)
    engines: dict[str, Any] = {}
    envs: dict[str, dict[str, str]] = {}
    paths: dict[str, str | None] = {}
    for name in scripts:
        if kind == "sqlite":
            url, schema = f"sqlite+aiosqlite:///{logs / name}.db", ""
            paths[name] = str(logs / f"{name}.db")
        else:
            url, schema = POSTGRES_URL, await res.schema(f"years_{name}")
            paths[name] = None
        engines[name] = create_engine(url, schema=schema or None)
        envs[name] = {**os.environ, "AMQP_URL": AMQP_URL, "DATABASE_URL": url, "DATABASE_SCHEMA": schema,
                      "TOPOLOGY_NAMESPACE": ns, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "AUTH_SECRET": BENCH_SECRET,
                      "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(free_port()), "MIGRATE_ON_START": "true",
                      "PYTHONUNBUFFERED": "1", "EXPIRY_CHECK_INTERVAL": "3600", "REMINDER_CHECK_INTERVAL": "3600"}
        envs[name].pop("SECRETS_DIR", None)
    served: dict[str, ServedProcess] = {}
    out: dict[str, Any] = {"reads": {}}
    try:
        for name, engine in engines.items():
            await migrate(engine, scripts[name])
        t0 = time.perf_counter()
        plan = await years.fill(engines, scale=scale, say=say)
        out["fill_seconds"] = time.perf_counter() - t0
        out["counts"] = plan.counts
        say(f"    {kind}: filled in {out['fill_seconds']:.0f} s: " + ", ".join(f"{v:,} {k}" for k, v in plan.counts.items()))
        out["before"] = {n: await years.sizes(e, paths[n]) for n, e in engines.items()}
        say(f"    {kind}: outbox / inbox before pruning: {out['before']}")
        for name in scripts:
            served[name] = ServedProcess(name, envs[name], logs)
        t0 = time.perf_counter()
        for s in served.values():
            await s.start()

        async def pruned() -> bool:
            for n, e in engines.items():
                now = await years.sizes(e, paths[n])
                # Rows kept: those in the window when generated (a few more may have left it since).
                if now["outbox"][0] > plan.kept[n]["outbox"] or now["inbox"][0] > plan.kept[n]["inbox"]:
                    return False
            return True

        await wait_until(pruned, timeout=1800, interval=1.0)
        out["prune_seconds"] = time.perf_counter() - t0
        out["after"] = {n: await years.sizes(e, paths[n]) for n, e in engines.items()}
        say(f"    {kind}: pruned by the services' job within {out['prune_seconds']:.0f} s of their start: {out['after']}")

        host = str(plan.hosts[0])
        convention = next(c for c in plan.conventions if str(c["host"]) == host)
        mission = next(m for m in reversed(plan.missions) if str(m["convention"]["host"]) == host)
        async with httpx.AsyncClient(timeout=60) as http:
            urls = {name: f"http://127.0.0.1:{s.port}" for name, s in served.items()}
            admin = ServicesClient(urls, BENCH_SECRET, http).as_("bench", "administrator")
            api = admin.as_("bench", "coordinator", "clinician", institution=host)

            async def deep(service: str, path: str, who: Any, pages: int) -> str:
                """The path of the ``pages``-th page, following the cursors."""
                for _ in range(pages):
                    r = await http.get(urls[service] + path, headers=who.headers())
                    r.raise_for_status()
                    if "next" in r.links:
                        path = r.links["next"]["url"]
                    elif isinstance(r.json(), dict) and r.json().get("next"):
                        path = path.split("&cursor=")[0] + "&cursor=" + r.json()["next"]
                    else:
                        break
                return path

            cases = f"/institutions/{host}/cases?status=waiting&limit=50"
            routes: list[tuple[str, str, str, Any]] = [
                ("GET /health/live (the floor: no database, no token)", "convention", "/health/live", api),
                ("GET /institutions?limit=50", "convention", "/institutions?limit=50", api),
                ("GET /conventions?limit=50", "convention", "/conventions?limit=50", api),
                ("GET /conventions/{id}/progress", "convention", f"/conventions/{convention['id']}/progress", api),
                ("GET /missions?host_institution_id=...&limit=50", "scheduling",
                 f"/missions?host_institution_id={host}&limit=50", api),
                ("GET /missions/{id}", "scheduling", f"/missions/{mission['id']}", api),
                ("GET /missions/{id}/surgeries", "scheduling", f"/missions/{mission['id']}/surgeries", api),
                ("GET /institutions/{id}/cases?status=waiting&limit=50", "scheduling", cases, api),
                ("    the same, the 20th page (or the last; cursor)", "scheduling",
                 await deep("scheduling", cases, api, 20), api),
                ("GET /notifications?limit=50", "notification", "/notifications?limit=50", admin),
                ("    the same, the 20th page (or the last; cursor)", "notification",
                 await deep("notification", "/notifications?limit=50", admin, 20), admin),
            ]
            for label, service, path, who in routes:
                times = []
                for i in range(samples + 3):
                    t = time.perf_counter()
                    r = await http.get(urls[service] + path, headers=who.headers())
                    elapsed = time.perf_counter() - t
                    if r.status_code != 200:
                        raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:300]}")
                    if i >= 3:  # warm-up
                        times.append(elapsed)
                out["reads"][label] = times
                say(f"    {kind}: {label}: p50 {percentile(times, 50) * 1000:.1f} ms")
            # A mission's page, as the web app reads it: the mission, then its surgeries.
            out["reads"]["a mission's page (the mission + its surgeries)"] = [
                a + b for a, b in zip(out["reads"]["GET /missions/{id}"], out["reads"]["GET /missions/{id}/surgeries"],
                                      strict=True)]
    finally:
        for s in reversed(served.values()):
            await s.stop()
        for e in engines.values():
            await e.dispose()
        drop_logs(logs)
    return out


# ------------------------------------------------------------------ (h) bursts ---


async def burst_of_notifications(surgeries: int, res: Resources, replicas: int = 1) -> dict[str, Any]:
    """(h) The three services as processes on PostgreSQL; through their APIs a signed convention,
    a 28-day mission with ten surgeons (each with an e-mail contact), ten rooms and ``surgeries``
    scheduled surgeries, each patient's family an e-mail contact with consent. Then the
    convention is terminated: the scheduling service cancels the mission and its surgeries, and
    the notification service tells the team, the two institutions, each lead surgeon and each
    family. Timed from the terminate command to the last NotificationSent on the exchange;
    every NotificationSent counted by notification id."""
    import tempfile

    import httpx

    logs = Path(tempfile.mkdtemp(prefix="jumelage-bench-burst-"))
    ns = res.namespace("burst")
    await declare_service_queue(ns)
    smtp = MailSinkProcess()
    smtp_port = smtp.start()
    extra = {"convention": {"EXPIRY_CHECK_INTERVAL": "3600"}, "scheduling": {},
             "notification": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_TIMEOUT": "10",
                              "REMINDER_CHECK_INTERVAL": "3600"}}
    served: dict[str, ServedProcess] = {}
    for name in ("convention", "scheduling", "notification"):
        env = {**os.environ, "AMQP_URL": AMQP_URL, "DATABASE_URL": POSTGRES_URL,
               "DATABASE_SCHEMA": await res.schema(f"burst_{name}"), "TOPOLOGY_NAMESPACE": ns, "LOG_FORMAT": "json",
               "LOG_LEVEL": "INFO", "AUTH_SECRET": BENCH_SECRET, "HTTP_HOST": "127.0.0.1",
               "HTTP_PORT": str(free_port()), "MIGRATE_ON_START": "true", "PYTHONUNBUFFERED": "1", **extra[name]}
        env.pop("SECRETS_DIR", None)
        served[name] = ServedProcess(name, env, logs)
        for k in range(1, replicas):  # --replicas: more of each, on the same schema and queue
            (logs / f"replica{k}").mkdir(exist_ok=True)
            served[f"{name}-{k}"] = ServedProcess(name, {**env, "HTTP_PORT": str(free_port())}, logs / f"replica{k}")
    sent: dict[str, int] = {}  # notification id -> NotificationSent seen
    failed: list[str] = []
    last = [0.0]
    conn = await aio_pika.connect(AMQP_URL)
    try:
        for s in served.values():
            await s.start()
        ch = await conn.channel()
        ex = await ch.get_exchange(f"{ns}jumelage.events")
        tap = await ch.declare_queue("", exclusive=True)
        await tap.bind(ex, "notification.*")

        async def on_message(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            # Counted before the ack's await: a message is in ``sent`` the moment it is timed.
            now = time.perf_counter()
            doc = json.loads(msg.body)
            if doc.get("type") == "NotificationSent":
                key = doc["data"]["notification_id"]
                sent[key] = sent.get(key, 0) + 1
                last[0] = now
            elif doc.get("type") == "NotificationFailed":
                failed.append(doc["data"]["notification_id"])
            await msg.ack()

        await tap.consume(on_message)
        async with httpx.AsyncClient(timeout=60, limits=SETUP_LIMITS) as http:
            urls = {name: f"http://127.0.0.1:{s.port}" for name, s in served.items() if "-" not in name}
            admin = ServicesClient(urls, BENCH_SECRET, http).as_("bench", "administrator")
            host, visiting = await twinned_institutions(admin)
            for who, mailbox in ((host, "direction@eph-tiaret.example.dz"), (visiting, "direction@chu-oran.example.dz")):
                await admin.call("notification", "POST", "/contacts",
                                 {"kind": "institution", "institution_id": who, "email": mailbox, "language": "fr"})
            api = admin.as_("bench", "coordinator", "clinician", institution=host)
            convention, starts = await signed_twinning(api, host, visiting, f"BURST-{RUN}",
                                                       {"surgeries": 5000, "consultations": 10, "training_sessions": 1})
            today = datetime.now(UTC).date()
            surgeons = [str(uuid.uuid4()) for _ in range(LOAD_ROOMS)]
            for i, p in enumerate(surgeons):
                await api.call("notification", "POST", "/contacts", {
                    "kind": "practitioner", "practitioner_id": p, "email": f"dr.{i}@chu-oran.example.dz",
                    "language": "fr"})
            mission, rooms = await load_mission(api, convention, host, visiting, starts, surgeons, "Dr Burst")
            if surgeries > LOAD_ROOMS * 10 * LOAD_DAYS:
                raise ValueError(f"at most {LOAD_ROOMS * 10 * LOAD_DAYS} surgeries fit the mission")

            async def one(k: int) -> None:
                case = await api.call("scheduling", "POST", f"/institutions/{host}/cases", load_case_body(k))
                family = await api.call("notification", "POST", "/contacts", {
                    "kind": "family", "patient_ref": case["patient_ref"],
                    "email": f"famille.{k}@example.dz", "language": "ar"})
                await api.call("notification", "POST", f"/contacts/{family['id']}/consent",
                               {"given_by": "mother, by signed form"})
                room, hour, day = k % LOAD_ROOMS, (k // LOAD_ROOMS) % 10, k // (LOAD_ROOMS * 10)
                when = datetime.combine(starts + timedelta(days=day), datetime.min.time()).replace(
                    hour=8 + hour, tzinfo=ZoneInfo("Africa/Algiers"))
                await api.call("scheduling", "POST", f"/missions/{mission['id']}/surgeries", {
                    "case_id": case["id"], "operating_room_id": rooms[room], "scheduled_start": when.isoformat(),
                    "lead_surgeon_id": surgeons[room]})

            say(f"    setting up {surgeries} scheduled surgeries ...")
            for start in range(0, surgeries, 10):
                await asyncio.gather(*(one(k) for k in range(start, min(start + 10, surgeries))))
            # All the scheduling's notifications (each surgery to its surgeon and family) sent before the burst.
            expected_before = 2 * surgeries + LOAD_ROOMS + 2

            await quiet_or(lambda: len(sent) + len(failed) >= expected_before, sent)
            await quiet_or(lambda: False, sent, quiet=10.0)  # and whatever else the scheduling brought
            before = set(sent)
            say(f"    {len(before)} notifications of the scheduling sent; terminating the convention ...")
            t0 = time.perf_counter()
            await api.call("convention", "POST", f"/conventions/{convention['id']}/terminate",
                           {"on": today.isoformat(), "reason": "Fin du programme (bench)"})
            # MissionCancelled to the team and both institutions; SurgeryCancelled to each surgeon and family.
            expected = LOAD_ROOMS + 2 + 2 * surgeries

            # The first of them only once the scheduling service has cancelled every surgery in one
            # transaction, which at 2,000 surgeries took longer than the quiet window below on this
            # machine (the run then ended with none counted): wait for it first, up to 15 minutes.
            await wait_until(lambda: _true(bool(set(sent) - before) or bool(failed)), timeout=900, interval=0.2)
            first = time.perf_counter() - t0
            await quiet_or(lambda: len(set(sent) - before) + len(failed) >= expected, sent, quiet=120.0)
            elapsed = last[0] - t0
            await quiet_or(lambda: False, sent, quiet=3.0)  # a late duplicate would show by then
        burst = set(sent) - before
        return {"count": len(burst), "expected": expected, "seconds": elapsed, "first": first,
                "duplicates": sum(n - 1 for n in sent.values() if n > 1), "failed": len(failed),
                "before": len(before), "expected_before": expected_before}
    finally:
        await stop_served(served, smtp, logs)
        await conn.close()


async def quiet_or(done: Callable[[], bool], seen: dict[str, int], quiet: float = 30.0) -> None:
    """Until ``done()``, or until no new notification has been seen for ``quiet`` seconds."""
    count, since = -1, time.monotonic()
    while not done():
        total = sum(seen.values())
        if total != count:
            count, since = total, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        await asyncio.sleep(0.1)


# ------------------------------------------------------------------ report ---


class Report:
    """The figures of a run: each printed the moment it is measured (stdout, flushed),
    the whole table again at the end; a part that fails prints its error and the run
    goes on with the next part, and the exit status says that one failed."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []
        self.failed: dict[str, str] = {}
        self.latencies: dict[str, list[float]] = {}  # for the plot: name -> seconds

    def row(self, measure: str, figure: str, ratio: str, target: str) -> None:
        self.rows.append((measure, figure, ratio, target))
        print("  ".join(v for v in (measure, figure, ratio, target) if v), flush=True)

    async def part(self, letter: str, run: Callable[[], Awaitable[None]]) -> None:
        import traceback

        try:
            await run()
        except Exception as e:  # noqa: BLE001 (one part's failure must not lose the others)
            traceback.print_exc(file=sys.stderr)
            message = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            self.failed[letter] = message
            self.row(f"({letter}) FAILED", message, "", "")

    def table(self, title: str) -> None:
        if not self.rows:
            return
        header = ("measure", "figure", "ratio", "target")
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(header)]
        print()
        print(title)
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for r in self.rows:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())

    def save(self, output: Path, title: str) -> None:
        """The table to ``output``, and the latency distributions to a PNG beside it (same name,
        .png), if matplotlib is installed (the ``bench`` extra of jumelage-shared)."""
        import contextlib
        import io

        output.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            self.table(title)
            if self.failed:
                print("\nFAILED parts: " + ", ".join(f"({k}) {v}" for k, v in self.failed.items()))
        output.write_text(text.getvalue().lstrip("\n"))
        say(f"table written to {output}")
        if not self.latencies:
            return
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            say("no plot: matplotlib is not installed (pip install -e 'shared[bench]')")
            return
        fig, ax = plt.subplots(figsize=(10, 5.5), dpi=110)
        for name, values in self.latencies.items():
            ordered = sorted(v * 1000 for v in values)
            n = len(ordered)
            ax.plot(ordered, [(k + 1) / n * 100 for k in range(n)], label=f"{name} (n={n})", linewidth=1.4,
                    linestyle="--" if "raw" in name else "-")
        for target in (20, 60, 100, 250):
            ax.axvline(target, color="grey", linewidth=0.6, linestyle=":")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale); dotted: the targets 20, 60, 100, 250 ms")
        ax.set_ylabel("requests at or under it (%)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        png = output.with_suffix(".png")
        fig.savefig(png)
        plt.close(fig)
        say(f"latency plot written to {png}")

    def finish(self) -> int:
        if self.failed:
            print()
            print("FAILED parts: " + ", ".join(f"({k}) {v}" for k, v in self.failed.items()))
            return 1
        return 0



def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def quiet_logs() -> None:
    """Logs as in production (JSON at INFO, one line per handled event), but
    written to /dev/null: the formatting cost is measured, the terminal stays readable."""
    from jumelage.logging import configure_logging

    configure_logging("bench", "json", "INFO")
    devnull = open(os.devnull, "w")  # noqa: SIM115 (kept open for the whole run)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)


async def main() -> int:
    from jumelage.cli import ArgumentParser  # no abbreviations, no echoed values

    parser = ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events per throughput figure (default 10000)")
    parser.add_argument("--quick", action="store_true", help="2000 events, 30 latency samples")
    parser.add_argument("--e-processes-only", action="store_true",
                        help="(e) with the services as processes only (the target), not again in one process")
    parser.add_argument("--samples", type=int, default=None, help="latency samples (default 200, quick 30)")
    parser.add_argument("--relay-batch", type=int, default=None,
                        help="outbox relay batch size (default: RELAY_BATCH_SIZE of the settings, 500)")
    parser.add_argument("--rounds", type=int, default=7,
                        help="rounds of the relay drain (c) and of (d2), each set against the mean of its "
                             "baseline ((a) publish, (b)) measured just before and just after it; "
                             "each ratio = the median of its rounds (default 7)")
    parser.add_argument("--only", default=PARTS,
                        help=f"measure only these (letters of {' '.join(PARTS)}; d needs c; default all)")
    parser.add_argument("--output", default="bench-results.txt",
                        help="the table is written there too, the latency plot beside it as .png "
                             "(default bench-results.txt)")
    parser.add_argument("--full", action="store_true", help="(h) and (g) at the issue's full sizes")
    parser.add_argument("--burst", type=int, default=None,
                        help="(h): scheduled surgeries of the terminated convention (default 300, quick 100, full 2000)")
    parser.add_argument("--clients", type=int, default=50, help="(f): clients at once (default 50)")
    parser.add_argument("--years-scale", type=float, default=None,
                        help="(g): share of the issue's sizes (1 = 50 institutions, 500 conventions, 20,000 missions, "
                             "500,000 cases, 2,000,000 outbox and as many inbox rows; default 0.05, quick 0.02, "
                             "full 1)")
    parser.add_argument("--databases", default="postgresql,sqlite", choices=["postgresql,sqlite", "postgresql", "sqlite"],
                        help="(f) and (g): on which databases (default both)")
    parser.add_argument("--replicas", type=int, default=1, choices=[1, 2, 3],
                        help="(f): after one replica, again with this many of each service (same databases and "
                             "queues; clients spread over them); (h): this many of each service from the start")
    parser.add_argument("--profile", type=Path, default=None,
                        help="(f): run the services under scripts/profiled.py and write a cProfile profile of "
                             "each during each of our mixes to this folder (f-<db>-<service>.<1 read|2 write>.prof)")
    parser.add_argument("--requests", type=int, default=None,
                        help="(f): requests per client and mix (default 30, quick 6)")
    args = parser.parse_args()
    if args.profile is not None:
        global PROFILE_DIR
        args.profile.mkdir(parents=True, exist_ok=True)
        PROFILE_DIR = args.profile.resolve()
    n = 2000 if args.quick else args.events
    samples = args.samples or (30 if args.quick else 200)
    only = set(args.only)
    if only - set(PARTS):
        parser.error(f"--only takes letters of {' '.join(PARTS)}")
    if "d" in only:
        only |= {"b", "c"}  # (d1) consumes what (c) published; (d) is compared with (b)
    if "c" in only:
        only.add("a")
    from jumelage.settings import ServiceSettings

    relay_batch = args.relay_batch or ServiceSettings().relay_batch_size
    quiet_logs()
    # (c) and (d) run our relay and consumer in this process: set it up as every
    # service process is (python -m <service> serve), once the code is loaded.
    import convention.app  # noqa: F401
    from jumelage.cli import tune_garbage_collector

    tune_garbage_collector()

    res = Resources()
    say(f"jumelage bench: N={n}, run id {RUN}, broker {AMQP_URL.split('@')[-1]}, "
        f"postgres {POSTGRES_URL.split('@')[-1]}")
    report = Report()
    row = report.row
    got: dict[str, Any] = {}  # what a later part takes from an earlier one

    def needs(key: str, part: str) -> Any:
        if key not in got:
            raise RuntimeError(f"needs {part}, which did not finish")
        return got[key]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    def ms(values: list[float], p: float) -> float:
        return percentile(values, p) * 1000

    async def part_a() -> None:
        say("(a) raw aio-pika publish + consume ...")
        a_pub, a_con = await raw_publish_consume(n, res)
        got["a_pub"] = a_pub
        row("(a) raw aio-pika publish, confirms, quorum", f"{a_pub:,.0f} msg/s", "baseline", "")
        row("(a) raw aio-pika consume, manual ack, prefetch 100", f"{a_con:,.0f} msg/s", "baseline", "")

    async def part_b() -> None:
        say("(b) raw aio-pika + asyncpg transactional consumer ...")
        b, b_cpu = await raw_transactional_consumer(n, res)
        got["b"] = b
        row("(b) raw aio-pika + asyncpg, 1 tx/msg", f"{b:,.0f} msg/s", "baseline", f"CPU {b_cpu:.2f} ms/msg")

    async def part_c() -> None:
        drains, ratio, each = await in_rounds(
            args.rounds, needs("a_pub", "(a)"),
            baseline=lambda: raw_publish_consume(n, res), baseline_name="(a) raw aio-pika publish",
            ours=lambda: outbox_relay(n, res, relay_batch),
            ours_name=f"(c) OutboxRelay draining {n} rows (batch {relay_batch})")
        got["relay_ns"] = drains[0][1]  # (d1) consumes what the first round published
        row(f"(c) OutboxRelay drain (batch {relay_batch})", f"{statistics.median(c for c, _ in drains):,.0f} ev/s",
            f"{ratio:.2f}x (a) publish", f">= 0.8x: {verdict(ratio >= 0.8)}{each}")

    async def part_d() -> None:
        b = needs("b", "(b)")
        say("(d1) convention runtime consuming SurgeryCompleted ...")
        d1, d1_cpu = await convention_consumer(n, res, needs("relay_ns", "(c)"))
        row("(d1) convention runtime, SurgeryCompleted (inbox+effect)", f"{d1:,.0f} ev/s",
            f"{d1 / b:.2f}x (b)", f"info (no outgoing event); CPU {d1_cpu:.2f} ms/ev")
        consumed, d_ratio, each = await in_rounds(
            args.rounds, b,
            baseline=lambda: raw_transactional_consumer(n, res), baseline_name="(b) raw transactional consumer",
            ours=lambda: generic_consumer(n, res),
            ours_name="(d2) runtime + generic handler (inbox + effect + outbox)")
        d2 = statistics.median(r for r, _ in consumed)
        d2_cpu = statistics.median(c for _, c in consumed)
        row("(d2) runtime + generic handler (inbox+effect+outbox)", f"{d2:,.0f} ev/s", f"{d_ratio:.2f}x (b)",
            f">= 0.8x: {verdict(d_ratio >= 0.8)}; CPU {d2_cpu:.2f} ms/ev{each}")

    async def part_e() -> None:
        # As deployed (the target), then all three in this one process (for comparison).
        for processes, where in ((True, "3 processes"), (False, "1 process"))[:1 if args.e_processes_only else 2]:
            say(f"(e) HTTP POST /missions -> NotificationSent, {samples} samples, services in {where} ...")
            lat = await http_to_notification_latency(samples, res, processes=processes)
            p50, p99 = ms(lat["sent"], 50), ms(lat["sent"], 99)
            if processes:
                report.latencies["(e) POST /missions -> NotificationSent"] = lat["sent"]
            row(f"(e) POST /missions -> NotificationSent, {where}, p50 / p99", f"{p50:.1f} / {p99:.1f} ms", "",
                f"p50 < 20 ms, p99 < 60 ms: {verdict(p50 < 20 and p99 < 60)}" if processes else "info")
            row("    (to MissionScheduled on the exchange p50 / p99)",
                f"{ms(lat['scheduled'], 50):.1f} / {ms(lat['scheduled'], 99):.1f} ms", "", "")
            row("    (HTTP response alone p50 / p99)",
                f"{ms(lat['response'], 50):.1f} / {ms(lat['response'], 99):.1f} ms", "", "")
            row("    (CPU per command: " + ("the three services)" if processes else "this process, client too)"),
                f"{lat['cpu'][0] * 1000:.1f} ms", "", "")
            if processes:  # /proc counts each process; in one process they are not told apart
                row("    (of which convention / scheduling / notification)",
                    " / ".join(f"{c * 1000:.1f}" for c in lat["cpu_each"]) + " ms", "", "")

    async def part_o() -> None:
        say(f"(o) authenticated GET /institutions, empty database, one client, {samples * 5} samples ...")
        overhead = await request_overhead(samples * 5, res)
        floor: list[float] = []
        for kind in ("sqlite", "postgresql"):
            times, cpu = overhead[kind]["times"], overhead[kind]["server_cpu"]
            floor += times["floor"]
            p50, raw50 = ms(times["ours"], 50), ms(times["raw"], 50)
            row(f"(o) GET /institutions, authenticated, empty, {kind}, p50 / p99",
                f"{p50:.2f} / {ms(times['ours'], 99):.2f} ms", f"{p50 / raw50:.2f}x raw",
                f"p50 < 3 ms: {verdict(p50 < 3)}")
            row("    (/health/live of the same service p50 / p99)",
                f"{ms(times['live'], 50):.2f} / {ms(times['live'], 99):.2f} ms", "", "")
            row("    (raw Starlette + driver, the same read p50 / p99)",
                f"{raw50:.2f} / {ms(times['raw'], 99):.2f} ms", "baseline", "")
            row("    (service CPU per request: GET /institutions / /health/live)",
                f"{cpu['ours'] * 1000:.2f} / {cpu['live'] * 1000:.2f} ms", "", "")
        client_cpu = statistics.mean(overhead[k]["client_cpu"] for k in ("sqlite", "postgresql"))
        httpx50, ka50 = ms(overhead["httpx_live"], 50), ms(overhead["keepalive_live"], 50)
        row("(o) client floor: a fixed answer, no framework, p50 / p99",
            f"{ms(floor, 50):.2f} / {ms(floor, 99):.2f} ms", "", "client + loopback: in every figure above")
        row("    (the client's own CPU per request)", f"{client_cpu * 1000:.3f} ms", "", "")
        row("    (httpx.AsyncClient instead, the same /health/live p50 / p99)",
            f"{httpx50:.2f} / {ms(overhead['httpx_live'], 99):.2f} ms", f"+{httpx50 - ka50:.2f} ms",
            "info: the client (o) used before")

    async def part_f() -> None:
        clients, per_client = args.clients, args.requests or (6 if args.quick else 30)
        failed = []
        for kind in args.databases.split(","):
            say(f"(f) {clients} clients at once, {per_client} requests each, {kind} ...")
            try:
                load = await many_at_once(kind, clients, per_client, res, args.replicas)
            except Exception as e:  # noqa: BLE001 (the other database's figures still count)
                import traceback

                traceback.print_exc(file=sys.stderr)
                row(f"(f) {kind} FAILED", f"{type(e).__name__}: {e}".splitlines()[0][:300], "", "")
                failed.append(kind)
                continue
            for mix in ("read", "write"):
                ours, raw = load["ours", mix], load["raw", mix]
                if "failed" in ours or "failed" in raw:
                    row(f"(f) {mix} mix, {clients} clients, {kind} FAILED",
                        f"ours: {ours.get('failed', 'measured')}; raw: {raw.get('failed', 'measured')}", "", "")
                    failed.append(f"{kind} {mix}")
                    if "failed" not in ours:  # measured: shown, without its ratio
                        alone = [t for v in ours["times"].values() for t in v]
                        row(f"    (ours alone, {mix} mix, {kind}: throughput, p50 / p99)",
                            f"{ours['count'] / ours['wall']:,.0f} req/s, {ms(alone, 50):.0f} / {ms(alone, 99):.0f} ms",
                            "no raw figure", "")
                    continue
                every = [t for v in ours["times"].values() for t in v]
                report.latencies[f"(f) {mix} mix, {kind}"] = every
                rate, raw_rate = ours["count"] / ours["wall"], raw["count"] / raw["wall"]
                raw_every = [t for v in raw["times"].values() for t in v]
                report.latencies[f"(f) {mix} mix, {kind}, raw baseline"] = raw_every
                p99 = ms(every, 99)
                target = (f"reads >= 0.5x raw, p99 < 100 ms: {verdict(rate >= 0.5 * raw_rate and p99 < 100)}"
                          if mix == "read" else f"p99 < 250 ms: {verdict(p99 < 250)}")
                if ours["refused"]:
                    target += f"; {len(ours['refused'])} answered >= 300, first: {ours['refused'][0]}"
                    if mix == "read":
                        target = target.replace(": met", ": MISSED")
                row(f"(f) {mix} mix, {clients} clients, {kind}: throughput, p50 / p99",
                    f"{rate:,.0f} req/s, {ms(every, 50):.0f} / {p99:.0f} ms", f"{rate / raw_rate:.2f}x raw", target)
                row(f"    (raw Starlette + {'asyncpg' if kind == 'postgresql' else 'aiosqlite'}, the same requests)",
                    f"{raw_rate:,.0f} req/s, {ms(raw_every, 50):.0f} / {ms(raw_every, 99):.0f} ms", "baseline", "")
                for name, times in sorted(ours["times"].items()):
                    row(f"    ({name} p50 / p99)", f"{ms(times, 50):.0f} / {ms(times, 99):.0f} ms", "", "")
                two = load.get((f"ours x{args.replicas}", mix))
                if two is not None and "failed" not in two:
                    two_every = [t for v in two["times"].values() for t in v]
                    two_rate = two["count"] / two["wall"]
                    note = f"; {len(two['refused'])} answered >= 300" if two["refused"] else ""
                    row(f"(f) {mix} mix, {args.replicas} replicas of each service, {kind}: throughput, p50 / p99",
                        f"{two_rate:,.0f} req/s, {ms(two_every, 50):.0f} / {ms(two_every, 99):.0f} ms{note}",
                        f"{two_rate / rate:.2f}x one replica", f"{two_rate / raw_rate:.2f}x raw")
                elif two is not None:
                    row(f"(f) {mix} mix, {args.replicas} replicas, {kind} FAILED", two["failed"], "", "")
                    failed.append(f"{kind} {mix} x{args.replicas}")
            if kind == "sqlite":
                count, seconds = load["locked"]
                row("(f) sqlite: a convention's page and a mission's surgeries (30) while every database's "
                    "write lock is held elsewhere", f"{count} reads answered in {seconds:.2f} s", "",
                    f"reads never take the write lock: {verdict(count == 30 and seconds < 10)}")
        if failed:
            raise RuntimeError(f"(f) failed on {', '.join(failed)}")

    async def part_g() -> None:
        scale = args.years_scale or (1.0 if args.full else 0.02 if args.quick else 0.05)
        failed = []
        for kind in args.databases.split(","):
            say(f"(g) years of data at {scale:g} of the issue's sizes, {kind} ...")
            try:
                data = await years_of_data(kind, scale, min(samples, 50), res)
            except Exception as e:  # noqa: BLE001 (the other database's figures still count)
                import traceback

                traceback.print_exc(file=sys.stderr)
                row(f"(g) {kind} FAILED", f"{type(e).__name__}: {e}".splitlines()[0][:300], "", "")
                failed.append(kind)
                continue
            c = data["counts"]
            row(f"(g) {kind}: years of data written straight (scale {scale:g})",
                f"{c.get('institutions', 0)} institutions, {c.get('conventions', 0):,} conventions, "
                f"{c.get('missions', 0):,} missions, {c.get('patient cases', 0):,} cases, "
                f"{c.get('outbox rows', 0) + c.get('inbox keys', 0):,} outbox+inbox rows", "",
                f"in {data['fill_seconds']:.0f} s")
            for label, times in data["reads"].items():
                p50 = ms(times, 50)
                row(f"    ({label} p50 / p99)" if label.startswith(" ") is False else f"   {label}",
                    f"{p50:.1f} / {ms(times, 99):.1f} ms", "", f"p50 < 50 ms: {verdict(p50 < 50)}")
            for service in data["before"]:
                (ob_rows, ob_bytes), (in_rows, in_bytes) = data["before"][service]["outbox"], data["before"][service]["inbox"]
                (oa_rows, oa_bytes), (ia_rows, ia_bytes) = data["after"][service]["outbox"], data["after"][service]["inbox"]
                row(f"    ({service}: outbox, inbox before -> after pruning, rows (bytes))",
                    f"{ob_rows:,} ({ob_bytes / 1e6:.1f} MB) -> {oa_rows:,} ({oa_bytes / 1e6:.1f} MB); "
                    f"{in_rows:,} ({in_bytes / 1e6:.1f} MB) -> {ia_rows:,} ({ia_bytes / 1e6:.1f} MB)", "",
                    f"pruned within {data['prune_seconds']:.0f} s of the start")
        if failed:
            raise RuntimeError(f"(g) failed on {', '.join(failed)}")

    async def part_h() -> None:
        surgeries = args.burst or (2000 if args.full else 100 if args.quick else 300)
        rates: dict[int, float] = {}
        for replicas in sorted({1, args.replicas}):
            say(f"(h) a convention terminated with {surgeries} scheduled surgeries, PostgreSQL, "
                f"{replicas} replica(s) of each service ...")
            burst = await burst_of_notifications(surgeries, res, replicas)
            rate = rates[replicas] = burst["count"] / burst["seconds"]
            once = burst["count"] == burst["expected"] and burst["duplicates"] == 0 and burst["failed"] == 0
            label = "" if replicas == 1 else f", {replicas} replicas of each service"
            row(f"(h) terminate, {surgeries} surgeries{label}: to the last NotificationSent",
                f"{burst['seconds']:.1f} s (the first after {burst['first']:.1f} s), {rate:,.0f} notifications/s",
                "" if replicas == 1 else f"{rate / rates[1]:.2f}x one replica", "info")
            row("    (notifications sent / expected, duplicates, failed)",
                f"{burst['count']} / {burst['expected']}, {burst['duplicates']}, {burst['failed']}", "",
                f"every notification sent once: {verdict(once)}")
            row("    (before the burst: the scheduling's, sent / expected)",
                f"{burst['before']} / {burst['expected_before']}", "", "")
        say(f"(h) raw transactional consumer on {burst['expected']} messages, for its rate ...")
        raw_rate, _ = await raw_transactional_consumer(burst["expected"], res)
        row("    (raw aio-pika + asyncpg consumer, 1 tx/msg, the same count)", f"{raw_rate:,.0f} msg/s", "baseline",
            ", ".join(f"{replicas} replica(s): {r / raw_rate:.2f}x raw" for replicas, r in rates.items()))

    parts: dict[str, Callable[[], Awaitable[None]]] = {
        "a": part_a, "b": part_b, "c": part_c, "d": part_d, "e": part_e, "f": part_f, "g": part_g, "h": part_h,
        "o": part_o}
    try:
        for letter, run in parts.items():
            if letter in only:
                await report.part(letter, run)
    finally:
        say("cleaning up ...")
        await res.cleanup()

    title = f"Jumelage benchmark, N={n} events, {samples} latency samples, {os.cpu_count()} CPUs"
    report.table(title)
    report.save(Path(args.output), title)
    print()
    print("notes:")
    print("- the convention service's SurgeryCompleted handler upserts a progress fact and records no")
    print("  outgoing event: (d1) is inbox + effect only; the inbox + effect + outbox figure compared")
    print("  with (b) is (d2), the same runtime (event_router -> EventConsumer -> UnitOfWork) with a")
    print("  generic handler doing one upsert and one uow.record.")
    print("- (d) runs with the relay stopped, so it measures consuming like (b); JSON logs at INFO")
    print("  are formatted and written to /dev/null.")
    print("- CPU ms/event: this process's CPU time over the measured window (client + service")
    print("  share the process); (b) handles one message at a time on one connection; our consumer")
    print("  handles the events that arrive together in one transaction (group commit, up to 16,")
    print("  two batches at once), each message acked after that commit.")
    print("- (e): scheduling, notification and convention services as three processes (as deployed),")
    print("  then all three in this process (one event loop, shared with the client); uvicorn over TCP,")
    print("  the e-mail delivered to a local SMTP server; one command at a time, 20 ms apart.")
    print("- (o): the service as deployed (python -m convention serve: uvicorn, uvloop, httptools), the raw")
    print("  app and the floor, each a process, answer in turn one request at a time over loopback TCP, to a")
    print("  blocking keep-alive socket client (scripts/bench.py KeepAlive); the raw app has no auth, no")
    print("  middleware, no ORM. Service CPU: /proc, over a burst of each route alone.")
    return report.finish()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:  # (o)'s baseline servers, started by request_overhead
        serve(sys.argv[2:])
        raise SystemExit(0)
    raise SystemExit(asyncio.run(main()))
