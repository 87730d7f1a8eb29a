"""Composition root: settings; the clock, the renderer, the policies, the channels
and the delivery worker; the bus that hands them to the handlers; the runtime
with its periodic jobs; the API routers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI
from pydantic import Field, SecretStr, field_validator

from jumelage.bus import MessageBus
from jumelage.clock import Clock
from jumelage.events.notification import Channel
from jumelage.service import Periodic, ServiceRuntime
from jumelage.settings import Numbers, ServiceSettings
from notification import api, handlers
from notification.adapters.channels import EmailSender, SmsSender, WebhookSender, http_client
from notification.adapters.templates import TemplateRenderer
from notification.domain.commands import FireDueReminders
from notification.domain.delivery import RetryPolicy
from notification.domain.reminders import ReminderPolicy
from notification.handlers import HANDLERS
from notification.handlers.delivery import DeliveryWorker
from notification.store.tables import IDENTITY_ACCESS, SEALED
from notification.store.unit_of_work import NotificationUnitOfWork
from jumelage.identity_access import identity_access_router
from notification.subscribers import EVENTS

MIGRATIONS = Path(__file__).parent / "migrations"


class Settings(ServiceSettings):
    service_name: str = "notification"
    http_port: int = 8003

    smtp_host: str = Field(default="127.0.0.1", description="SMTP server (Mailpit in docker-compose)")
    smtp_port: int = 1025
    smtp_from: str = Field(default="Jumelage <notifications@jumelage.local>", description="From: of every email")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_use_tls: bool = Field(default=False, description="implicit TLS (port 465)")
    smtp_start_tls: bool | None = Field(default=None, description="STARTTLS: true, false, or unset = if offered")
    smtp_timeout: float = 30.0
    smtp_max_connections: int = Field(default=4, ge=1, description="SMTP connections kept open and reused")
    smtp_idle_timeout: float = Field(
        default=30.0, gt=0, description="seconds an idle SMTP connection is kept (below the server's own timeout)")

    sms_gateway_url: str | None = Field(default=None, description='gateway receiving POST {"to", "text"}')
    sms_gateway_token: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")
    webhook_timeout: float = 10.0

    reminder_hour: int = Field(default=9, ge=0, le=23, description="local hour of the day-before reminders")
    reminder_timezone: str | None = Field(default=None, description="default: TIMEZONE (Africa/Algiers)")
    reminder_check_interval: float = Field(default=60.0, description="seconds between looks for due reminders")

    delivery_retry_delays: Numbers = Field(
        default=[30.0, 120.0, 600.0, 3600.0],
        description="seconds before each new attempt after a transient failure; then NotificationFailed",
    )
    delivery_poll_interval: float = Field(default=1.0, description="fallback poll of the delivery worker")
    delivery_batch_size: int = 20
    delivery_lease: float = Field(
        default=120.0, description="seconds a claimed notification is held; after it, one whose send had not "
        "begun is taken over, one whose send began becomes unknown and is never sent again (keep it above the "
        "SMTP and webhook timeouts)",
    )
    templates_dir: Path | None = Field(default=None, description="replaces the shipped default templates")

    @field_validator("reminder_timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v


def build_runtime(settings: ServiceSettings | None = None, clock: Clock | None = None) -> ServiceRuntime:
    s = settings if isinstance(settings, Settings) else Settings(**(settings.model_dump() if settings else {}))
    clock = clock or Clock.from_settings(s)
    wall = Clock()  # the real time delivery leases run on, whatever ``clock`` shows
    zone = ZoneInfo(s.reminder_timezone or s.timezone)
    retry = RetryPolicy(tuple(s.delivery_retry_delays), lease=s.delivery_lease)
    http = http_client(max(s.webhook_timeout, 1.0))
    email = EmailSender(
        host=s.smtp_host, port=s.smtp_port, sender=s.smtp_from, username=s.smtp_username,
        password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        use_tls=s.smtp_use_tls, start_tls=s.smtp_start_tls, timeout=s.smtp_timeout,
        max_connections=s.smtp_max_connections, idle_timeout=s.smtp_idle_timeout,
    )
    senders = {
        Channel.email: email,
        Channel.sms: SmsSender(http, url=s.sms_gateway_url,
                               token=s.sms_gateway_token.get_secret_value() if s.sms_gateway_token else None),
        Channel.webhook: WebhookSender(http),
    }

    async def close_channels() -> None:
        await email.close()
        await http.aclose()

    worker = DeliveryWorker(senders, clock=clock, wall=wall, retry=retry, batch_size=s.delivery_batch_size,
                            poll_interval=s.delivery_poll_interval, on_stop=close_channels)

    def hand_over(claimed: Any, claim: Any) -> None:
        worker.hand_over(claimed, claim)  # looked up at each call: a test may stop the hand-over

    # What the handlers name besides their message and unit of work.
    notifying: dict[str, Any] = dict(clock=clock, wall=wall, renderer=TemplateRenderer(s.templates_dir, zone),
                                     retry=retry, hand_over=hand_over)
    bus = MessageBus({**HANDLERS, **EVENTS}, **notifying, reminders=ReminderPolicy(s.reminder_hour, zone))
    # Looked up here, not at import (the tests count its passes by replacing it first).
    fire_due_reminders = handlers.fire_due_reminders

    async def fire_reminders(uow: Any) -> int:
        return await fire_due_reminders(FireDueReminders(), uow, **notifying)

    runtime = ServiceRuntime(
        s,
        unit_of_work=NotificationUnitOfWork,
        handlers={t: bus.handler(t) for t in EVENTS},
        bus=bus,
        clock=clock,
        sealed=SEALED,
        periodic=[
            # Runs until the service stops: retries, and what a stopped worker left (new ones are handed over).
            Periodic("deliver-notifications", 1.0, worker.run),
            Periodic("fire-reminders", s.reminder_check_interval, fire_reminders),
        ],
    )
    worker.attach(runtime.unit_of_work)  # the runtime runs the worker, the worker uses its units of work
    return runtime


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    routers = [*api.routers, identity_access_router(IDENTITY_ACCESS, service="notification")]
    return build_runtime(settings, clock).create_app(routers)
