"""Composition root: settings, clock, message bus, unit of work, event handlers and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from scheduling import api
from scheduling.handlers import HANDLERS
from scheduling.domain.planning import PlannerDefaults
from scheduling.domain.commands import ExpireIdentities
from scheduling.store.tables import IDENTITY_ACCESS, SEALED
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from scheduling.subscribers import EVENTS
from jumelage.bus import MessageBus
from jumelage.clock import Clock
from jumelage.db import UnitOfWork
from jumelage.identity_access import identity_access_router
from jumelage.service import Periodic, ServiceRuntime
from jumelage.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    service_name: str = "scheduling"
    http_port: int = 8002
    # The surgery plan optimiser (POST /missions/{id}/plan): defaults of the request's fields.
    planner_time_limit_seconds: float = 10.0
    # None: each room's turnover (its own, else its specialty's default; scheduling README); a number
    # overrides every room's in a proposal (a what-if: applying checks each room's own).
    planner_turnover_minutes: int | None = None
    planner_max_daily_minutes_per_surgeon: int = 8 * 60
    # Retention: a closed case's identity is pseudonymised this long after it closed (operated,
    # cancelled or referred elsewhere), checked every IDENTITY_RETENTION_INTERVAL_SECONDS.
    identity_keep_days: float = Field(default=1825.0, gt=0, le=36500,
                                      description="days a closed case keeps its patient's identity")
    identity_retention_interval_seconds: float = Field(default=3600.0, gt=0, le=86400)


def build_runtime(settings: Settings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    # Patients' identities live in this database: the shared engine hides statement
    # values from error messages and keeps SQL-logging libraries quiet.
    settings = settings or Settings()
    clock = clock or Clock.from_settings(settings)
    planner_defaults = PlannerDefaults(
        time_limit_seconds=settings.planner_time_limit_seconds,
        turnover_minutes=settings.planner_turnover_minutes,
        max_daily_minutes_per_surgeon=settings.planner_max_daily_minutes_per_surgeon,
    )
    bus = MessageBus({**HANDLERS, **EVENTS}, clock=clock, planner_defaults=planner_defaults)

    async def retention(uow: UnitOfWork) -> None:
        await bus.handle(ExpireIdentities(settings.identity_keep_days), uow)

    return ServiceRuntime(settings, unit_of_work=SchedulingUnitOfWork, handlers={t: bus.handler(t) for t in EVENTS},
                          bus=bus, clock=clock, sealed=SEALED,
                          periodic=[Periodic("identity-retention", settings.identity_retention_interval_seconds,
                                             retention)])


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    routers = [*api.routers, identity_access_router(IDENTITY_ACCESS, service="scheduling")]
    return build_runtime(settings, clock).create_app(routers)
