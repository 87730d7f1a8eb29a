"""Composition root: settings, clock, unit of work, event handlers and API routers."""

from __future__ import annotations

import logging
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


def build_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    runtime = ServiceRuntime(settings or Settings(), unit_of_work=SchedulingUnitOfWork, handlers=EVENT_HANDLERS,
                             clock=clock)
    keep_patients_out_of_logs(runtime)
    return runtime


def keep_patients_out_of_logs(runtime: ServiceRuntime) -> None:
    """This database holds patients' identities; statement parameters must never
    reach a log line or an error message (which ends up in one).

    SQLAlchemy puts them in its exception messages unless ``hide_parameters``;
    aiosqlite logs every statement with its parameters at DEBUG.
    """
    runtime.engine.sync_engine.hide_parameters = True
    aiosqlite_log = logging.getLogger("aiosqlite")
    aiosqlite_log.setLevel(max(aiosqlite_log.level, logging.INFO))


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    return build_runtime(settings, clock).create_app(api.routers)
