"""A service in this process, as the tests drive it: its settings (``service_settings``),
the app with its lifespan and a client bound to it (``running``, ``running_services``;
``on_a_scenario_clock``: several of them on a clock the test moves, mailing to a catcher),
events published to it as another service's relay would (``publish``), waiting until
its consumer handled them (``handled``) or its outbox is drained (``outbox_drained``),
and every delivery to its consumers watched (``deliveries``)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from jumelage.clock import write_scenario_instant
from jumelage.settings import ServiceSettings
from jumelage.testkit.mail import MailCatcher
from jumelage.testkit.client import TEST_AUTH_SECRET, TEST_IDENTITY_KEYS, TEST_IDENTITY_SEARCH_KEY, ActingAs
from jumelage.testkit.servers import TEST_RETRY_DELAYS, Database
from jumelage.testkit.waiting import WAIT_LIMIT, eventually, scaled


def service_settings(
    settings_class: type[ServiceSettings],
    *,
    amqp_url: str,
    namespace: str,
    database: Database,
    **overrides: Any,
) -> ServiceSettings:
    """Settings for a service under test: the given database (see
    :meth:`Database.for_service`), the test's namespace, fast retries."""
    values: dict[str, Any] = {
        "amqp_url": amqp_url,
        "topology_namespace": namespace,
        "retry_delays": list(TEST_RETRY_DELAYS),
        "relay_poll_interval": 0.2,
        "broker_reconnect_interval": 0.5,
        "log_format": "console",
        "auth_secret": TEST_AUTH_SECRET,
        "identity_keys": TEST_IDENTITY_KEYS,  # ignored by the services that keep no identity
        "identity_search_key": TEST_IDENTITY_SEARCH_KEY,
        **database.settings(),
    }
    values.update(overrides)
    return settings_class(**values)


@contextlib.asynccontextmanager
async def running(app: Any, migrations: Path | None = None, *, wait_broker: float = WAIT_LIMIT,
                  acting_as: ActingAs | None = None) -> AsyncIterator[Any]:
    """Run a service app in this process (lifespan included), after migrating its
    database (a fresh one from the migrated template, :mod:`jumelage.testkit.templates`);
    yield an httpx client bound to it once its broker is connected.

    The client calls as ``acting_as`` (``client.auth``; anonymous by default):
    ``client.auth.set("coordinator", institution=...)`` or ``with client.auth.acting(...)``."""
    from jumelage.testkit.templates import migrated

    runtime = app.state.runtime
    if migrations is not None:
        await migrated(runtime.engine, migrations)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(runtime.broker_connected.wait(), timeout=scaled(wait_broker))
        transport = httpx.ASGITransport(app=app)
        auth = acting_as or ActingAs(secret=runtime.settings.auth_secret.get_secret_value())
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{runtime.name}", auth=auth) as client:
            client.runtime = runtime  # type: ignore[attr-defined]
            yield client


