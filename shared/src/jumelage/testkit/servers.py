"""The broker and PostgreSQL the tests and scripts use, and what is made on them.

Discovery: testcontainers when a Docker engine answers; otherwise the servers named
by ``AMQP_URL`` and ``DATABASE_URL``/``POSTGRES_URL``, defaulting to the loopback
ones. A server that cannot be reached raises :class:`ServerUnavailable`, which the
pytest plugin turns into a failure: it is never a skip.

Isolation: a :class:`Database` of a test's own (a SQLite file, or a PostgreSQL schema),
topology namespaces deleted afterwards (:func:`delete_namespace`) or purged and given
to the next test (:class:`NamespacePool`), and :class:`TcpProxy` to cut a client off
from a server and let it back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg

from jumelage.testkit.waiting import scaled

LOOPBACK_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOOPBACK_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

# Short retry delays for tests: a retried event comes back at once.
TEST_RETRY_DELAYS = (0.1, 0.2)


class ServerUnavailable(RuntimeError):
    """A server the tests need does not answer (the message says how to start it)."""


def docker_available() -> bool:
    if os.environ.get("JUMELAGE_NO_DOCKER"):
        return False
    try:
        import docker  # testcontainers' dependency: absent where only the services are installed

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def amqp_server() -> Iterator[str]:
    """The broker's URL: a RabbitMQ container with a Docker engine (and no ``AMQP_URL``),
    else ``AMQP_URL`` or the loopback broker, checked to answer."""
    if docker_available() and not os.environ.get("AMQP_URL"):
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:4.1-management") as rabbit:
            params = rabbit.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/"
        return
    url = os.environ.get("AMQP_URL", LOOPBACK_AMQP)
    run_in_thread(require_broker(url))
    yield url


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """PostgreSQL's URL: ``POSTGRES_URL`` (or a PostgreSQL ``DATABASE_URL``), else a
    container with a Docker engine, else the loopback server; checked to answer."""
    given = os.environ.get("POSTGRES_URL") or _postgres_from_database_url()
    if docker_available() and not given:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    url = given or LOOPBACK_POSTGRES
    run_in_thread(require_postgres(url))
    yield url


async def require_broker(url: str) -> None:
    try:
        conn = await asyncio.wait_for(aio_pika.connect(url), timeout=scaled(30))
    except Exception as exc:
        raise ServerUnavailable(
            f"RabbitMQ is required and not reachable at {safe_url(url)}: {exc!r}. "
            "Start it (`rabbitmq-server -detached`) or set AMQP_URL.") from None
    await conn.close()


async def require_postgres(url: str) -> None:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(plain_pg(url)), timeout=scaled(30))
    except Exception as exc:
        raise ServerUnavailable(
            f"PostgreSQL is required and not reachable at {safe_url(url)}: {exc!r}. "
            "Start it (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
            "or set POSTGRES_URL.") from None
    await conn.close()


def run_in_thread(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to its end from plain code, even inside a running event loop
    (session fixtures may be first requested from one)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _postgres_from_database_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgresql", "postgres:")) else None


def plain_pg(url: str) -> str:
    """A PostgreSQL URL as asyncpg takes it (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")


def safe_url(url: str) -> str:
    from yarl import URL

    return URL(url).with_password(None).human_repr() if "@" in url else url


async def execute(url: str, sql: str) -> None:
    """One statement on PostgreSQL, on a connection of its own."""
    conn = await asyncpg.connect(plain_pg(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Database:
    """One test's own database: ``url`` and, on PostgreSQL, the ``schema`` to use."""

    kind: str
    url: str
    schema: str | None = None
    children: list[str] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        return {"database_url": self.url, "database_schema": self.schema}

    async def for_service(self, service: str) -> Database:
        """A database of the service's own beside this one (services never share one)."""
        if self.kind == "sqlite":
            path = Path(self.url.split("///", 1)[1])
            return Database("sqlite", f"sqlite+aiosqlite:///{path.with_name(service + '.db')}")
        schema = f"{self.schema}_{service}"
        await execute(self.url, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.children.append(schema)
        return Database("postgresql", self.url, schema)


async def delete_namespace(amqp_url: str, ns: str, retry_delays: tuple[float, ...] = TEST_RETRY_DELAYS) -> None:
    """Delete the exchanges and queues of a topology namespace, the retry queues of
    ``retry_delays`` and of the default delays (a test may declare either: left behind,
    quorum queues slow the broker down, its restarts most). Absent ones are fine."""
    from jumelage.messaging.topology import DEFAULT_RETRY_DELAYS, Topology

    queues: dict[str, None] = {}
    for delays in (tuple(retry_delays), DEFAULT_RETRY_DELAYS):
        topology = Topology(namespace=ns, retry_delays=delays)
        queues.update((q.name, None) for sq in topology.service_queues() for q in sq.all_queues())
    forwards = [sq.forward_exchange_name for sq in topology.service_queues()]
    await delete_queues(amqp_url, list(queues), exchanges=[topology.exchange_name, *forwards])


class NamespacePool:
    """Topology namespaces with the services' test topology declared (``Topology`` with
    ``TEST_RETRY_DELAYS``: what ``service_settings`` makes each service declare), handed
    to one test at a time: declaring a namespace costs 0.2-0.4 s and deleting it 0.2 s,
    purging its queues a few milliseconds.

    Given back, a namespace is reused only if it is as a fresh one would be once
    declared: no consumer on any of its queues (nothing of the test still runs), and
    every queue empty, purged until a whole pass finds nothing (a message on its way
    from a retry queue to its service queue is purged on the next pass). Otherwise it
    is deleted. Queues a test declared beside the topology are not the pool's to know:
    tests that declare their own use ``namespace``."""

    def __init__(self, amqp_url: str, retry_delays: tuple[float, ...] = TEST_RETRY_DELAYS) -> None:
        self.amqp_url = amqp_url
        self.retry_delays = retry_delays
        self._idle: list[str] = []
        self._made: set[str] = set()

    def _queues(self, ns: str) -> list[str]:
        from jumelage.messaging.topology import Topology

        topology = Topology(namespace=ns, retry_delays=self.retry_delays)
        # Retry queues first: what they give back goes to the service queue, what that
        # dead-letters to the DLQ.
        return [name for sq in topology.service_queues()
                for name in [*(q.name for q in sq.retry_queues()), sq.name, sq.dlq_name]]

    async def take(self) -> str:
        if self._idle:
            return self._idle.pop()
        from faststream.rabbit import RabbitBroker

        from jumelage.messaging.topology import Topology

        ns = f"t{uuid.uuid4().hex[:10]}."
        self._made.add(ns)
        broker = RabbitBroker(self.amqp_url, logger=None)
        try:
            await broker.connect()
            await Topology(namespace=ns, retry_delays=self.retry_delays).declare(broker)
        finally:
            await broker.stop()
        return ns

    async def give_back(self, ns: str, *, reusable: bool = True) -> None:
        if reusable and await self._emptied(ns):
            self._idle.append(ns)
            return
        self._made.discard(ns)
        await delete_namespace(self.amqp_url, ns, self.retry_delays)

    async def _emptied(self, ns: str, passes: int = 5) -> bool:
        try:
            conn = await aio_pika.connect(self.amqp_url)
        except Exception:
            return False
        try:
            ch = await conn.channel()
            names = self._queues(ns)
            for _ in range(passes):
                purged = 0
                for name in names:
                    queue = await ch.declare_queue(name, passive=True)  # absent: not reusable
                    if queue.declaration_result.consumer_count:
                        return False
                    purged += queue.declaration_result.message_count or 0
                    purged += (await queue.purge()).message_count or 0
                if not purged:
                    return True
            return False
        except Exception:
            return False
        finally:
            await conn.close()

    async def close(self) -> None:
        """Delete every namespace the pool made (at the end of the session)."""
        for ns in sorted(self._made):
            await delete_namespace(self.amqp_url, ns, self.retry_delays)
        self._made.clear()
        self._idle.clear()


async def delete_queues(amqp_url: str, queues: list[str], exchanges: list[str] = ()) -> None:  # type: ignore[assignment]
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        for name in queues:
            await ch.queue_delete(name)  # absent queues are fine
        for name in exchanges:
            await ch.exchange_delete(name)
    finally:
        await conn.close()


async def queue_depth(amqp_url: str, name: str) -> int:
    """How many messages wait in a queue (which must exist)."""
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(name, passive=True)
        return q.declaration_result.message_count or 0
    finally:
        await conn.close()


class TcpProxy:
    """A loopback TCP proxy to cut a client off from a server and let it back.

    ``cut()`` closes every open connection and refuses new ones, which is what
    a broker restart or a network fault looks like to the client;
    ``restore()`` accepts again.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port: int = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.close()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()  # same port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))
