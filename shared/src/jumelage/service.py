"""The composition root every service shares: one process runs the HTTP API,
the FastStream subscriber of the service's queue and the outbox relay.

A service's ``app.py`` names its settings, unit of work, event handlers and API
routers; everything else (engine, broker, topology, relay, health, AsyncAPI,
lifespan) is built here the same way for all three.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.responses import HTMLResponse
from faststream.rabbit import Channel, RabbitBroker
from faststream.specification import AsyncAPI

from jumelage import idempotency, sealing
from jumelage.api import install_error_documents
from jumelage.audit import AuditActor, audit_router, record_read
from jumelage.auth import CallerDep, TokenVerifier, authenticated
from jumelage.bus import MessageBus
from jumelage.catalogue import catalogue
from jumelage.documents import install_documents
from jumelage.events import registry
from jumelage.clock import Clock
from jumelage.dlq import dead_letters_router
from jumelage.db import UnitOfWork, create_engine, ping, read_session_factory, session_factory
from jumelage.http import health_router, install_correlation, install_error_handlers, strict_json
from jumelage.logging import get_logger, silence_sensitive_libraries
from jumelage.metrics import Metrics, metrics_router
from jumelage.messaging.consumer import EventHandler, event_router
from jumelage.messaging.outbox import OutboxRelay, event_publishers
from jumelage.messaging.pruning import prune
from jumelage.messaging.topology import Topology
from jumelage.settings import ServiceSettings
from jumelage.subscriptions import match as match_subscriptions
from jumelage.subscriptions import any_subscription, prune_numbers, subscriptions_router
from jumelage.tasks import spawn
from jumelage.tracing import configure_tracing

log = get_logger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A job run every ``interval`` seconds with a fresh unit of work.

    It must be safe to run twice at once (another replica) and again after a
    restart: make the state change that it records its own guard (e.g. the
    convention's status moves to ``expired`` in the transaction that records
    ``ConventionExpired``).
    """

    name: str
    interval: float
    job: Callable[[UnitOfWork], Awaitable[Any]]


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        unit_of_work: type[UnitOfWork] = UnitOfWork,
        handlers: Mapping[type, EventHandler] | None = None,
        periodic: Sequence[Periodic] = (),
        clock: Clock | None = None,
        bus: MessageBus | None = None,
        version: str = "0.1.0",
        sealed: Sequence[Any] = (),
    ) -> None:
        silence_sensitive_libraries()
        # Tables with identity sealed at rest (jumelage.sealing): the key ring from the settings
        # (a service that keeps identity refuses to start without one), and the re-seal job.
        self.sealed = tuple(sealed)
        if self.sealed:
            sealing.install_from(settings)
        configure_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)  # once per process
        self.settings = settings
        self.name = settings.service_name
        self.clock = clock or Clock.from_settings(settings)
        self.bus = bus or MessageBus({}, clock=self.clock)  # the service's handlers, dependencies bound
        self.verifier: TokenVerifier | None = None  # built at start: documents can be made without keys
        self.version = version
        self.topology = Topology(
            namespace=settings.topology_namespace,
            queue_type=settings.queue_type,
            retry_delays=tuple(settings.retry_delays),
            passive=settings.declare_topology == "own",  # the broker's definitions made it all
        )
        self.queue = self.topology.service_queue(self.name) if handlers else None
        self.handled: tuple[type, ...] = tuple(handlers or ())  # the event types its queue receives
        url = settings.sqlalchemy_url()
        # Every connection kept: SQLAlchemy's default (5 kept, 10 more opened and closed again per
        # checkout) opened a PostgreSQL backend (or an SQLite connection and its thread) per request
        # past the fifth at once (issue 23, 50 clients). An in-memory SQLite has one connection.
        pool = {} if ":memory:" in url else {"pool_size": settings.database_pool_size, "max_overflow": 0}
        self.engine = create_engine(url, schema=settings.database_schema, **pool)
        self.sessions = session_factory(self.engine)
        self.read_sessions = read_session_factory(self.engine)  # same pool: transactions that only read
        self.broker = RabbitBroker(
            settings.amqp_url,
            reconnect_interval=settings.broker_reconnect_interval,
            default_channel=Channel(prefetch_count=settings.prefetch),
            app_id=f"jumelage-{self.name}",
            graceful_timeout=15.0,
            description=f"Jumelage {self.name} service",
            # Through our structlog handlers; per-message access lines only at debug.
            logger=logging.getLogger("faststream.jumelage"),
            log_level=logging.DEBUG,
        )
        self.metrics = Metrics(self.name)
        self.source = f"/services/{self.name}"
        self.schemas_url = f"{settings.base_url()}/schemas"  # each event's dataschema: <schemas_url>/<type>.json
        # One publisher per event type this service emits, for AsyncAPI (the relay sends on its own).
        self.publishers = event_publishers(self.broker, self.topology.exchange, self.source)
        self.relay = OutboxRelay(
            self.sessions,
            self.broker,
            name=self.name,
            exchange=self.topology.exchange,
            batch_size=settings.relay_batch_size,
            poll_interval=settings.relay_poll_interval,
            metrics=self.metrics,
        )
        self._uow_class = unit_of_work
        if self.queue is not None and handlers:
            self.broker.include_router(event_router(self.queue, handlers, unit_of_work=self.unit_of_work,
                                                    broker=self.broker, metrics=self.metrics))
        self.broker_connected = asyncio.Event()
        self._starter: asyncio.Task[None] | None = None
        self.periodic = [*periodic, Periodic("expire-idempotency-keys", idempotency.CLEANUP_INTERVAL,
                                             self._expire_idempotency_keys),
                         Periodic("prune-outbox-and-inbox", settings.prune_interval_seconds, self._prune),
                         Periodic("number-subscription-events", settings.subscription_match_seconds,
                                  self._match_subscriptions)]
        if self.sealed:
            self.periodic.append(Periodic("reseal-identity", settings.reseal_interval_seconds, self._reseal))
        self._periodic_tasks: list[asyncio.Task[None]] = []
        self.metrics.refresher("outbox", self._measure_outbox)
        if self.queue is not None:
            self.metrics.refresher("dlq", self._measure_dlq)

    async def _measure_outbox(self) -> None:
        """The outbox backlog and the age of its oldest unpublished event, at a scrape."""
        from sqlalchemy import func, select

        from jumelage.messaging.tables import OutboxRecord

        t = OutboxRecord.__table__.c
        async with self.read_sessions() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(t.created_at)).where(t.published_at.is_(None)))).one()
        self.metrics.outbox_backlog.set(count or 0)
        # created_at is the event's time: the wall clock's when it was recorded (``new_envelope``).
        age = (datetime.now(UTC) - _aware(oldest)).total_seconds() if oldest is not None else 0.0
        self.metrics.outbox_oldest_age.set(max(0.0, age))

    async def _measure_dlq(self) -> None:
        """The depth of this service's dead-letter queue, from the broker, at a scrape."""
        assert self.queue is not None
        if not self.broker_connected.is_set():
            raise ConnectionError("broker not connected")
        from jumelage.dlq import queue_depth

        self.metrics.dlq_depth.labels(self.queue.name).set(
            await queue_depth(self.broker, self.queue.dlq_name))

    async def _expire_idempotency_keys(self, uow: UnitOfWork) -> None:
        """Every service's periodic job: delete the expired Idempotency-Keys (none still running)."""
        async with uow:
            deleted = await idempotency.delete_expired(uow.session, self.clock.now())
            await uow.commit()
        if deleted:
            log.info("expired idempotency keys deleted", count=deleted)

    async def _prune(self, _uow: UnitOfWork) -> None:
        """Every service's periodic job: the outbox's long-published rows and the inbox's
        old keys (jumelage.messaging.pruning), a short transaction per batch; on wall
        time, which is what the relay and the consumer stamp (not a scenario clock)."""
        pruned = await prune(self.unit_of_work, now=datetime.now(UTC), outbox_keep_days=self.settings.outbox_keep_days,
                             inbox_keep_days=self.settings.inbox_keep_days)
        numbers = await prune_numbers(self.sessions, now=datetime.now(UTC), keep_days=self.settings.outbox_keep_days)
        if pruned.outbox or pruned.inbox or numbers:
            log.info("outbox and inbox pruned", outbox_rows=pruned.outbox, inbox_keys=pruned.inbox,
                     subscription_events=numbers)

    async def _match_subscriptions(self, uow: UnitOfWork) -> None:
        """Every service's periodic job: number the published events each HTTP subscription's
        topic matches (jumelage.subscriptions); without a subscription, one read (no write lock)."""
        if not await any_subscription(self.read_sessions):
            return
        await match_subscriptions(uow, now=datetime.now(UTC), settle_seconds=self.settings.subscription_settle_seconds)

    async def _reseal(self, _uow: UnitOfWork) -> None:
        """Seal again, with the ring's first key, what an older key sealed (or what is still in
        clear): a key rotated without downtime is out of the rows after one pass."""
        resealed = await sealing.reseal(self.unit_of_work, self.sealed)
        if resealed:
            log.info("identity sealed again with the current key", rows=resealed, key=sealing.ring().current)

    def unit_of_work(self, sessions: Callable[[], Any] | None = None) -> UnitOfWork:
        """A fresh unit of work; ``sessions`` (default: transactions that may write)
        is what each of its transactions begins from."""
        uow = self._uow_class(sessions or self.sessions, on_commit=self.relay.wake)
        uow.max_event_bytes = self.settings.max_event_bytes
        uow.schemas_url = self.schemas_url
        uow.write_sessions = self.sessions
        return uow

    def request_unit_of_work(self, request: Request, caller: Any) -> UnitOfWork:
        """The unit of work of an authenticated request (:func:`unit_of_work`): a read's records
        what it reads of a patient's identity (jumelage.identity_access), a change's is audited."""
        actor = AuditActor.of(request, caller)
        if request.method not in MUTATING:
            uow = self.unit_of_work(self.read_sessions)
            uow.reader = actor
            return uow
        uow = self.unit_of_work(self.request_sessions)
        uow.actor = actor
        return uow

    def request_sessions(self) -> Any:
        """A session for a changing request's unit of work: one that only reads while
        the route's dependencies (its access checks) run, one that may write once
        its handler runs (:func:`_handler`)."""
        return (self.sessions if _handling.get() else self.read_sessions)()

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Start the broker (then the relay) in the background, so the HTTP API
        and its health checks answer while the broker is away."""
        self.verifier = TokenVerifier(self.settings)  # refuses to start without a way to verify tokens
        if self.sealed:
            sealing.ring()  # refuses to start without the identity key ring (IDENTITY_KEYS, IDENTITY_SEARCH_KEY)
        for job in self.periodic:
            self._periodic_tasks.append(spawn(self._every(job), name=job.name))
        self._starter = spawn(self._start_broker(), name="broker-start")

    async def _start_broker(self) -> None:
        queues = None if self.settings.declare_topology == "all" else [self.queue] if self.queue else []
        await start_broker(self.broker, lambda: self.topology.declare(self.broker, queues),
                           amqp_host=self.broker_host())
        self.broker_connected.set()
        self.relay.start()  # nothing can be published before this anyway
        log.info("broker connected", queue=self.queue.name if self.queue else None)

    async def stop(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            with suppress(asyncio.CancelledError):
                await self._starter
        for task in self._periodic_tasks:
            task.cancel()
        for task in self._periodic_tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._periodic_tasks.clear()
        await self.relay.stop()
        with suppress(Exception):
            await self.broker.stop()
        await self.engine.dispose()

    def broker_host(self) -> str:
        return amqp_host(self.settings.amqp_url)

    async def check_broker(self) -> None:
        if not self.broker_connected.is_set() or not await self.broker.ping(timeout=2.0):
            raise ConnectionError("broker not connected")

    async def check_database(self) -> None:
        await ping(self.engine)

    async def _every(self, periodic: Periodic) -> None:
        while True:
            try:
                await periodic.job(self.unit_of_work())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job failed", job=periodic.name)
            await asyncio.sleep(periodic.interval)

    # -- documents -------------------------------------------------------------

    def asyncapi(self) -> AsyncAPI:
        return AsyncAPI(self.broker, title=f"Jumelage {self.name}", version=self.version)

    def specification(self) -> Any:
        """The AsyncAPI document, as served and printed. FastStream documents a queue by
        the one routing key it is declared with; the service queue is bound with several
        (``Topology.declare``), so its channel is addressed by the queue's name and its
        receive operation lists every key (``cc``): what a subscriber's developer reads."""
        spec = self.asyncapi().to_specification()
        if self.queue is not None:
            channel, operation = spec.channels.get(self.queue.name), spec.operations.get(self.queue.name)
            if channel is not None:
                channel.address = self.queue.name
            if operation is not None and operation.bindings is not None and operation.bindings.amqp is not None:
                operation.bindings.amqp.cc = list(self.queue.bindings)
        return spec

    def catalogue(self) -> dict[str, Any]:
        """The AsyncAPI catalogue (``jumelage.catalogue``): FastStream's document, with valid
        keys, a message per event type with its content type and example, the dead-letter
        headers and the production server. What ``/asyncapi.json`` serves."""
        return catalogue(self.specification().to_jsonable(), service=self.name, exchange=self.topology.exchange.name,
                         emitted=registry.from_source(self.source), handled=self.handled, queue=self.queue,
                         schemas_url=self.schemas_url)

    # -- HTTP ------------------------------------------------------------------

    def create_app(self, routers: Sequence[APIRouter], *, configure: Callable[[FastAPI], Any] | None = None) -> FastAPI:
        runtime = self

        @asynccontextmanager
        async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
            await runtime.start()
            try:
                yield
            finally:
                await runtime.stop()

        app = FastAPI(title=f"Jumelage {self.name}", version=self.version, lifespan=lifespan,
                      docs_url=None, redoc_url=None,  # install_documents: the same pages, no CDN
                      max_body_size=self.settings.max_body_bytes)
        app.state.runtime = self
        install_correlation(app, self.metrics)
        install_error_handlers(app)
        if self.settings.metrics_enabled:
            app.include_router(metrics_router(self.metrics))
        # Public: health checks and the API documents. Everything else needs a verified token.
        app.include_router(health_router({"database": self.check_database, "broker": self.check_broker}))
        routers = [*routers, audit_router(), subscriptions_router(), dead_letters_router()]
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and route.methods & MUTATING:
                    route.endpoint = _handler(route.endpoint)  # before it is included: FastAPI copies it
        idempotency.install(app, routers)  # Idempotency-Key on every changing route: none can forget it
        for router in routers:
            app.include_router(router, dependencies=[Depends(authenticated), Depends(strict_json)])
        install_error_documents(app)  # on every authenticated route, the errors it can answer

        # /docs, /redoc, /asyncapi(.json), /schemas/<type>.json: public, their scripts served here.
        install_documents(app, runtime.catalogue, source=self.source, title=f"Jumelage {self.name}")

        if configure is not None:
            configure(app)
        return app


