"""CloudEvents 1.0 envelope (structured JSON mode) and the base of every event's data.

An event type is a subclass of :class:`EventData`; defining it gives it its
type name, routing key and source, so the three always travel together
(:mod:`jumelage.events.registry` then finds it by either name).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

CONTENT_TYPE = "application/cloudevents+json"
SPEC_VERSION = "1.0"


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _format_utc(value: datetime) -> str:
    # ISO 8601 in UTC with a trailing Z, as the contract asks.
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(_format_utc, return_type=str, when_used="json"),
]
"""An instant: must carry a timezone, is stored and sent in UTC with ``Z``."""


def routing_key_for(event_type: str) -> str:
    """``ConventionSigned`` -> ``convention.signed``; ``TrainingSessionHeld`` -> ``training_session.held``."""
    words = re.findall(r"[A-Z][a-z0-9]*", event_type)
    if len(words) < 2 or "".join(words) != event_type:
        raise ValueError(f"event type {event_type!r} is not CamelCase with a final verb")
    return "_".join(w.lower() for w in words[:-1]) + "." + words[-1].lower()


class EventData(BaseModel):
    """The ``data`` of one event type. Subclasses declare ``source`` and ``subject_of``."""

    # Unknown fields are ignored when reading: the contract lets producers add
    # optional fields without a new schema version.
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    routing_key: ClassVar[str]
    source: ClassVar[str]
    schema_version: ClassVar[int] = 1
    subject_of: ClassVar[tuple[str, str] | None] = None
    """(collection, field): the envelope subject is ``collection/<data.field>``."""

    def __init_subclass__(cls, *, source: str | None = None, abstract: bool = False, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if abstract:
            if source is not None:
                cls.source = source
            return
        if "[" in cls.__name__:  # pydantic's parametrised generics
            return
        cls.event_type = cls.__name__
        cls.routing_key = routing_key_for(cls.__name__)
        if source is not None:
            cls.source = source

    def subject(self) -> str | None:
        if self.subject_of is None:
            return None
        collection, field = self.subject_of
        return f"{collection}/{getattr(self, field)}"


D = TypeVar("D", bound=EventData)


class CloudEvent(BaseModel, Generic[D]):
    """A CloudEvents 1.0 envelope carrying one event's data."""

    model_config = ConfigDict(extra="allow", frozen=True)  # CloudEvents extensions are allowed

    specversion: Literal["1.0"] = SPEC_VERSION
    id: uuid.UUID
    source: str
    type: str
    schemaversion: int = 1
    time: UtcDateTime
    subject: str | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(
        default=None, max_length=500,
        description="CloudEvents dataschema: the absolute URL of the JSON schema ``data`` adheres to, served by "
        "the producing service at /schemas/<type>.json (the whole message's at /schemas/<type>.envelope.json); "
        "optional",
    )
    correlationid: str = Field(description="id of the request or event that started this chain")
    causationid: str | None = Field(default=None, description="id of what directly caused this event")
    traceparent: str | None = Field(
        default=None, max_length=200,
        description="CloudEvents distributed-tracing extension: the W3C trace context (version-traceid-"
        "parentid-flags) of the span that recorded this event; optional, a malformed one is ignored",
    )
    data: D

    @property
    def routing_key(self) -> str:
        return routing_key_for(self.type)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=False)


def serialized(envelope: CloudEvent[Any]) -> tuple[str, int]:
    """``envelope.to_json()`` and the size in bytes of its ``data`` in it, from one
    serialization. ``data`` is the envelope's last member (``new_envelope`` adds no
    extension), and the first ``"data":`` in the JSON is its key: in a string value
    before it, quotes are escaped."""
    raw = envelope.__pydantic_serializer__.to_json(envelope)
    data_starts = raw.index(b'"data":') + len(b'"data":')
    return raw.decode(), len(raw) - data_starts - 1  # less the envelope's closing brace


def new_envelope(
    data: EventData,
    *,
    correlation_id: str | None,
    causation_id: str | None,
    event_id: uuid.UUID | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
    dataschema: str | None = None,
) -> CloudEvent[Any]:
    eid = event_id or uuid.uuid4()
    return CloudEvent[type(data)](  # type: ignore[misc]
        id=eid,
        source=data.source,
        type=data.event_type,
        schemaversion=data.schema_version,
        time=time or datetime.now(UTC),
        subject=data.subject(),
        correlationid=correlation_id or str(eid),
        causationid=causation_id,
        traceparent=traceparent,
        dataschema=dataschema,
        data=data,
    )


def envelope_model(cls: type[EventData]) -> type[CloudEvent[Any]]:
    """The envelope around ``cls`` under a name a code generator can use,
    ``<EventType>Event`` (pydantic names the parametrised one ``CloudEvent[<EventType>]``,
    which is not a valid AsyncAPI component key nor a class name): the same fields and
    schema, for the published documents (the JSON-schema snapshots, the AsyncAPI catalogue)."""
    named = _NAMED.get(cls)
    if named is None:
        named = _NAMED[cls] = type(f"{cls.event_type}Event", (CloudEvent[cls],), {  # type: ignore[valid-type]
            "__module__": __name__, "__doc__": f"A CloudEvents 1.0 envelope carrying one {cls.event_type}.",
        })
    return named


_NAMED: dict[type[EventData], type[CloudEvent[Any]]] = {}
