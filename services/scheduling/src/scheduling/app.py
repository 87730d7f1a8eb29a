"""Composition root: settings, clock, message bus, unit of work, event handlers and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from scheduling import api
from scheduling.handlers import HANDLERS
from scheduling.domain.planning import PlannerDefaults
from scheduling.store.unit_of_work import SchedulingUnitOfWork
from scheduling.subscribers import EVENTS
from jumelage.bus import MessageBus
from jumelage.clock import Clock
from jumelage.service import ServiceRuntime
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
    return ServiceRuntime(settings, unit_of_work=SchedulingUnitOfWork, handlers={t: bus.handler(t) for t in EVENTS},
                          bus=bus, clock=clock)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    return build_runtime(settings, clock).create_app(api.routers)
