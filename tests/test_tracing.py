"""One trace from POST /missions to NotificationSent: the scheduling and notification
services in this process over the real broker, their spans kept by an in-memory
exporter (OpenTelemetry's SDK), each event carrying the CloudEvents ``traceparent``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import aio_pika
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import notification.app
import scheduling.app
from jumelage.events import ConventionSigned, InstitutionRegistered, new_envelope
from jumelage.testkit.client import ActingAs
from jumelage.testkit.mail import MailCatcher
from jumelage.testkit.servers import Database
from jumelage.testkit.services import handled, publish, running_services
from jumelage.testkit.tap import event_tap
from jumelage.tracing import current_traceparent, parent_context, traceparent_in

HOST, VISITING, FUNDER, CONVENTION = (uuid.uuid4() for _ in range(4))
SURGEON = {"practitioner_id": str(uuid.uuid4()), "full_name": "Marco Bellini", "role": "surgeon"}


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's SDK provider (installed once: OpenTelemetry allows one), recording into memory."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    provider._sampler = ALWAYS_ON  # see below
    try:
        yield exporter
    finally:
        processor.shutdown()
        # The provider stays (one per process): the later tests of this process record nothing.
        provider._sampler = ALWAYS_OFF


@pytest.fixture
def smtp() -> Iterator[MailCatcher]:
    catcher = MailCatcher()
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


def programme() -> list[Any]:
    rows = [(HOST, "CMCI Bousmail", "clinic", "DZ"), (VISITING, "Gruppo San Donato", "hospital_group", "IT"),
            (FUNDER, "CNAS", "insurer", "DZ")]
    events: list[Any] = [InstitutionRegistered(institution_id=i, name=n, kind=k, country=c, city="x")
                         for i, n, k, c in rows]
    events.append(ConventionSigned(
        convention_id=CONVENTION, reference="CNAS-GSD-2031-01", title="Chirurgie cardiaque pédiatrique",
        parties=[{"institution_id": VISITING, "role": "provider"}, {"institution_id": HOST, "role": "beneficiary"},
                 {"institution_id": FUNDER, "role": "funder"}],
        signed_on=date(2031, 1, 10), signed_at="Alger", effective_from=date(2031, 1, 10),
        effective_until=date(2032, 1, 9), specialties=["Chirurgie cardiaque"],
        objectives={"surgeries": 40, "consultations": 100, "training_sessions": 10}))
    return [new_envelope(e, correlation_id="programme-cnas-2031", causation_id=None,
                         time=datetime(2031, 1, 10, 9, tzinfo=UTC)) for e in events]


async def test_one_trace_from_post_missions_to_notification_sent(
    amqp_url: str, namespace: str, database: Database, spans: InMemorySpanExporter, smtp: MailCatcher
) -> None:
    acting = lambda: ActingAs("administrator", "coordinator", institution=str(HOST))  # noqa: E731
    services = {"scheduling": scheduling.app, "notification": notification.app}
    async with contextlib.AsyncExitStack() as stack:
        tap = await stack.enter_async_context(event_tap(amqp_url, f"{namespace}jumelage.events"))
        clients = await stack.enter_async_context(running_services(
            services, amqp_url=amqp_url, namespace=namespace, database=database, acting_as=acting,
            smtp_host="127.0.0.1", smtp_port=smtp.port, delivery_poll_interval=0.2))
        sched, notif = clients["scheduling"], clients["notification"]
        known = programme()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await publish(await connection.channel(), namespace, known)
        for client in (sched, notif):
            await handled(client.runtime, [e.id for e in known])
        made = await notif.post("/contacts", json={"kind": "institution", "institution_id": str(HOST),
                                                  "email": "direction@cmci.dz"})
        assert made.status_code == 201, made.text
        spans.clear()

        response = await sched.post("/missions", json={
            "convention_id": str(CONVENTION), "host_institution_id": str(HOST),
            "visiting_institution_id": str(VISITING), "specialty": "Chirurgie cardiaque",
            "starts_on": "2031-05-26", "ends_on": "2031-05-30", "team": [SURGEON]})
        assert response.status_code == 201, response.text
        await tap.wait_for(lambda bodies: any(b["type"] == "NotificationSent" for b in bodies))
        (sent,) = tap.of_type("NotificationSent")
        await _until(lambda: any(s.name == "publish NotificationSent" for s in spans.get_finished_spans()))

    (scheduled,) = tap.of_type("MissionScheduled")
    finished = spans.get_finished_spans()
    (request,) = [s for s in finished if s.name == "POST /missions" and s.kind is SpanKind.SERVER]
    assert request.parent is None, "the trace starts at the request (FastAPI's server span)"
    assert request.attributes["http.response.status_code"] == 201
    assert request.attributes["http.route"] == "/missions"
    trace_id = request.context.trace_id
    by_id = {s.context.span_id: s for s in finished if s.context.trace_id == trace_id}
    ours = {s.name: s for s in by_id.values()}
    assert {"POST /missions", "publish MissionScheduled", "process MissionScheduled", "deliver email",
            "publish NotificationSent"} <= set(ours), sorted(ours)

    def under_request(span: Any) -> bool:
        while span.parent is not None:
            span = by_id[span.parent.span_id]
        return span is request

    assert all(under_request(s) for s in by_id.values()), "one tree, rooted at the request"
    # Each event carries the trace context of the span that recorded it (CloudEvents traceparent).
    version, traced, recorded_by, flags = scheduled["traceparent"].split("-")
    assert (version, int(traced, 16), int(flags, 16) & 1) == ("00", trace_id, 1), "sampled"
    recorder = by_id[int(recorded_by, 16)]
    assert under_request(recorder) and recorder.end_time <= request.end_time, "recorded during the request"
    processed = ours["process MissionScheduled"]
    assert processed.kind is SpanKind.CONSUMER and processed.parent.span_id == recorder.context.span_id
    assert processed.attributes["messaging.message.id"] == scheduled["id"]
    assert processed.attributes["jumelage.outcome"] == "handled"
    assert ours["publish MissionScheduled"].parent.span_id == recorder.context.span_id
    delivered = ours["deliver email"]
    assert delivered.parent.span_id == processed.context.span_id, "the delivery runs under the consumer's span"
    assert sent["traceparent"].startswith(f"00-{trace_id:032x}-{delivered.context.span_id:016x}-")
    assert ours["publish NotificationSent"].parent.span_id == delivered.context.span_id
    assert {s.resource.attributes.get("service.name") for s in ours.values()}  # one provider: the process's


def test_traceparent_helpers_read_what_they_write() -> None:
    assert current_traceparent() is None, "outside any span: no traceparent, no trace started"
    assert parent_context("not-a-traceparent") is None, "a malformed one is ignored"
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert traceparent_in('{"id":"x","traceparent":"%s","data":{"traceparent":"00-%s-%s-01"}}'
                          % (tp, "1" * 32, "2" * 16)) == tp
    assert traceparent_in('{"id":"x","traceparent":null,"data":{"traceparent":"00-%s-%s-01"}}'
                          % ("1" * 32, "2" * 16)) is None, "only the envelope's own attribute"
    with trace.get_tracer("t").start_as_current_span("s", context=parent_context(tp)):
        assert current_traceparent().split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


async def _until(condition: Any) -> None:
    from jumelage.testkit.waiting import eventually

    await eventually(lambda: condition() or None)


def test_traces_are_exported_over_otlp_only_when_configured() -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from jumelage.settings import ServiceSettings
    from jumelage.tracing import otlp_provider

    assert otlp_provider("scheduling", None) is None, "nothing when not configured"
    settings = ServiceSettings(_env_file=None, otel_exporter_otlp_endpoint="http://127.0.0.1:4318/")
    provider = otlp_provider("scheduling", settings.otel_exporter_otlp_endpoint)
    try:
        (processor,) = provider._active_span_processor._span_processors
        assert isinstance(processor, BatchSpanProcessor) and isinstance(processor.span_exporter, OTLPSpanExporter)
        assert processor.span_exporter._endpoint == "http://127.0.0.1:4318/v1/traces"
        assert provider.resource.attributes["service.name"] == "jumelage-scheduling"
    finally:
        provider.shutdown()


def test_the_setting_is_the_standard_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from jumelage.settings import ServiceSettings

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert ServiceSettings(_env_file=None).otel_exporter_otlp_endpoint == "http://collector:4318"