async def start_broker(broker: RabbitBroker, declare: Callable[[], Awaitable[Any]], *, amqp_host: str) -> None:
    """Connect ``broker``, ``declare`` what the process needs, start its subscribers; while
    the broker is away, try again (0.5 s, doubling up to 10 s), so that a process starts
    whatever starts first. Every process with a broker starts it this way."""
    delay = 0.5
    while True:
        try:
            await broker.connect()
            await declare()
            await broker.start()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("broker not reachable, retrying", error=repr(exc), retry_in=delay, amqp_host=amqp_host)
            with suppress(Exception):
                await broker.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


def amqp_host(url: str) -> str:
    """The broker's address for a log line: never the user or password in the URL."""
    from yarl import URL

    return URL(url).with_password(None).with_user(None).human_repr()


def _aware(instant: Any) -> Any:
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_handling: ContextVar[bool] = ContextVar("handling", default=False)
"""Set while a changing route's endpoint runs: its unit of work may write from then on."""


def _handler(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint``, marking that the route's dependencies have run. Same signature
    and name for FastAPI (``__wrapped__``); a plain ``def`` is left to FastAPI's thread."""
    if not inspect.iscoroutinefunction(endpoint) or getattr(endpoint, "_marks_handling", False):
        return endpoint

    @functools.wraps(endpoint)
    async def handling(*args: Any, **kwargs: Any) -> Any:
        token = _handling.set(True)
        try:
            return await endpoint(*args, **kwargs)
        finally:
            _handling.reset(token)

    handling._marks_handling = True  # type: ignore[attr-defined]  # create_app runs once per app, routers live on
    return handling


async def unit_of_work(request: Request, caller: CallerDep) -> UnitOfWork:
    """FastAPI dependency: a fresh unit of work from the running service, for an
    authenticated caller; what it commits on a changing request is audited.
    (``async`` so that FastAPI calls it on the event loop: a plain ``def``
    dependency is run in a worker thread, a thread hop on every request.)

    One write lock per request at most: a read (GET, HEAD) never takes it, nor do
    the access checks of a changing request, which read before its handler runs;
    the handler's transaction takes it (SQLite ``BEGIN IMMEDIATE``, ``jumelage.db``)."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.request_unit_of_work(request, caller)


class ReadAudit:
    """The audit row of a read worth tracing (a report downloaded, a FHIR export): a GET changes
    nothing, so no unit of work writes its row; the route calls :meth:`record` once its answer is
    made, and the row is written in a short transaction of its own (a refused or failed read writes
    none). Its ``events`` are empty: the ``action`` and ``target`` say what was read."""

    def __init__(self, runtime: ServiceRuntime, actor: AuditActor) -> None:
        self._runtime = runtime
        self.actor = actor

    async def record(self) -> None:
        await record_read(self._runtime.sessions, self.actor)


async def read_audit(request: Request, caller: CallerDep) -> ReadAudit:
    """FastAPI dependency: the :class:`ReadAudit` of this request, for this caller."""
    # The query says which period, language or format was read (its parameters are bounded).
    return ReadAudit(request.app.state.runtime, AuditActor.of(request, caller, with_query=True))


ReadAuditDep = Annotated[ReadAudit, Depends(read_audit)]


async def bus(request: Request) -> MessageBus:
    """FastAPI dependency: the service's message bus (handlers with their dependencies)."""
    return request.app.state.runtime.bus


BusDep = Annotated[MessageBus, Depends(bus)]


async def clock(request: Request) -> Clock:
    """FastAPI dependency: the service's clock (``async``: on the event loop, as above)."""
    return request.app.state.runtime.clock
