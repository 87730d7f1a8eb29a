"""Composition root: settings, unit of work, event handlers, periodic jobs and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from convention import api, handlers
from convention.store import ConventionUnitOfWork
from convention.subscribers import EVENT_HANDLERS
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


def build_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    settings = settings or Settings()
    clock = clock or Clock.from_settings(settings)

    async def expire(uow: ConventionUnitOfWork) -> None:
        await handlers.expire_conventions(uow, clock.today())

    interval = getattr(settings, "expiry_check_interval", 60.0)
    return ServiceRuntime(settings, unit_of_work=ConventionUnitOfWork.with_clock(clock), handlers=EVENT_HANDLERS,
                          clock=clock,
                          periodic=[Periodic("expire-conventions", interval, expire)])


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    return build_runtime(settings, clock).create_app(api.routers)
