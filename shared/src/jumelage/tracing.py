"""OpenTelemetry traces: one trace from an HTTP request through the outbox, the broker
and a consumer to what it delivers.

* FastAPI's own OpenTelemetry instrumentation (``FastAPI(telemetry=...)``, on by
  default) starts the server span of each request, continuing the caller's W3C
  ``traceparent`` header when it sends one, with spans for the route's
  dependencies, endpoint and serialization under it.
* Every event recorded under a span carries it as the CloudEvents
  distributed-tracing extension ``traceparent`` (``UnitOfWork.record``); it is
  stored in the outbox with the envelope, so the trace survives the commit.
* The relay publishes each event in a producer span, child of the event's
  ``traceparent``; the consumer handles it in a consumer span, child of it too;
  what the handler records and the work it hands on (the notification worker's
  delivery) run under that span.

Export: over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the standard
variable, a setting of every service); otherwise no SDK is installed and the API's
no-op tracer costs next to nothing: no span is recorded, an incoming
``traceparent`` is still passed on to the events.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from jumelage.logging import get_logger

log = get_logger(__name__)

__all__ = ["SpanKind", "Status", "StatusCode", "configure_tracing", "current_traceparent", "parent_context",
           "recording", "tracer"]

_propagator = TraceContextTextMapPropagator()
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_IN_ENVELOPE = re.compile(r'"traceparent":"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"')


def tracer() -> trace.Tracer:
    """The tracer of the moment (the global provider's: a proxy until one is set)."""
    return trace.get_tracer("jumelage")


def configure_tracing(service: str, endpoint: str | None) -> bool:
    """Install the SDK with an OTLP/HTTP exporter to ``endpoint`` (once per process),
    if one is given and no SDK provider is installed yet. Whether spans are recorded."""
    if recording():
        return True
    provider = otlp_provider(service, endpoint)
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    log.info("traces exported over OTLP", endpoint=endpoint)
    return True


def otlp_provider(service: str, endpoint: str | None) -> Any:
    """An SDK provider batching spans to ``endpoint`` over OTLP/HTTP; None without one."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"jumelage-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    return provider


def recording() -> bool:
    """Whether an SDK provider records spans in this process."""
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None outside any trace."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    value = carrier.get("traceparent")
    return value if value and TRACEPARENT.match(value) else None


def parent_context(traceparent: str | None) -> Context | None:
    """The context a span continues from a ``traceparent`` (None: a new trace)."""
    if not traceparent or not TRACEPARENT.match(traceparent):
        return None  # absent or malformed: the event is handled all the same, in a trace of its own
    return _propagator.extract({"traceparent": traceparent})


def traceparent_in(envelope_json: str) -> str | None:
    """The ``traceparent`` of an envelope as stored (the relay's rows), without parsing it."""
    head = envelope_json.find('"data":')  # the envelope's own attribute comes before its data
    found = _IN_ENVELOPE.search(envelope_json, 0, head if head >= 0 else len(envelope_json))
    return found.group(1) if found else None
