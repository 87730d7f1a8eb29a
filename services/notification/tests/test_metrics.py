"""GET /metrics: what an operator watches, after real work (an event in, a mail out)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from jumelage.metrics import NOTIFICATIONS


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_requests_events_and_notifications_without_a_token(
    notification_service: Any, programme: Any
) -> None:
    sent_before = NOTIFICATIONS.labels("email", "sent")._value.get()
    async with notification_service() as h:
        await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                        display_name="Dr Frigiola", email="a.frigiola@grupposandonato.it", language="en")
        scheduled = programme.mission_scheduled()
        await h.given(*programme.institutions(), programme.convention_signed())
        await h.publish(scheduled)
        await h.settled(1, cause_event_id=str(scheduled.id))
        await h.everything_published()

        anonymous = httpx.AsyncClient(transport=h.client._transport, base_url=str(h.client.base_url))
        async with anonymous:
            response = await anonymous.get("/metrics")
        assert response.status_code == 200, "a scraper has no token"
        assert response.headers["content-type"].startswith("text/plain; version=")
        scraped = samples(response.text)

    queue = h.runtime.queue.name
    assert value(scraped, "jumelage_http_requests_total", method="POST", route="/contacts", status="201") == 1
    assert value(scraped, "jumelage_http_request_duration_seconds_count", method="POST", route="/contacts") == 1
    assert value(scraped, "jumelage_events_consumed_total", queue=queue, type="MissionScheduled",
                 outcome="handled") == 1
    assert value(scraped, "jumelage_event_handling_seconds_count", queue=queue, type="MissionScheduled") == 1
    assert value(scraped, "jumelage_events_consumed_total", queue=queue, type="InstitutionRegistered",
                 outcome="handled") == len(programme.institutions())
    assert value(scraped, "jumelage_notifications_total", channel="email", outcome="sent") - sent_before == 1
    assert value(scraped, "jumelage_notification_send_seconds_count", channel="email") >= 1
    assert value(scraped, "jumelage_outbox_published_total") >= 1  # NotificationSent
    assert ("jumelage_outbox_backlog", frozenset()) in scraped
    assert value(scraped, "jumelage_outbox_backlog") == 0, "everything published"
    assert value(scraped, "jumelage_outbox_oldest_unpublished_age_seconds") == 0
    assert ("jumelage_dlq_depth", frozenset({("queue", queue)})) in scraped, "measured from the broker"
    assert value(scraped, "jumelage_dlq_depth", queue=queue) == 0
    assert value(scraped, "jumelage_metrics_refresh_errors_total", what="dlq") == 0
    assert "process_cpu_seconds_total" in {name for name, _ in scraped}
    assert "a.frigiola" not in response.text and str(programme.surgeon_id) not in response.text


async def test_one_access_line_per_request_with_route_status_subject_and_correlation_never_the_token(
    notification_service: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import jumelage.auth
    from jumelage.logging import get_logger

    # A logger used under an earlier test's configure_logging is cached with that configuration
    # (cache_logger_on_first_use), which capture_logs cannot reach: the token check's own, fresh.
    monkeypatch.setattr(jumelage.auth, "log", get_logger("jumelage.auth"))
    async with notification_service() as h:
        with structlog.testing.capture_logs([structlog.contextvars.merge_contextvars]) as logs:  # as configured
            made = await h.client.post("/contacts", json={"kind": "institution", "institution_id": str(h.keeper),
                                                         "email": "direction@cmci.dz"},
                                       headers={"X-Correlation-ID": "programme-cnas-2024"})
            assert made.status_code == 201, made.text
            read = await h.client.get(f"/contacts/{made.json()['id']}")
            assert read.status_code == 200
            refused = await h.client.get("/contacts", headers={"Authorization": "Bearer not.a.token"})
            assert refused.status_code == 401
    lines = [line for line in logs if line["event"] == "request"]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/contacts", 201), ("GET", "/contacts/{contact_id}", 200), ("GET", "/contacts", 401)]
    assert lines[0]["correlation_id"] == "programme-cnas-2024"
    assert lines[0]["subject"] and lines[0]["subject"] == lines[1]["subject"], "the verified caller"
    assert lines[2]["subject"] is None, "no verified caller"
    assert all(line["log_level"] == "info" and line["duration_ms"] >= 0 for line in lines)
    (refusal,) = [line for line in logs if line["event"] == "token refused"]
    assert refusal["log_level"] == "warning"
    text = repr(logs)
    assert "not.a.token" not in text and "Bearer" not in text
    assert "eyJ" not in text, "no JWT (their header starts so) in any line"


async def test_outbox_backlog_and_the_oldest_events_age_are_measured_at_each_scrape(
    amqp_url: str, namespace: str, database: Any
) -> None:
    """The runtime built, its relay not started: what it records waits in the outbox."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    import notification.app
    from jumelage.events import ConventionSuspended
    from jumelage.messaging.tables import OutboxRecord
    from jumelage.testkit.services import service_settings
    from jumelage.testkit.templates import migrated

    settings = service_settings(notification.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("notification"))
    runtime = notification.app.create_app(settings).state.runtime
    await migrated(runtime.engine, notification.app.MIGRATIONS)
    try:
        for _ in range(2):
            async with runtime.unit_of_work() as uow:
                uow.record(ConventionSuspended(convention_id=uuid.uuid4(), reason="audit"))
                await uow.commit()
        async with runtime.sessions() as session, session.begin():
            oldest = (await session.execute(OutboxRecord.__table__.select().limit(1))).first()
            await session.execute(update(OutboxRecord.__table__).where(OutboxRecord.__table__.c.seq == oldest.seq)
                                  .values(created_at=datetime.now(UTC) - timedelta(minutes=3)))
        await runtime.metrics.refresh()
        sample = runtime.metrics.registry.get_sample_value
        assert sample("jumelage_outbox_backlog") == 2
        assert 180 <= sample("jumelage_outbox_oldest_unpublished_age_seconds") < 240
        assert sample("jumelage_metrics_refresh_errors_total", {"what": "dlq"}) == 1, "the broker is not connected"
    finally:
        await runtime.engine.dispose()
