"""Fault tests (issue #7): real service processes, the real RabbitMQ and PostgreSQL.

    .venv/bin/python scripts/faults.py [--events 1000] [--only NAME] [--timeout 120] [--outage 10] [--broker-outage 5]

Each scenario runs in a topology namespace of its own and fresh PostgreSQL
schemas (deleted afterwards), sends events, injects one fault, and counts the
effects in the consumer's own database against what was sent:

  kill-consumer     kill -9 the convention service while SurgeryCompleted events
                    are in flight, restart it
  broker-restart    ``rabbitmqctl stop_app`` / ``start_app`` while the convention
                    service's outbox relays InstitutionRegistered events (created
                    through its API); effects counted in scheduling's replica
  database-outage   the convention service's PostgreSQL cut (a TCP proxy) for
                    ``--outage`` seconds while events flow, then restored
  duplicates-poison every valid event published twice, poison messages
                    interleaved (bad JSON, unknown type, missing field)
  kill-replica      two replicas of the convention service on one queue; kill -9
                    one mid-stream, never restarted: the other takes the rest

Per scenario it prints sent, effects, lost, duplicated, what was recovered
(redelivered, held, re-published) and a verdict; it exits 1 if any verdict is
FAIL. ``lost`` is the number of sent events with no effect row; ``duplicated``
the number of extra times a handler's transaction committed for an event
already handled (counted from the services' ``event handled`` log lines, one
per commit, keyed by event id) plus effect rows beyond one per event.

broker-restart stops the broker's application for a few seconds: it is in this
script only, never in the pytest suite. The broker is started again in a
``finally`` whatever happens. ``--private-broker`` spares a shared broker: the
script starts a RabbitMQ node of its own (``faults-<pid>@localhost``, its own
AMQP and distribution ports, data and logs in a temporary folder, no plugins,
so no management or Prometheus listener), runs every scenario against it,
restarts only that node (``rabbitmqctl -n <node>``) and stops it at the end.
``--broker-node NAME`` names the node that ``rabbitmqctl`` restarts when the
broker at ``--amqp-url`` is one you started yourself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx

from jumelage.auth import mint
from jumelage.cli import ArgumentParser
from jumelage.events import SurgeryCompleted, new_envelope
from jumelage.events.envelope import CONTENT_TYPE
from jumelage.messaging.topology import Topology
from jumelage.testkit.ports import free_port
from jumelage.testkit.processes import ServiceProcess
from jumelage.testkit.servers import TcpProxy, delete_queues
from jumelage.testkit.servers import plain_pg as pg_plain
from jumelage.testkit.waiting import holds_within

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
RETRY_DELAYS = (1.0, 2.0)
POISON_COUNT = 50

AUTH_SECRET = os.environ.get("AUTH_SECRET") or secrets.token_urlsafe(48)  # this run's; never printed
ADMIN = {"Authorization": "Bearer " + mint(AUTH_SECRET, subject="faults", roles=["administrator"])}


# -- results -------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    sent: int = 0
    effects: int = 0
    lost: int = 0
    duplicated: int = 0
    recovered: str = ""
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "PASS" if self.lost == 0 and self.duplicated == 0 and not self.failures else "FAIL"

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.failures.append(what)


HEADER = ("scenario", "sent", "effects", "lost", "duplicated", "recovered", "verdict", "time")


def table(results: list[Result]) -> str:
    rows = [HEADER] + [
        (r.name, str(r.sent), str(r.effects), str(r.lost), str(r.duplicated), r.recovered, r.verdict,
         f"{r.seconds:.0f} s")
        for r in results
    ]
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    lines.insert(1, "|" + "|".join(" --- " for _ in HEADER) + "|")
    return "\n".join(lines)


# -- the world a scenario runs in -------------------------------------------------------


@dataclass
class LogCounts:
    handled: Counter[str]  # event id -> commits of its handler
    messages: Counter[str]  # log message -> lines
    events: dict[str, set[str]]  # log message -> the distinct event ids it was logged for

    def distinct(self, message: str) -> int:
        return len(self.events.get(message, ()))

    @property
    def duplicated_commits(self) -> int:
        return sum(c - 1 for c in self.handled.values() if c > 1)


def log_counts(*services: ServiceProcess) -> LogCounts:
    handled: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    events: dict[str, set[str]] = {}
    for svc in services:
        for line in svc.log_lines():
            msg = str(line.get("event", ""))
            messages[msg] += 1
            if line.get("event_id"):
                events.setdefault(msg, set()).add(line["event_id"])
                if msg == "event handled":
                    handled[line["event_id"]] += 1
    return LogCounts(handled, messages, events)


class World:
    """One scenario's namespace, schemas, processes and log folder; all removed at the end."""

    def __init__(self, amqp_url: str, postgres_url: str, logs: Path) -> None:
        self.amqp_url = amqp_url
        self.postgres_url = pg_plain(postgres_url)
        self.ns = f"f{uuid.uuid4().hex[:10]}."
        self.topology = Topology(namespace=self.ns, retry_delays=RETRY_DELAYS)
        self.logs = logs
        self.schemas: list[str] = []
        self.services: list[ServiceProcess] = []
        self.extra_queues: list[str] = []

    async def __aenter__(self) -> World:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for svc in self.services:
            with suppress(Exception):
                await svc.stop(timeout=10)
        queues = [q.name for sq in self.topology.service_queues() for q in sq.all_queues()] + self.extra_queues
        with suppress(Exception):
            exchanges = [self.topology.exchange_name, *(sq.forward_exchange_name for sq in self.topology.service_queues())]
            await asyncio.wait_for(delete_queues(self.amqp_url, queues, exchanges=exchanges), 30)
        for schema in self.schemas:
            with suppress(Exception):
                await self.sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.postgres_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def schema(self, service: str) -> str:
        name = f"{self.ns.rstrip('.')}_{service}"
        await self.sql(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        return name

    def service(self, service: str, schema: str, *, database_url: str | None = None,
                logs: str | None = None) -> ServiceProcess:
        """``logs``: a subfolder of its own (a second replica of a service: log files are named by
        service, and two processes must not write one file)."""
        env = {
            **os.environ,
            "AMQP_URL": self.amqp_url,
            "DATABASE_URL": database_url or self.postgres_url,
            "DATABASE_SCHEMA": schema,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(free_port()),
            "AUTH_SECRET": AUTH_SECRET,
            "MIGRATE_ON_START": "true",
            "TOPOLOGY_NAMESPACE": self.ns,
            "DATA_DIR": str(self.logs / "data"),
            "RETRY_DELAYS": ",".join(str(d) for d in RETRY_DELAYS),
            "RELAY_POLL_INTERVAL": "0.2",
            "BROKER_RECONNECT_INTERVAL": "0.5",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("SECRETS_DIR", None)
        folder = self.logs if logs is None else self.logs / logs
        folder.mkdir(parents=True, exist_ok=True)
        svc = ServiceProcess(service, env, folder, cwd=ROOT)
        self.services.append(svc)
        return svc

    async def count(self, schema: str, query: str, *args: Any) -> int:
        return int((await self.sql(query.replace("{s}", f'"{schema}"'), *args))[0][0])

    async def inbox(self, schema: str, service: str) -> int:
        return await self.count(schema, "SELECT count(*) FROM {s}.inbox WHERE consumer = $1",
                                self.topology.service_queue(service).name)

    async def queue_depth(self, name: str) -> int:
        """Ready messages in a queue (0 if it does not exist)."""
        conn = await aio_pika.connect(self.amqp_url)
        try:
            ch = await conn.channel()
            try:
                q = await ch.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                return 0
            return int(q.declaration_result.message_count or 0)
        finally:
            await conn.close()

    async def queues_left(self, service: str) -> dict[str, int]:
        sq = self.topology.service_queue(service)
        names = [sq.name, sq.dlq_name, *(sq.retry_name(i) for i in range(1, len(RETRY_DELAYS) + 1))]
        return {n.removeprefix(self.ns): await self.queue_depth(n) for n in names}

    async def drain(self, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Take every message from a queue (acked)."""
        conn = await aio_pika.connect(self.amqp_url)
        taken = []
        try:
            ch = await conn.channel()
            q = await ch.declare_queue(name, passive=True)
            while (msg := await q.get(no_ack=True, fail=False, timeout=10)) is not None:
                taken.append(msg)
        finally:
            await conn.close()
        return taken

    async def publish(self, messages: list[tuple[bytes, str, str]], chunk: int = 100) -> None:
        """Publish (body, routing key, message id) persistent, with confirms, in order of chunks."""
        conn = await aio_pika.connect(self.amqp_url)
        try:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.declare_exchange(self.topology.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
            for i in range(0, len(messages), chunk):
                await asyncio.gather(*(
                    ex.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                                content_type=CONTENT_TYPE, message_id=mid), routing_key=key)
                    for body, key, mid in messages[i:i + chunk]
                ))
        finally:
            await conn.close()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.2) -> bool:
    return await holds_within(check, timeout, interval)


async def settle(check: Callable[[], Awaitable[int]], quiet: float = 1.5, timeout: float = 15.0) -> int:
    """Wait until a count stops changing for ``quiet`` seconds (redeliveries have landed)."""
    deadline = time.monotonic() + timeout
    last, since = await check(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = await check()
        if now != last:
            last, since = now, time.monotonic()
    return last


# -- events --------------------------------------------------------------------------------


def surgeries(n: int, convention_id: uuid.UUID) -> list[Any]:
    mission = uuid.uuid4()
    at = datetime(2024, 5, 27, 14, tzinfo=UTC)
    return [
        new_envelope(
            SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=mission, convention_id=convention_id,
                             patient_ref=f"P-{i:05d}", procedure="arterial switch", completed_at=at,
                             duration_minutes=240, outcome="successful", previously_referred_abroad=i % 2 == 0),
            correlation_id="faults", causation_id=None,
        )
        for i in range(n)
    ]


def wire(envelope: Any) -> tuple[bytes, str, str]:
    return envelope.to_json().encode(), envelope.routing_key, str(envelope.id)


def poison(i: int) -> tuple[bytes, str, str]:
    """Bad JSON, an unknown type, a missing field, in turn; all routed to the convention service."""
    mid = f"poison-{i}"
    base = json.loads(surgeries(1, uuid.uuid4())[0].to_json())
    kind = i % 3
    if kind == 0:
        return b"\x00{not json " + str(i).encode(), "surgery.completed", mid
    if kind == 1:
        return json.dumps({**base, "type": "SurgeryImagined"}).encode(), "surgery.completed", mid
    del base["data"]["outcome"]
    return json.dumps(base).encode(), "surgery.completed", mid


async def score_effects(result: Result, world: World, schema: str, service: str, sent: dict[str, str],
                        effects_sql: str, *args: Any, logs: LogCounts) -> None:
    """Count the effects (rows keyed like ``sent``: effect key -> event id) against what was sent.

    Beyond counting, each effect row must have been written in the very transaction
    that recorded its event in the inbox (same PostgreSQL ``xmin``): a second
    application of the effect would have rewritten the row in a later transaction.
    """
    effects: dict[str, str] = {}
    rows = await world.sql(effects_sql.replace("{s}", f'"{schema}"'), *args)
    for key, xmin in rows:
        effects[str(key)] = xmin
    inbox = {str(event_id): xmin for event_id, xmin in await world.sql(
        f'SELECT event_id, xmin::text FROM "{schema}".inbox WHERE consumer = $1',
        world.topology.service_queue(service).name)}
    result.sent = len(sent)
    result.effects = len(rows)
    result.lost = sum(1 for key in sent if key not in effects)
    rewritten = sum(1 for key, event_id in sent.items() if key in effects and effects[key] != inbox.get(event_id))
    result.duplicated = logs.duplicated_commits + rewritten + max(0, len(rows) - len(effects))
    result.check(not (effects.keys() - sent.keys()), f"{len(effects.keys() - sent.keys())} effects of events never sent")
    result.check(set(sent.values()) == inbox.keys(), f"inbox holds {len(inbox)} events, {len(sent)} sent")
    result.details["handler commits logged / effects in their inbox transaction"] = (
        f"{sum(logs.handled.values())} / {sum(1 for k, e in sent.items() if k in effects and effects[k] == inbox.get(e))}")


def surgery_keys(events: list[Any]) -> dict[str, str]:
    return {str(e.data.surgery_id): str(e.id) for e in events}


SURGERY_EFFECTS = "SELECT surgery_id, xmin::text FROM {s}.progress_surgery WHERE convention_id = $1"


# -- scenarios -------------------------------------------------------------------------------


async def _kill_mid_stream(result: Result, world: World, schema: str, events: list[Any], timeout: float,
                           victim: ServiceProcess) -> int:
    """Publish ``events`` to the convention service and ``kill -9`` ``victim`` once about 30 % of
    them are handled: how many were handled at the kill."""
    n = len(events)
    publishing = asyncio.create_task(world.publish([wire(e) for e in events]))

    async def handled() -> int:
        return await world.inbox(schema, "convention")

    reached = await wait_until(lambda: _at_least(handled, max(1, n * 3 // 10)), timeout, interval=0.05)
    victim.kill9()
    at_kill = await handled()
    await publishing
    result.check(reached, f"only {at_kill} of {n} handled before the kill (timeout)")
    result.check(at_kill < n, "the kill came after every event was handled: nothing was in flight")
    return at_kill


async def _all_handled_once(result: Result, world: World, schema: str, events: list[Any], convention_id: uuid.UUID,
                            timeout: float, survivor: ServiceProcess, *killed: ServiceProcess) -> LogCounts:
    """Every event handled by ``survivor`` after the kill, the queue drained, each effect once:
    the logs' counts of every process of the scenario."""
    async def handled() -> int:
        return await world.inbox(schema, "convention")

    done = await wait_until(lambda: _at_least(handled, len(events)), timeout)
    result.check(done, f"not every event handled within {timeout}s after the kill")
    await settle(handled)
    drained = await wait_until(lambda: _queue_empty(world, world.topology.service_queue("convention").name), timeout)
    result.check(drained, f"the service queue not drained within {timeout}s")
    await survivor.stop()
    logs = log_counts(*killed, survivor)
    await score_effects(result, world, schema, "convention", surgery_keys(events), SURGERY_EFFECTS, convention_id,
                        logs=logs)
    left = await world.queues_left("convention")
    result.check(not any(left.values()), f"messages left in queues: {left}")
    return logs


async def kill_consumer(world: World, n: int, timeout: float, **_: Any) -> Result:
    """kill -9 the convention service while events are in flight; restart it."""
    result = Result("kill-consumer")
    schema = await world.schema("convention")
    svc = world.service("convention", schema)
    svc.start()
    await svc.ready()
    convention_id = uuid.uuid4()
    events = surgeries(n, convention_id)
    at_kill = await _kill_mid_stream(result, world, schema, events, timeout, svc)
    result.details["handled before kill -9"] = at_kill
    svc.start()
    await svc.ready()
    logs = await _all_handled_once(result, world, schema, events, convention_id, timeout, svc)
    dups = logs.messages["duplicate event ignored"]
    result.recovered = f"{n - at_kill} handled after restart, {dups} redelivered duplicates ignored"
    return result


async def kill_replica(world: World, n: int, timeout: float, **_: Any) -> Result:
    """Two replicas of the convention service consume one queue; kill -9 one of them mid-stream
    and do not restart it: the other must take every event the dead one held unacked."""
    result = Result("kill-replica")
    schema = await world.schema("convention")
    first = world.service("convention", schema)
    first.start()
    await first.ready()  # migrated once, by the first; the second finds the schema at head
    second = world.service("convention", schema, logs="replica2")
    second.start()
    await second.ready()
    convention_id = uuid.uuid4()
    events = surgeries(n, convention_id)
    at_kill = await _kill_mid_stream(result, world, schema, events, timeout, first)
    result.details["handled before kill -9 (both replicas)"] = at_kill
    logs = await _all_handled_once(result, world, schema, events, convention_id, timeout, second, first)
    by_first, by_second = log_counts(first).handled, log_counts(second).handled
    result.check(bool(by_first) and bool(by_second), "both replicas did not both handle events")
    dups = logs.messages["duplicate event ignored"]
    result.details["handled by each replica (killed / survivor)"] = f"{len(by_first)} / {len(by_second)}"
    result.recovered = (f"{n - at_kill} handled by the survivor after the kill, {dups} redelivered duplicates "
                        "ignored")
    return result


async def broker_restart(world: World, n: int, timeout: float, broker_outage: float = 5.0, **_: Any) -> Result:
    """Stop and start the RabbitMQ application while the convention outbox relays InstitutionRegistered."""
    result = Result("broker-restart")
    conv_schema = await world.schema("convention")
    sched_schema = await world.schema("scheduling")

    # Our own witness: a durable quorum queue bound before anything is published, read afterwards.
    tap = f"{world.ns}faults.tap"
    world.extra_queues.append(tap)
    conn = await aio_pika.connect(world.amqp_url)
    try:
        ch = await conn.channel()
        ex = await ch.declare_exchange(world.topology.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(tap, durable=True, arguments={"x-queue-type": "quorum"})
        await q.bind(ex, "institution.registered")
    finally:
        await conn.close()

    convention = world.service("convention", conv_schema)
    scheduling = world.service("scheduling", sched_schema)
    convention.start()
    scheduling.start()
    await convention.ready()
    await scheduling.ready()

    created: list[str] = []
    failed_requests = 0
    pending_at: dict[str, int] = {}

    async def pending() -> int:
        return await world.count(conv_schema, "SELECT count(*) FROM {s}.outbox WHERE published_at IS NULL")

    async def create(client: httpx.AsyncClient, numbers: list[int]) -> None:
        nonlocal failed_requests
        for i in numbers:
            body = {"name": f"Faults Clinic {i:05d} {world.ns}", "kind": "clinic", "country": "DZ",
                    "city": "Tipaza"}
            try:
                r = await client.post(f"http://127.0.0.1:{convention.port}/institutions", json=body, timeout=30,
                                      headers=ADMIN)
                r.raise_for_status()
                created.append(r.json()["id"])
            except httpx.HTTPError:
                failed_requests += 1

    async def restart_broker() -> None:
        await wait_until(lambda: _true(len(created) >= n * 3 // 10), timeout, interval=0.05)
        t0 = time.monotonic()
        marks = [f"stop_app at {len(created)} created, {await pending()} pending"]
        try:
            await rabbitmqctl("stop_app")
            marks.append(f"stopped after {time.monotonic() - t0:.1f} s")
            outage_ends = time.monotonic() + broker_outage
            while time.monotonic() < outage_ends:
                pending_at["max"] = max(pending_at.get("max", 0), await pending())
                await asyncio.sleep(0.25)
        finally:
            with suppress(Exception):
                marks.append(f"start_app at {len(created)} created, {await pending()} pending")
            await rabbitmqctl("start_app")  # and ensure_broker_running() once more after the scenario
        await rabbitmqctl("await_startup")
        marks.append(f"started after {time.monotonic() - t0:.1f} s, {await pending()} pending")
        result.details["broker restart"] = "; ".join(marks)

    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        writers = [create(client, list(range(k, n, 8))) for k in range(8)]
        await asyncio.gather(restart_broker(), *writers)
    result.details["created in"] = f"{time.monotonic() - started:.1f} s"
    result.check(failed_requests == 0, f"{failed_requests} POST /institutions failed")

    async def replicated() -> int:
        return await world.inbox(sched_schema, "scheduling")

    drained = await wait_until(lambda: _zero(pending), timeout)
    result.check(drained, f"outbox not drained within {timeout}s")
    done = await wait_until(lambda: _at_least(replicated, len(created)), timeout)
    result.check(done, f"scheduling did not replicate every institution within {timeout}s")
    await settle(replicated)
    await convention.stop()
    await scheduling.stop()

    outbox_total = await world.count(conv_schema, "SELECT count(*) FROM {s}.outbox "
                                     "WHERE event_type = 'InstitutionRegistered'")
    outbox_unpublished = await pending()
    result.check(outbox_total == len(created), f"{outbox_total} outbox rows for {len(created)} institutions")
    result.check(outbox_unpublished == 0, f"{outbox_unpublished} outbox rows never published")

    seen = await world.drain(tap)
    ids = [json.loads(m.body)["data"]["institution_id"] for m in seen]
    broker_dups = len(ids) - len(set(ids))
    result.check(set(created) <= set(ids), f"{len(set(created) - set(ids))} institutions never reached the broker")

    logs = log_counts(scheduling)
    # institution id -> the id of its InstitutionRegistered event, from the producer's outbox
    registered = {json.loads(envelope)["data"]["institution_id"]: str(event_id) for event_id, envelope in
                  await world.sql(f'SELECT event_id, envelope FROM "{conv_schema}".outbox '
                                  "WHERE event_type = 'InstitutionRegistered'")}
    sent = {i: registered.get(i, f"unrecorded-{i}") for i in created}
    await score_effects(result, world, sched_schema, "scheduling", sent,
                        "SELECT id, xmin::text FROM {s}.institution", logs=logs)
    left = await world.queues_left("scheduling")
    result.check(not any(left.values()), f"messages left in scheduling queues: {left}")
    relay_retries = log_counts(convention).messages["outbox relay failed, retrying"]
    result.recovered = (f"{pending_at.get('max', 0)} outbox rows waited for the broker "
                        f"({relay_retries} relay retries); "
                        f"{broker_dups} duplicates at broker, "
                        f"{logs.messages['duplicate event ignored']} ignored by inbox")
    result.details["tap messages / distinct"] = f"{len(ids)} / {len(set(ids))}"
    return result


async def database_outage(world: World, n: int, timeout: float, outage: float = 10.0, **_: Any) -> Result:
    """Cut the convention service's PostgreSQL (TCP proxy) for ``outage`` seconds while events flow."""
    result = Result("database-outage")
    schema = await world.schema("convention")
    host, port = _host_port(world.postgres_url)
    proxy = TcpProxy(host, port)
    proxy_port = await proxy.start()
    try:
        via_proxy = world.postgres_url.replace(f"@{host}:{port}/", f"@127.0.0.1:{proxy_port}/")
        svc = world.service("convention", schema, database_url=via_proxy)
        svc.start()
        await svc.ready()
        convention_id = uuid.uuid4()
        events = surgeries(n, convention_id)
        publishing = asyncio.create_task(world.publish([wire(e) for e in events]))

        async def handled() -> int:
            return await world.inbox(schema, "convention")  # directly, not through the proxy

        reached = await wait_until(lambda: _at_least(handled, max(1, n // 5)), timeout, interval=0.05)
        await proxy.cut()
        at_cut = await handled()
        await asyncio.sleep(outage)
        during = await handled() - at_cut
        await proxy.restore()
        await publishing
        result.check(reached, f"only {at_cut} of {n} handled before the cut (timeout)")
        result.check(at_cut < n, "the cut came after every event was handled")
        result.details["handled before cut / during cut"] = f"{at_cut} / {during}"

        done = await wait_until(lambda: _at_least(handled, n), timeout)
        result.check(done, f"not every event handled within {timeout}s after the database came back")
        await settle(handled)
        drained = await wait_until(lambda: _queue_empty(world, world.topology.service_queue("convention").name),
                                   timeout)
        result.check(drained, f"the service queue not drained within {timeout}s")
        await svc.stop()
    finally:
        await proxy.cut()

    logs = log_counts(svc)
    await score_effects(result, world, schema, "convention", surgery_keys(events), SURGERY_EFFECTS, convention_id,
                        logs=logs)
    left = await world.queues_left("convention")
    result.check(not any(left.values()), f"messages left in queues (DLQ must be empty): {left}")
    held = logs.distinct("database unreachable, holding event")
    retried = logs.distinct("event handler failed, will retry")
    dups = logs.messages["duplicate event ignored"]
    result.recovered = (f"{n - at_cut} handled after restore; {held} events held unacked while down, "
                        f"{retried} sent to retry, {dups} committed-but-unacked ignored on redelivery")
    return result


async def duplicates_poison(world: World, n: int, timeout: float, **_: Any) -> Result:
    """Every valid event twice, poison messages interleaved: one effect each, poison in the DLQ."""
    result = Result("duplicates-poison")
    schema = await world.schema("convention")
    svc = world.service("convention", schema)
    svc.start()
    await svc.ready()
    convention_id = uuid.uuid4()
    events = surgeries(n, convention_id)
    rng = random.Random(7)
    copies = [wire(e) for e in events] * 2
    rng.shuffle(copies)
    for i in range(POISON_COUNT):
        copies.insert(rng.randrange(len(copies) + 1), poison(i))
    await world.publish(copies)
    dlq = world.topology.service_queue("convention").dlq_name

    async def handled() -> int:
        return await world.inbox(schema, "convention")

    done = await wait_until(lambda: _at_least(handled, n), timeout)
    result.check(done, f"not every valid event handled within {timeout}s")
    drained = await wait_until(lambda: _queue_empty(world, world.topology.service_queue("convention").name), timeout)
    result.check(drained, f"the service queue not drained within {timeout}s")

    async def duplicates_ignored() -> bool:  # the positive sign that every second copy was settled
        return log_counts(svc).distinct("duplicate event ignored") >= n

    seen_all = await wait_until(duplicates_ignored, timeout)
    result.check(seen_all, f"not every duplicate settled within {timeout}s")
    await settle(handled)
    await svc.stop()

    logs = log_counts(svc)
    await score_effects(result, world, schema, "convention", surgery_keys(events), SURGERY_EFFECTS, convention_id,
                        logs=logs)
    dead = await world.drain(dlq)
    reasons = [str((m.headers or {}).get("x-error", "")) for m in dead]
    result.check(len(dead) == POISON_COUNT, f"{len(dead)} dead letters, {POISON_COUNT} poison sent")
    result.check(all(reasons), f"{sum(not r for r in reasons)} dead letters without x-error")
    kinds = Counter("not JSON" if "not JSON" in r else "unknown type" if "unknown event type" in r
                    else "missing field" if "outcome" in r else "other" for r in reasons)
    result.check(kinds["other"] == 0, f"unexpected dead-letter reasons: {kinds}")
    left = await world.queues_left("convention")
    result.check(not any(left.values()), f"messages left in queues: {left}")
    dups = logs.messages["duplicate event ignored"]
    result.recovered = (f"{dups} duplicates ignored; {len(dead)} poison in DLQ with x-error "
                        f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))})")
    result.details["sent messages"] = f"{2 * n} valid copies + {POISON_COUNT} poison"
    return result


SCENARIOS: dict[str, Callable[..., Awaitable[Result]]] = {
    "kill-consumer": kill_consumer,
    "broker-restart": broker_restart,
    "database-outage": database_outage,
    "duplicates-poison": duplicates_poison,
    "kill-replica": kill_replica,
}


# -- helpers ------------------------------------------------------------------------------


async def _at_least(count: Callable[[], Awaitable[int]], target: int) -> bool:
    return await count() >= target


async def _zero(count: Callable[[], Awaitable[int]]) -> bool:
    return await count() == 0


async def _true(value: bool) -> bool:
    return value


async def _queue_empty(world: World, name: str) -> bool:
    return await world.queue_depth(name) == 0


def _host_port(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


BROKER_NODE: str | None = os.environ.get("FAULTS_BROKER_NODE") or None
"""The RabbitMQ node that broker-restart stops and starts (``rabbitmqctl -n``); None: rabbitmqctl's default."""


class PrivateBroker:
    """A RabbitMQ node of this run's own, on ports of its own, so that restarting it touches no
    other user of the machine's broker. Its data and logs live in a temporary folder (removed
    once it is stopped); it loads no plugin (no management or Prometheus listener to clash)."""

    def __init__(self) -> None:
        self.node = f"faults-{os.getpid()}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="jumelage-faults-broker-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        (self.base / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
                                                  "loopback_users = none\n")
        (self.base / "enabled_plugins").write_text("[].\n")
        return {**os.environ, "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.base / "node.pid")}

    async def start(self, timeout: float = 180.0) -> None:
        global BROKER_NODE
        # The server script itself, not the Debian wrapper (which would su to the rabbitmq user, who
        # cannot write this folder); with the home whose Erlang cookie rabbitmqctl (run as that
        # user by its wrapper) presents.
        server = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
        command = [str(server)] if server.exists() else ["rabbitmq-server"]
        env = {**self.env(), "HOME": "/var/lib/rabbitmq"} if server.exists() else self.env()
        with (self.base / "server.log").open("wb") as out:
            self.proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        BROKER_NODE = self.node
        deadline = time.monotonic() + timeout
        while True:  # await_startup fails at once while the node is not yet registered with epmd
            if self.proc.poll() is not None:
                raise RuntimeError(f"the private broker exited: {(self.base / 'server.log').read_text()[-2000:]}")
            try:
                await rabbitmqctl("await_startup", timeout=60)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)

    async def stop(self) -> None:
        with suppress(Exception):
            await rabbitmqctl("stop", timeout=60)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)


async def rabbitmqctl(*args: str, timeout: float = 60.0) -> None:
    node = ["-n", BROKER_NODE] if BROKER_NODE else []
    proc = await asyncio.create_subprocess_exec("rabbitmqctl", *node, *args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} timed out") from None
    if proc.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {err.decode(errors='replace').strip()}")


async def ensure_broker_running() -> None:
    """Whatever happened, leave the broker's application running."""
    with suppress(Exception):
        await rabbitmqctl("start_app")
    with suppress(Exception):
        await rabbitmqctl("await_startup")


async def run_scenario(name: str, events: int = 1000, *, amqp_url: str = DEFAULT_AMQP,
                       postgres_url: str = DEFAULT_POSTGRES, timeout: float = 120.0, outage: float = 10.0,
                       broker_outage: float = 5.0, logs: Path | None = None) -> Result:
    """Run one scenario in a world of its own; never raises: a failure is a FAIL verdict."""
    scenario = SCENARIOS[name]
    own_logs = logs is None
    folder = Path(tempfile.mkdtemp(prefix=f"faults-{name}-")) if logs is None else logs / name
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        async with World(amqp_url, postgres_url, folder) as world:
            try:
                # A backstop over the scenario's own waits (a few of them, each bounded by ``timeout``).
                result = await asyncio.wait_for(
                    scenario(world, events, timeout, outage=outage, broker_outage=broker_outage),
                    timeout * 3 + outage + broker_outage + 60)
            finally:
                if name == "broker-restart":
                    await ensure_broker_running()
    except Exception as exc:  # noqa: BLE001  (reported as the verdict)
        result = Result(name, failures=[f"{type(exc).__name__}: {exc}"])
    result.seconds = time.monotonic() - started
    if result.verdict != "PASS" or os.environ.get("FAULTS_KEEP_LOGS"):
        result.details["service logs"] = str(folder)
    elif own_logs:
        shutil.rmtree(folder, ignore_errors=True)
    return result


async def main_async(args: argparse.Namespace) -> int:
    names = [args.only] if args.only else list(SCENARIOS)
    logs = Path(tempfile.mkdtemp(prefix="jumelage-faults-"))
    results = []
    for name in names:
        print(f"== {name}: {args.events} events ...", flush=True)
        result = await run_scenario(name, args.events, amqp_url=args.amqp_url, postgres_url=args.postgres_url,
                                    timeout=args.timeout, outage=args.outage,
                                    broker_outage=args.broker_outage, logs=logs)
        results.append(result)
        print(f"   sent {result.sent}, effects {result.effects}, lost {result.lost}, "
              f"duplicated {result.duplicated}; recovered: {result.recovered or '-'}; "
              f"{result.verdict} in {result.seconds:.0f} s", flush=True)
        for key, value in result.details.items():
            print(f"   {key}: {value}", flush=True)
        for failure in result.failures:
            print(f"   FAILED: {failure}", flush=True)
    print()
    print(table(results))
    failed = [r.name for r in results if r.verdict != "PASS"]
    if failed:
        print(f"\nFAIL: {', '.join(failed)} (service logs under {logs})")
        return 1
    if not os.environ.get("FAULTS_KEEP_LOGS"):
        shutil.rmtree(logs, ignore_errors=True)
    print("\nall scenarios: 0 lost, 0 duplicated")
    return 0


def main() -> int:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000, help="events per scenario (default 1000)")
    parser.add_argument("--only", choices=list(SCENARIOS), help="run one scenario")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for each wait of a scenario")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the database stays away")
    parser.add_argument("--broker-outage", type=float, default=5.0,
                        help="seconds between rabbitmqctl stop_app and start_app")
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL", DEFAULT_AMQP))
    parser.add_argument("--postgres-url", default=os.environ.get("POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--broker-node", default=BROKER_NODE,
                        help="the RabbitMQ node broker-restart restarts (rabbitmqctl -n; default: rabbitmqctl's, "
                             "or FAULTS_BROKER_NODE)")
    parser.add_argument("--private-broker", action="store_true",
                        help="start a RabbitMQ node of this run's own on free ports, run against it and restart "
                             "only it, stop it at the end (spares a broker others use)")
    args = parser.parse_args()
    return asyncio.run(run_all(args))


async def run_all(args: argparse.Namespace) -> int:
    global BROKER_NODE
    BROKER_NODE = args.broker_node
    private = PrivateBroker() if args.private_broker else None
    try:
        if private is not None:
            await private.start()
            args.amqp_url = private.amqp_url
            print(f"private broker {private.node} on port {private.port}", flush=True)
        return await main_async(args)
    finally:
        if private is not None:
            await private.stop()
        elif args.only in (None, "broker-restart"):
            await ensure_broker_running()


if __name__ == "__main__":
    sys.exit(main())
