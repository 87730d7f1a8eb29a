"""One registry: event type name <-> routing key <-> data model.

``parse`` turns bytes from the wire into a typed envelope or raises an
:class:`EventParseError` whose ``reason`` names what is wrong (the field, the
unknown type), ready to go into a dead-letter header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from jumelage.events.envelope import CloudEvent, EventData


class EventParseError(ValueError):
    """The message is not a v1 Jumelage event; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(EventParseError):
    def __init__(self, event_type: object) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class InvalidEvent(EventParseError):
    def __init__(self, event_type: str | None, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        self.fields = [".".join(str(p) for p in e["loc"]) for e in errors]
        detail = "; ".join(f"{f}: {e['msg']}" for f, e in zip(self.fields, errors, strict=True))
        super().__init__(f"invalid {event_type or 'event'}: {detail}")
        self.event_type = event_type


class EventRegistry:
    def __init__(self) -> None:
        self._by_type: dict[str, type[EventData]] = {}
        self._by_key: dict[str, type[EventData]] = {}

    def register(self, cls: type[EventData]) -> None:
        known = self._by_type.get(cls.event_type)
        if known is not None and known is not cls:
            raise ValueError(f"event type {cls.event_type} registered twice")
        self._by_type[cls.event_type] = cls
        self._by_key[cls.routing_key] = cls

    def register_defined(self, base: type[EventData] = EventData) -> None:
        """Register every event type defined under ``base`` (``jumelage.events`` does,
        once its modules are imported); an abstract base is skipped, not its subclasses."""
        for cls in base.__subclasses__():
            if "event_type" in vars(cls):  # set on each concrete type (``EventData.__init_subclass__``)
                self.register(cls)
            self.register_defined(cls)

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(sorted(self._by_type.values(), key=lambda c: c.event_type))

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._by_type

    def by_type(self, event_type: str) -> type[EventData]:
        try:
            return self._by_type[event_type]
        except KeyError:
            raise UnknownEventType(event_type) from None

    def by_routing_key(self, key: str) -> type[EventData]:
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownEventType(key) from None

    def from_source(self, source: str) -> list[type[EventData]]:
        return [c for c in self if c.source == source]

    def parse(self, body: bytes | str | dict[str, Any]) -> CloudEvent[Any]:
        if isinstance(body, dict):
            raw = body
        else:
            try:
                raw = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise EventParseError(f"body is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise EventParseError("body is not a JSON object")
        event_type = raw.get("type")
        if event_type is None:
            raise InvalidEvent(None, [{"loc": ("type",), "msg": "Field required"}])
        cls = self.by_type(event_type) if isinstance(event_type, str) else None
        if cls is None:
            raise UnknownEventType(event_type)
        try:
            envelope = CloudEvent[cls].model_validate(raw)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise InvalidEvent(event_type, exc.errors(include_url=False, include_input=False)) from None
        if envelope.schemaversion != cls.schema_version:
            raise EventParseError(
                f"{event_type} schemaversion {envelope.schemaversion} is not supported "
                f"(this consumer reads {cls.schema_version})"
            )
        return envelope


registry = EventRegistry()
