"""Settings shared by every service, from the environment (pydantic-settings).

The same names in every service; local defaults need no set-up (SQLite under
``DATA_DIR``, the loopback RabbitMQ). A value can also come from a mounted file
under ``SECRETS_DIR`` (Docker/Kubernetes secrets), so passwords need not sit in
the environment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def split_numbers(v: object) -> object:
    """A list of numbers from the environment: "1,5,30" or a JSON list "[1, 5, 30]"
    (anything else is left to the field's own validation)."""
    if isinstance(v, str):
        return json.loads(v) if v.strip().startswith("[") else [float(x) for x in v.split(",") if x.strip()]
    return v


# A settings field holding a list of numbers (seconds, most often), read by ``split_numbers``.
Numbers = Annotated[list[float], NoDecode, BeforeValidator(split_numbers)]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        case_sensitive=False,
        # Docker/Kubernetes secrets: a file named like the setting (amqp_url, ...).
        secrets_dir=os.environ.get("SECRETS_DIR") or None,
    )

    service_name: str = Field(default="service", description="set by each service")
    amqp_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/", description="RabbitMQ URL")
    dlq_amqp_url: SecretStr | None = Field(
        default=None,
        description="the dead-letter desk's broker URL (GET/POST /dead-letters): a user that may read the "
        "service queue's DLQ and write to its forward exchange; empty: AMQP_URL",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite at DATA_DIR/<service>.db. "
        "postgresql://… is accepted and uses asyncpg.",
    )
    data_dir: Path = Field(default=Path("data"), description="where the SQLite files live")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_url: str | None = Field(
        default=None, max_length=300,
        description="the address other services and partners reach this service's HTTP API at (e.g. "
        "http://convention in a cluster): the base of each event's dataschema URL; unset: "
        "http://<HTTP_HOST>:<HTTP_PORT> (127.0.0.1 for a wildcard host)",
    )
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, le=1 << 30,
        description="largest HTTP request body accepted (bytes); a larger one is a 413, refused before it is read whole",
    )
    max_event_bytes: int = Field(
        default=256 << 10, ge=1024, le=64 << 20,
        description="largest event data a change may record (bytes of JSON); a larger one refuses the change (422)",
    )
    queue_type: Literal["quorum", "classic"] = Field(
        default="quorum", description="RabbitMQ queue type for the service's queues"
    )
    retry_delays: Numbers = Field(
        default=[1.0, 5.0, 30.0],
        description="seconds before each redelivery of a failed event; then dead-letter",
    )
    prefetch: int = Field(default=32, description="unacked events in flight per consumer")
    outbox_keep_days: float = Field(
        default=7.0, gt=0, le=3650,
        description="days a published event stays in the outbox, then pruned: the replay window (what "
        "python -m jumelage.replay and the HTTP subscriptions can give again)",
    )
    inbox_keep_days: float = Field(
        default=30.0, ge=1, le=3650,
        description="days a handled event's id is kept to ignore its redeliveries (the deduplication window), "
        "then pruned",
    )
    prune_interval_seconds: float = Field(
        default=3600.0, gt=0, le=86400, description="how often the outbox and the inbox are pruned"
    )
    subscription_match_seconds: float = Field(
        default=1.0, gt=0, le=60,
        description="how often the published events are numbered for the HTTP subscriptions (jumelage.subscriptions)",
    )
    subscription_settle_seconds: float = Field(
        default=1.0, ge=0, le=60,
        description="an event is numbered for the HTTP subscriptions once published this long ago (so one "
        "committed late, with an earlier sequence number, is numbered in order, not skipped)",
    )
    relay_batch_size: int = Field(default=500, ge=1, description="outbox rows per relay transaction, in flight at once")
    relay_poll_interval: float = Field(
        default=1.0, description="fallback poll for rows committed by another process"
    )
    broker_reconnect_interval: float = 1.0
    topology_namespace: str = Field(
        default="", description="prefix of the exchange and queue names (tests isolate themselves with it)"
    )
    declare_topology: Literal["all", "own"] = Field(
        default="all",
        description="all: declare every service's queues (local runs: no event is lost whatever "
        "starts first); own: only this service's (brokers whose definitions are loaded at boot)",
    )
    database_pool_size: int = Field(
        default=15, ge=1, le=200,
        description="database connections each process keeps open (none opened and closed per request: "
        "a request past them waits for one, up to 30 s, then is a 503)",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema (search_path) to use; tests isolate themselves with it"
    )
    migrate_on_start: bool = False
    metrics_enabled: bool = Field(
        default=True, description="serve GET /metrics (Prometheus, no token: counts and timings only)"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OpenTelemetry: export traces over OTLP/HTTP to this collector "
        "(e.g. http://otel-collector:4318); unset: no traces are exported",
    )
    timezone: str = Field(
        default="Africa/Algiers",
        description="the programmes' local time: convention dates, reminders, room hours",
    )
    simulated_start: AwareDatetime | None = Field(
        default=None, description="demonstrations: the clock starts at this instant and runs on"
    )
    scenario_clock_file: Path | None = Field(
        default=None, description="demonstrations: the clock shows the ISO instant written in this file"
    )

    # -- who may call the HTTP API (jumelage.auth) --
    auth_mode: Literal["hs256", "rs256"] = Field(
        default="hs256",
        description="hs256: tokens signed with AUTH_SECRET (local runs); rs256: public keys from "
        "AUTH_JWKS_FILE or AUTH_JWKS_URL (deployment)",
    )
    auth_secret: SecretStr | None = Field(
        default=None,
        description="HS256 shared secret, at least 32 characters (or a file auth_secret under SECRETS_DIR)",
    )
    auth_jwks_file: Path | None = Field(default=None, description="RS256: a JWKS document on disk")
    auth_jwks_url: str | None = Field(default=None, description="RS256: where to fetch the JWKS (cached)")
    auth_jwks_cooldown_seconds: float = Field(
        default=30.0, ge=0,
        description="RS256 from a URL: a token signed with a key the cached JWKS lacks (a rotation) fetches it "
        "again, at most this often (tokens with made-up key ids cost one fetch per period)",
    )
    auth_audience: str = Field(default="jumelage", description="the aud claim tokens must carry")
    auth_issuer: str | None = Field(default=None, description="the iss claim tokens must carry, if set")
    auth_leeway_seconds: float = Field(default=30.0, description="clock skew tolerated on exp/nbf/iat")

    # -- identity sealed at rest (jumelage.sealing): the scheduling and notification services --
    identity_keys: SecretStr | None = Field(
        default=None,
        description="id:base64key pairs (32-byte AES keys), the first seals, the others still open what they "
        "sealed (rotation); or a file identity_keys under SECRETS_DIR. Required where identity is kept",
    )
    identity_search_key: SecretStr | None = Field(
        default=None, description="base64 of at least 32 bytes: the keyed hash a patient's name is found by",
    )
    reseal_interval_seconds: float = Field(
        default=3600.0, gt=0, le=86400,
        description="how often the rows still sealed with an older key (or in clear) are sealed again",
    )

    # -- retries (jumelage.idempotency) --
    idempotency_key_hours: float = Field(
        default=24.0, gt=0,
        description="how long a caller's Idempotency-Key and its first response are kept (service clock)",
    )
    idempotency_lease_seconds: float = Field(
        default=60.0, gt=0,
        description="how long a request holding an Idempotency-Key may run before a retry may take the key "
        "over (the first one's commit is then refused)",
    )

    def base_url(self) -> str:
        """``public_url``, or the address the process listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        return f"http://{host}:{self.http_port}"

    def sqlalchemy_url(self) -> str:
        return normalise_database_url(self.database_url, self.data_dir / f"{self.service_name}.db")


def normalise_database_url(url: str | None, default_sqlite: Path) -> str:
    if not url:
        default_sqlite.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{default_sqlite}"
    return async_driver_url(url)


def async_driver_url(url: str) -> str:
    """Accept the URLs people write and give the async driver SQLAlchemy needs."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url
