"""Composition root: settings, the services' client, pages, languages, the
live hub and its broker subscriber, the message bus, and the FastAPI app."""

from __future__ import annotations

import asyncio
import secrets
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from faststream.rabbit import RabbitBroker
from faststream.specification import AsyncAPI
from pydantic import Field, SecretStr

from jumelage.bus import MessageBus
from jumelage.clock import Clock
from jumelage.http import health_router, install_correlation
from jumelage.metrics import Metrics, metrics_router
from jumelage.logging import get_logger, silence_sensitive_libraries
from jumelage.messaging.topology import Topology
from jumelage.service import amqp_host, start_broker
from jumelage.settings import ServiceSettings
from jumelage.tasks import spawn
from web import access, api
from web.adapters.live import LiveHub
from web.adapters.oidc import OidcClient
from web.adapters.pages import Pages
from web.adapters.services import Services
from web.adapters.timing import ServerTiming
from web.handlers import HANDLERS
from web.store.sessions import SessionCookie
from web.subscribers import subscribe

log = get_logger(__name__)
STATIC = Path(__file__).parent / "static"
MIGRATIONS = None  # the web app owns no database


class Settings(ServiceSettings):
    service_name: str = "web"
    http_port: int = 8000
    public_url: str = Field(default="http://127.0.0.1:8000", max_length=500,
                            description="where people reach the app (the identity provider redirects back here)")
    convention_url: str = Field(default="http://127.0.0.1:8001", max_length=500)
    scheduling_url: str = Field(default="http://127.0.0.1:8002", max_length=500)
    notification_url: str = Field(default="http://127.0.0.1:8003", max_length=500)
    service_timeout: float = Field(default=10.0, gt=0, le=120, description="seconds a service may take to answer")
    session_secret: SecretStr | None = Field(
        default=None, description="key of the session cookie (or a file session_secret under SECRETS_DIR); "
        "empty: a new one per start, so sessions end with the process")
    session_hours: float = Field(default=8.0, gt=0, le=24, description="how long a sign-in lasts")
    cookie_secure: bool = Field(default=False, description="send the session cookie over HTTPS only (deployment)")
    local_people_file: Path | None = Field(
        default=None, description="local runs: the people the sign-in page lists (scripts/demo.py writes it)")
    oidc_issuer: str | None = Field(default=None, max_length=500, description="the identity provider (deployment)")
    oidc_client_id: str | None = Field(default=None, max_length=200)
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = Field(default="openid profile", max_length=500)
    oidc_redirect_uri: str | None = Field(default=None, max_length=500,
                                          description="where the provider sends people back; default PUBLIC_URL/signin/callback")

    @property
    def local_sign_in(self) -> bool:
        """The demo's sign-in page: only with the local secret the services also run with."""
        return self.auth_mode == "hs256" and self.auth_secret is not None

    def service_urls(self) -> dict[str, str]:
        return {"convention": self.convention_url, "scheduling": self.scheduling_url,
                "notification": self.notification_url}


class WebRuntime:
    """What the app holds for its life: the services' client, the pages, the hub, the broker."""

    def __init__(self, settings: Settings, clock: Clock | None = None, transports: Any = None) -> None:
        silence_sensitive_libraries()
        self.settings = settings
        self.clock = clock or Clock.from_settings(settings)
        self.topology = Topology(namespace=settings.topology_namespace, queue_type=settings.queue_type,
                                 passive=settings.declare_topology == "own")
        self.services = Services(settings.service_urls(), timeout=settings.service_timeout, transports=transports)
        self.pages = Pages()
        self.hub = LiveHub()
        secret = settings.session_secret.get_secret_value() if settings.session_secret else secrets.token_urlsafe(32)
        self.cookies = SessionCookie(secret, max_age_seconds=int(settings.session_hours * 3600),
                                     secure=settings.cookie_secure)
        self.oidc = None
        if settings.oidc_issuer and settings.oidc_client_id:
            self.oidc = OidcClient(
                settings.oidc_issuer, settings.oidc_client_id,
                settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
                settings.oidc_redirect_uri or settings.public_url.rstrip("/") + "/signin/callback",
                settings.oidc_scopes, timeout=settings.service_timeout)
        local_secret = settings.auth_secret.get_secret_value() if settings.local_sign_in and settings.auth_secret else None
        self.bus = MessageBus(HANDLERS, clock=self.clock, people_file=settings.local_people_file, oidc=self.oidc,
                              local_secret=local_secret, audience=settings.auth_audience,
                              session_hours=settings.session_hours)
        self.broker = RabbitBroker(settings.amqp_url, reconnect_interval=settings.broker_reconnect_interval,
                                   app_id="jumelage-web", description="Jumelage web app (live updates)")
        subscribe(self.broker, self.topology, self.hub)
        self.broker_connected = asyncio.Event()
        self._starter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._starter = spawn(self._start_broker(), name="broker-start")

    async def _start_broker(self) -> None:
        await start_broker(self.broker, lambda: self.broker.declare_exchange(self.topology.exchange),
                           amqp_host=amqp_host(self.settings.amqp_url))
        self.broker_connected.set()
        log.info("broker connected: live updates on")

    async def stop(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            with suppress(asyncio.CancelledError):
                await self._starter
        with suppress(Exception):
            await self.broker.stop()
        await self.services.close()
        if self.oidc is not None:
            await self.oidc.aclose()

    async def check_broker(self) -> None:
        if not self.broker_connected.is_set() or not await self.broker.ping(timeout=2.0):
            raise ConnectionError("broker not connected")

    def specification(self) -> Any:
        return AsyncAPI(self.broker, title="Jumelage web", version="0.1.0").to_specification()


def build_runtime(settings: Settings | None = None, clock: Clock | None = None, transports: Any = None) -> WebRuntime:
    return WebRuntime(settings or Settings(), clock, transports)


def create_app(settings: Settings | None = None, clock: Clock | None = None, transports: Any = None) -> FastAPI:
    """``transports``: services reached in-process (tests), by name."""
    runtime = build_runtime(settings, clock, transports)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="Jumelage", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
                  max_body_size=runtime.settings.max_body_bytes)
    app.state.web = runtime
    app.add_middleware(ServerTiming)
    metrics = Metrics("web")  # HTTP requests and latency (the web app has no outbox or queue of its own)
    install_correlation(app, metrics)
    api.install_error_pages(app)
    app.include_router(health_router({"broker": runtime.check_broker}))
    if runtime.settings.metrics_enabled:
        app.include_router(metrics_router(metrics))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in api.routers:
        app.include_router(router, dependencies=[Depends(access.speak)])
    return app