@contextlib.asynccontextmanager
async def running_services(modules: dict[str, Any], *, amqp_url: str, namespace: str, database: Database,
                           acting_as: Callable[[], ActingAs] = ActingAs, **overrides: Any
                           ) -> AsyncIterator[dict[str, Any]]:
    """Several services in this process, on one namespace, each on its own database
    (``for_service``); ``modules`` maps a service's name to its ``app`` module
    (``Settings``, ``create_app``, ``MIGRATIONS``). Yields their clients by name.
    ``overrides``: settings of all of them (e.g. ``auth_mode="rs256"``)."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, module in modules.items():
            settings = service_settings(module.Settings, amqp_url=amqp_url, namespace=namespace,
                                        database=await database.for_service(name), **overrides)
            clients[name] = await stack.enter_async_context(
                running(module.create_app(settings), module.MIGRATIONS, acting_as=acting_as()))
        yield clients


@contextlib.asynccontextmanager
async def on_a_scenario_clock(modules: dict[str, Any], *, amqp_url: str, namespace: str, database: Database,
                              clock_file: Path, start: str, **overrides: Any
                              ) -> AsyncIterator[tuple[dict[str, Any], MailCatcher]]:
    """:func:`running_services` on a scenario clock (``clock_file``, set to ``start``; the test
    moves it with ``write_scenario_instant``), mailing to a catcher of their own, their reminders
    and deliveries polled often: their clients by name, and the catcher."""
    write_scenario_instant(clock_file, start)
    mail = MailCatcher()
    mail.start()
    try:
        async with running_services(modules, amqp_url=amqp_url, namespace=namespace, database=database,
                                    scenario_clock_file=str(clock_file), smtp_port=mail.port,
                                    reminder_check_interval=0.2, delivery_poll_interval=0.2,
                                    **overrides) as clients:
            yield clients, mail
    finally:
        mail.stop()


async def publish(channel: aio_pika.abc.AbstractChannel, namespace: str, envelopes: Iterable[Any]) -> None:
    """Publish CloudEvents as another service's relay would: persistent, to the
    namespaced exchange, on their routing keys."""
    exchange = await channel.get_exchange(f"{namespace}jumelage.events")
    for envelope in envelopes:
        await exchange.publish(
            aio_pika.Message(envelope.to_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             content_type="application/cloudevents+json", message_id=str(envelope.id),
                             correlation_id=envelope.correlationid),
            routing_key=envelope.routing_key,
        )


async def handled(runtime: Any, event_ids: Iterable[Any]) -> None:
    """Until the service's consumer has committed every one of these events (their inbox rows)."""
    from sqlalchemy import select

    from jumelage.messaging.tables import InboxRecord

    ids = set(event_ids)

    async def seen() -> bool:
        async with runtime.sessions() as s:
            return set(await s.scalars(select(InboxRecord.event_id).where(InboxRecord.event_id.in_(ids)))) == ids

    await eventually(seen)


async def outbox_drained(runtime: Any) -> int:
    """Until the service's outbox has nothing left to publish; the number of events it holds."""
    from sqlalchemy import func, select

    from jumelage.messaging.tables import OutboxRecord

    async def drained() -> bool:
        async with runtime.sessions() as s:
            pending = await s.scalars(select(OutboxRecord.seq).where(OutboxRecord.published_at.is_(None)))
            return not pending.first()

    await eventually(drained)
    async with runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxRecord)) or 0)


@dataclass
class Deliveries:
    """Deliveries to this process's event consumers, by event id: begun and finished
    (handled, ignored as a duplicate, sent to retry or dead-lettered)."""

    started: collections.Counter[str] = field(default_factory=collections.Counter)
    finished: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def in_flight(self) -> int:
        return sum(self.started.values()) - sum(self.finished.values())

    def all_finished(self, times: dict[str, int]) -> bool:
        """Each event id finished at least the given number of times."""
        return all(self.finished[event_id] >= n for event_id, n in times.items())

    async def settled(self, amqp_url: str, queues: list[str]) -> bool:
        """Nothing waits in ``queues`` (say a service queue and its retry queues) and
        nothing is being handled: the system has gone past every delivery so far."""
        if self.in_flight:
            return False
        conn = await aio_pika.connect(amqp_url)
        try:
            ch = await conn.channel()
            for name in queues:
                queue = await ch.declare_queue(name, passive=True)
                if queue.declaration_result.message_count:
                    return False
        finally:
            await conn.close()
        return self.in_flight == 0


@contextlib.contextmanager
def deliveries() -> Iterator[Deliveries]:
    """Watch every delivery to this process's event consumers until the block ends.

    The positive condition a test waits on before it says that something did not
    happen (twice, or at all): "every copy was delivered and settled", rather than
    "nothing more came within a moment"."""
    from jumelage.messaging.consumer import EventConsumer

    seen = Deliveries()
    original = EventConsumer._consume

    async def consume(self: EventConsumer, message: Any) -> None:
        event_id = _event_id(message.raw_message)
        seen.started[event_id] += 1
        try:
            await original(self, message)
        finally:
            seen.finished[event_id] += 1

    EventConsumer._consume = consume  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        EventConsumer._consume = original  # type: ignore[method-assign]


def _event_id(raw: Any) -> str:
    try:
        return str(json.loads(raw.body).get("id") or raw.message_id or "")
    except (ValueError, AttributeError):
        return str(raw.message_id or "")
