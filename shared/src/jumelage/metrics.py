"""Prometheus metrics: what an operator watches, one set of names for every service.

Each service's runtime has its own registry (:class:`Metrics`: HTTP requests,
outbox, consumer, dead letters), so services run together in one process (the
tests) do not count into each other. Metrics that belong to one service's work
(notifications sent, optimiser runs) live on the process-wide default registry,
with the process collectors (CPU, memory, open files); ``GET /metrics`` serves
both (:func:`render`).

The gauges read from outside (the outbox backlog, the dead-letter queues'
depth) are measured when ``/metrics`` is scraped (:meth:`Metrics.refresh`), so
they are as fresh as the scrape and cost nothing in between.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from jumelage.logging import get_logger

log = get_logger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "NOTIFICATIONS", "NOTIFICATION_SECONDS", "OPTIMISER_RUNS", "OPTIMISER_SECONDS",
           "Metrics", "metric_names", "render", "timed"]

# Seconds: an HTTP request or an event handled takes milliseconds; a slow one, seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# -- the process's own (one service's work) --------------------------------------------------------

NOTIFICATIONS = Counter(
    "jumelage_notifications", "Notification deliveries by channel and outcome "
    "(sent, retry: a failed attempt that will be tried again, failed: given up, unknown: outcome unknown)",
    ["channel", "outcome"])
NOTIFICATION_SECONDS = Histogram(
    "jumelage_notification_send_seconds", "Time to send one notification (one attempt), by channel",
    ["channel"], buckets=LATENCY_BUCKETS)
OPTIMISER_RUNS = Counter(
    "jumelage_optimiser_runs", "Surgery plan optimiser runs, by outcome (ok, error)", ["outcome"])
OPTIMISER_SECONDS = Histogram(
    "jumelage_optimiser_seconds", "Time the surgery plan optimiser took per run",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))


@contextmanager
def timed(histogram: Histogram) -> Iterator[None]:
    """Observe the block's wall time on ``histogram`` (already labelled)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(time.perf_counter() - started)


class Metrics:
    """One service runtime's metrics, on a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "jumelage_http_requests", "HTTP requests by method, route template and status",
            ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram(
            "jumelage_http_request_duration_seconds", "HTTP request latency by method and route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.outbox_backlog = Gauge(
            "jumelage_outbox_backlog", "Events committed to the outbox and not yet published", registry=r)
        self.outbox_oldest_age = Gauge(
            "jumelage_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox event (0 when none waits)", registry=r)
        self.outbox_published = Counter(
            "jumelage_outbox_published", "Events the outbox relay published (broker-confirmed)", registry=r)
        self.events_consumed = Counter(
            "jumelage_events_consumed", "Events delivered to the service's consumer, by queue, type and outcome "
            "(handled, duplicate, ignored: no handler, retried, dead_lettered, rejected, poison)",
            ["queue", "type", "outcome"], registry=r)
        self.event_seconds = Histogram(
            "jumelage_event_handling_seconds", "Time to handle one event (its turn, its transaction, its commit)",
            ["queue", "type"], buckets=LATENCY_BUCKETS, registry=r)
        self.retries = Counter(
            "jumelage_event_retries", "Events sent to a retry queue after a handler failed, by service queue",
            ["queue"], registry=r)
        self.dead_letters = Counter(
            "jumelage_dead_letters", "Events sent to the dead-letter queue, by service queue", ["queue"], registry=r)
        self.dlq_depth = Gauge(
            "jumelage_dlq_depth", "Messages waiting in the service queue's dead-letter queue (alert when > 0)",
            ["queue"], registry=r)
        self.scrape_errors = Counter(
            "jumelage_metrics_refresh_errors", "Gauges that could not be measured at a scrape (database or broker "
            "away), by what", ["what"], registry=r)
        self._refreshers: list[tuple[str, Callable[[], Awaitable[None]]]] = []

    def refresher(self, what: str, measure: Callable[[], Awaitable[None]]) -> None:
        """Run ``measure`` at every scrape, before rendering (it sets gauges)."""
        self._refreshers.append((what, measure))

    async def refresh(self) -> None:
        for what, measure in self._refreshers:
            try:
                await measure()
            except Exception as exc:  # a scrape reports what it can: the service is what is watched
                self.scrape_errors.labels(what).inc()
                log.warning("metric not measured", what=what, error=type(exc).__name__)


def render(metrics: Metrics | None) -> bytes:
    """The text exposition: the runtime's registry, then the process's."""
    own = generate_latest(metrics.registry) if metrics is not None else b""
    return own + generate_latest(REGISTRY)


def metric_names(*registries: Any) -> set[str]:
    """Every series name these registries expose (``_total``, ``_bucket``, ``_sum``, ``_count``
    included): what a dashboard's query may name."""
    names: set[str] = set()
    for registry in registries or (REGISTRY,):
        for family in registry.collect():
            names.add(family.name)
            for sample in family.samples:
                names.add(sample.name)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}_{s}" for s in ("bucket", "sum", "count"))
    return names


def metrics_router(metrics: Metrics | None) -> Any:
    """``GET /metrics``: the Prometheus text exposition, without a token (a scraper has
    none). It tells counts and timings, never a name or an id; deployed, only the
    scraper reaches it (``deploy/``: the port is cluster-internal; see the README's
    operations section). ``METRICS_ENABLED=false`` removes the route."""
    from fastapi import APIRouter
    from fastapi.responses import Response

    router = APIRouter(tags=["operations"])

    @router.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        if metrics is not None:
            await metrics.refresh()
        return Response(render(metrics), media_type=CONTENT_TYPE_LATEST)

    return router


def optimiser_run(solve: Callable[..., Any], *args: Any) -> Any:
    """``solve(*args)``, counted and timed as one optimiser run (``OPTIMISER_*``)."""
    started = time.perf_counter()
    try:
        result = solve(*args)
    except Exception:
        OPTIMISER_RUNS.labels("error").inc()
        raise
    finally:
        OPTIMISER_SECONDS.observe(time.perf_counter() - started)
    OPTIMISER_RUNS.labels("ok").inc()
    return result


def notification_outcome(channel: str, delivered: bool, status: str) -> None:
    """Count one delivery attempt's outcome: sent, failed (given up), unknown, or retry."""
    outcome = "sent" if delivered else status if status in ("failed", "unknown") else "retry"
    NOTIFICATIONS.labels(channel, outcome).inc()
