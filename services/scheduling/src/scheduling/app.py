"""Composition root: settings, unit of work, event handlers and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from scheduling import api
from scheduling.store import SchedulingUnitOfWork
from scheduling.subscribers import EVENT_HANDLERS
from jumelage.service import ServiceRuntime
from jumelage.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    service_name: str = "scheduling"
    http_port: int = 8002


def build_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or Settings(), unit_of_work=SchedulingUnitOfWork, handlers=EVENT_HANDLERS)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_runtime(settings).create_app([api.router])
