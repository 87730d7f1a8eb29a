"""Composition root: settings, clock, unit of work, event handlers and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from scheduling import api
from scheduling.store import SchedulingUnitOfWork
from scheduling.subscribers import EVENT_HANDLERS
from jumelage.clock import Clock
from jumelage.service import ServiceRuntime
from jumelage.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    service_name: str = "scheduling"
    http_port: int = 8002
    # The surgery plan optimiser (POST /missions/{id}/plan): defaults of the request's fields.
    planner_time_limit_seconds: float = 10.0
    planner_turnover_minutes: int = 30
    planner_max_daily_minutes_per_surgeon: int = 8 * 60


def build_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    # Patients' identities live in this database: the shared engine hides statement
    # values from error messages and keeps SQL-logging libraries quiet.
    settings = settings or Settings()
    clock = clock or Clock.from_settings(settings)
    return ServiceRuntime(settings, unit_of_work=SchedulingUnitOfWork.with_clock(clock), handlers=EVENT_HANDLERS,
                          clock=clock)


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    return build_runtime(settings, clock).create_app(api.routers)
