"""Composition root: settings, clock, message bus, unit of work, event handlers, periodic jobs and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from convention import api, handlers
from convention.adapters.reports import ReportRenderer
from convention.domain.commands import ExpireConventions
from convention.handlers import HANDLERS
from convention.store import ConventionUnitOfWork
from convention.subscribers import EVENTS
from jumelage.bus import MessageBus
from jumelage.clock import Clock
from jumelage.service import Periodic, ServiceRuntime
from jumelage.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    service_name: str = "convention"
    http_port: int = 8001
    expiry_check_interval: float = Field(
        default=60.0, description="seconds between checks for conventions whose period is over"
    )


def build_runtime(settings: Settings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    clock = clock or Clock.from_settings(settings)
    bus = MessageBus({**HANDLERS, **EVENTS}, clock=clock, reports=ReportRenderer())

    async def expire(uow: ConventionUnitOfWork) -> None:
        # Looked up when it runs, with the runtime's clock: a test can count the checks.
        await handlers.expire_conventions(ExpireConventions(), uow, clock=clock)

    return ServiceRuntime(settings, unit_of_work=ConventionUnitOfWork, handlers={t: bus.handler(t) for t in EVENTS},
                          bus=bus, clock=clock,
                          periodic=[Periodic("expire-conventions", settings.expiry_check_interval, expire)])


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    return build_runtime(settings, clock).create_app(api.routers)
