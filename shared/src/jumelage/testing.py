"""Test fixtures for every service (a pytest plugin: ``pytest_plugins = ["jumelage.testing"]``).

Broker and database: testcontainers when a Docker engine answers; otherwise the
servers named by ``AMQP_URL`` and ``DATABASE_URL``/``POSTGRES_URL``, defaulting to
the loopback ones. A server that cannot be reached fails the test loudly: it is
never a skip.

Isolation: each test gets its own topology namespace (exchange and queue names
prefixed, deleted afterwards) and its own database (a SQLite file, or a fresh
PostgreSQL schema dropped afterwards). ``database`` is parametrised, so a test
that uses it runs on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from jumelage.settings import ServiceSettings

LOOPBACK_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOOPBACK_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def timeout_scale() -> float:
    """``JUMELAGE_TEST_TIMEOUT_SCALE`` (default 1): every limit of the test kit is multiplied by it."""
    return float(os.environ.get("JUMELAGE_TEST_TIMEOUT_SCALE") or 1)


def scaled(seconds: float) -> float:
    """A limit on how long a test waits for something, scaled for a slow or busy machine.

    A limit is only where a test gives up: tests wait on a condition, never for a
    fixed time, so a generous limit costs nothing when the machine is quick."""
    return seconds * timeout_scale()


# Long enough for two busy cores shared with other work: a condition that holds
# is seen at once, so only a failing test waits this long.
WAIT_LIMIT = 60.0


def docker_available() -> bool:
    if os.environ.get("JUMELAGE_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    if docker_available() and not os.environ.get("AMQP_URL"):
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:4.1-management") as rabbit:
            params = rabbit.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/"
        return
    url = os.environ.get("AMQP_URL", LOOPBACK_AMQP)
    _run_in_thread(_require_broker(url))
    yield url


async def _require_broker(url: str) -> None:
    try:
        conn = await asyncio.wait_for(aio_pika.connect(url), timeout=scaled(30))
    except Exception as exc:
        pytest.fail(
            f"RabbitMQ is required and not reachable at {_safe(url)}: {exc!r}. "
            "Start it (`rabbitmq-server -detached`) or set AMQP_URL.",
            pytrace=False,
        )
    await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    given = os.environ.get("POSTGRES_URL") or _postgres_from_database_url()
    if docker_available() and not given:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    url = given or LOOPBACK_POSTGRES
    _run_in_thread(_require_postgres(url))
    yield url


def _run_in_thread(coro: Any) -> Any:
    # Session fixtures may be first requested from inside a running event loop.
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _postgres_from_database_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgresql", "postgres:")) else None


async def _require_postgres(url: str) -> None:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(_plain_pg(url)), timeout=scaled(30))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is required and not reachable at {_safe(url)}: {exc!r}. "
            "Start it (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
            "or set POSTGRES_URL.",
            pytrace=False,
        )
    await conn.close()


def _plain_pg(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")


def _safe(url: str) -> str:
    from yarl import URL

    return URL(url).with_password(None).human_repr() if "@" in url else url


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
        await _execute(self.url, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self.children.append(schema)
        return Database("postgresql", self.url, schema)


async def _execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_plain_pg(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _execute(base, f'CREATE SCHEMA "{schema}"')
    db = Database("postgresql", base, schema)
    try:
        yield db
    finally:
        for name in [schema, *db.children]:
            await _execute(base, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
async def namespace(amqp_url: str) -> AsyncIterator[str]:
    """A topology namespace of this test's own; its exchange and queues are deleted after."""
    ns = f"t{uuid.uuid4().hex[:10]}."
    yield ns
    await delete_namespace(amqp_url, ns)


TEST_RETRY_DELAYS = (0.1, 0.2)


async def delete_namespace(amqp_url: str, ns: str, retry_delays: tuple[float, ...] = TEST_RETRY_DELAYS) -> None:
    from jumelage.messaging.topology import Topology

    topology = Topology(namespace=ns, retry_delays=retry_delays)
    queues = [q.name for sq in topology.service_queues() for q in sq.all_queues()]
    forwards = [sq.forward_exchange_name for sq in topology.service_queues()]
    await delete_queues(amqp_url, queues, exchanges=[topology.exchange_name, *forwards])


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
        **database.settings(),
    }
    values.update(overrides)
    return settings_class(**values)


TEST_AUTH_SECRET = "jumelage-tests-only-hs256-secret-0123456789"


def token(*roles: str, institution: uuid.UUID | str | None = None, practitioner: uuid.UUID | str | None = None,
          subject: str = "tester", secret: str = TEST_AUTH_SECRET, **claims: Any) -> str:
    """A token signed with the tests' secret, as ``python -m jumelage.auth mint`` makes them."""
    from jumelage.auth import mint

    return mint(secret, subject=subject, institution=institution, roles=roles, practitioner=practitioner, **claims)


def bearer(*roles: str, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, **kw)}"}


class ActingAs(httpx.Auth):
    """The identity a test's client calls as: set it, or switch for a block.

    Each request gets a freshly minted token of the current identity, unless the
    request carries its own ``Authorization`` header.
    """

    def __init__(self, *roles: str, secret: str = TEST_AUTH_SECRET, **kw: Any) -> None:
        self.secret = secret
        self.identity: tuple[tuple[str, ...], dict[str, Any]] | None = (roles, kw) if roles or kw else None

    def set(self, *roles: str, **kw: Any) -> None:
        self.identity = (roles, kw)

    @contextlib.contextmanager
    def acting(self, *roles: str, **kw: Any) -> Iterator[None]:
        before, self.identity = self.identity, (roles, kw)
        try:
            yield
        finally:
            self.identity = before

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        if self.identity is not None and "authorization" not in request.headers:
            roles, kw = self.identity
            request.headers["Authorization"] = f"Bearer {token(*roles, secret=self.secret, **kw)}"
        yield request


