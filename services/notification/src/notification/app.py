"""Composition root: settings, unit of work, event handlers and API routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from notification import api
from notification.store import NotificationUnitOfWork
from notification.subscribers import EVENT_HANDLERS
from jumelage.service import ServiceRuntime
from jumelage.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    service_name: str = "notification"
    http_port: int = 8003


def build_runtime(settings: ServiceSettings | None = None) -> ServiceRuntime:
    return ServiceRuntime(settings or Settings(), unit_of_work=NotificationUnitOfWork, handlers=EVENT_HANDLERS)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    return build_runtime(settings).create_app([api.router])