async def table_columns(engine: Any) -> dict[str, set[str]]:
    """Each table of the engine's database (its schema) with its column names."""
    import sqlalchemy as sa

    def read(sync_conn: Any) -> dict[str, set[str]]:
        inspector = sa.inspect(sync_conn)
        return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}

    async with engine.connect() as conn:
        return await conn.run_sync(read)  # type: ignore[no-any-return]


async def assert_migrated_as_mapped(engine: Any, metadata: Any) -> None:
    """Every mapped table exists in the migrated database with exactly its columns."""
    tables = await table_columns(engine)
    for table in metadata.sorted_tables:
        assert table.name in tables, f"table {table.name} not created by the migrations"
        assert {c.name for c in table.columns} == tables[table.name], table.name


async def downgrade(engine: Any, migrations: Path, revision: str) -> None:
    """Alembic's downgrade of a service's migrations to ``revision``."""
    from alembic import command
    from alembic.config import Config

    def run(sync_conn: Any) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrations))
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


@contextlib.asynccontextmanager
async def running(app: Any, migrations: Path | None = None, *, wait_broker: float = WAIT_LIMIT,
                  acting_as: ActingAs | None = None) -> AsyncIterator[Any]:
    """Run a service app in this process (lifespan included), after migrating its
    database; yield an httpx client bound to it once its broker is connected.

    The client calls as ``acting_as`` (``client.auth``; anonymous by default):
    ``client.auth.set("coordinator", institution=...)`` or ``with client.auth.acting(...)``."""
    import httpx

    from jumelage.migrations import migrate

    runtime = app.state.runtime
    if migrations is not None:
        await migrate(runtime.engine, migrations)
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(runtime.broker_connected.wait(), timeout=scaled(wait_broker))
        transport = httpx.ASGITransport(app=app)
        auth = acting_as or ActingAs(secret=runtime.settings.auth_secret.get_secret_value())
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{runtime.name}", auth=auth) as client:
            client.runtime = runtime  # type: ignore[attr-defined]
            yield client


@contextlib.asynccontextmanager
async def running_services(modules: dict[str, Any], *, amqp_url: str, namespace: str, database: Database,
                           acting_as: Callable[[], ActingAs] = ActingAs) -> AsyncIterator[dict[str, Any]]:
    """Several services in this process, on one namespace, each on its own database
    (``for_service``); ``modules`` maps a service's name to its ``app`` module
    (``Settings``, ``create_app``, ``MIGRATIONS``). Yields their clients by name."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, module in modules.items():
            settings = service_settings(module.Settings, amqp_url=amqp_url, namespace=namespace,
                                        database=await database.for_service(name))
            clients[name] = await stack.enter_async_context(
                running(module.create_app(settings), module.MIGRATIONS, acting_as=acting_as()))
        yield clients


@dataclass
class EventTap:
    """Every event on an exchange, as the outside world sees it (a queue bound to ``#``)."""

    messages: list[aio_pika.abc.AbstractIncomingMessage] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.messages]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [b for b in self.bodies() if b.get("type") == event_type]

    async def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool],
                       timeout: float = WAIT_LIMIT) -> None:
        """Until ``predicate(bodies)`` holds (``timeout`` scaled by ``JUMELAGE_TEST_TIMEOUT_SCALE``)."""
        async def until() -> None:
            while not predicate(self.bodies()):
                self._arrived.clear()
                await self._arrived.wait()

        try:
            await asyncio.wait_for(until(), scaled(timeout))
        except TimeoutError:
            seen = [b.get("type") for b in self.bodies()]
            raise AssertionError(f"events not seen within {scaled(timeout)}s; the tap has {seen}") from None


@contextlib.asynccontextmanager
async def event_tap(amqp_url: str, exchange_name: str) -> AsyncIterator[EventTap]:
    tap = EventTap()
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        ex = await ch.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue("", exclusive=True)
        await q.bind(ex, "#")

        async def on_message(msg: aio_pika.abc.AbstractIncomingMessage) -> None:
            await msg.ack()
            tap.messages.append(msg)
            tap._arrived.set()

        await q.consume(on_message)
        yield tap
    finally:
        await conn.close()




async def eventually(check: Callable[[], Any], timeout: float = WAIT_LIMIT, interval: float = 0.05) -> Any:
    """Await ``check()`` until it returns a truthy value; fail with its last value.

    ``timeout`` is scaled by ``JUMELAGE_TEST_TIMEOUT_SCALE``."""
    limit = scaled(timeout)
    deadline = asyncio.get_running_loop().time() + limit
    last: Any = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {limit}s (last value: {last!r})")
        await asyncio.sleep(interval)


def wait_until(check: Callable[[], Any], timeout: float = WAIT_LIMIT, interval: float = 0.1,
               what: str = "condition") -> Any:
    """:func:`eventually` for code without an event loop (real processes driven from a plain test)."""
    import time

    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {limit}s (last value: {last!r})")
        time.sleep(interval)


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
