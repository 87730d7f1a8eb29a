"""The AsyncAPI catalogue a subscriber generates code from: FastStream's document, made whole.

FastStream generates each service's AsyncAPI 3.0 document from its publishers and
its subscriber (channels, AMQP bindings, the exchange and the queue). Taken as it
is, a subscriber's code generator chokes on it: its keys (``CloudEvent[X]``,
``x.y:X:Message``) break the spec's rule for component keys
(``^[a-zA-Z0-9\\.\\-_]+$``), the payload of the queue is ``bytes``, and it says
nothing of the content type, the dead-letter headers or the production broker.
:func:`catalogue` keeps FastStream's bindings and builds the rest from the event
registry:

- a channel per event type the service publishes, keyed by its routing key, and
  a send operation ``send<Type>``;
- the service's queue with one message per event type it handles (its receive
  operation keyed by the queue's name, every routing key it is bound with in
  ``cc``), and its dead-letter queue ``<queue>.dlq`` with the headers an operator
  reads there (``x-error``, ``x-attempts``, ``x-original-routing-key``);
- one message per event type, ``contentType: application/cloudevents+json``, its
  payload the named envelope ``<Type>Event`` (``jumelage.events.envelope_model``),
  its example built from ``jumelage.events.examples`` (valid by construction: the
  model made it);
- the development and production servers, each with its security scheme.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from jumelage.events import CONTENT_TYPE, EventData, envelope_model, new_envelope
from jumelage.events.examples import EXAMPLES
from jumelage.messaging.consumer import ATTEMPTS_HEADER, ERROR_HEADER, ROUTING_KEY_HEADER

KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")
"""What the AsyncAPI specification allows as a component key; every key of ours keeps to it."""

SCHEMAS_REF = "#/components/schemas/{model}"
PRODUCTION_HOST = "rabbitmq.rabbitmq.svc.cluster.local:5672"
PRODUCTION_VHOST = "/jumelage"
SECURITY_SCHEME = "brokerUser"
DEAD_LETTER = "DeadLetter"
EXAMPLE_TIME = datetime(2024, 5, 20, 10, 15, tzinfo=UTC)
EXAMPLE_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
DESCRIPTION = (
    "The events the Jumelage {service} service publishes on the topic exchange `{exchange}` and the ones "
    "its queue receives. Every message is a CloudEvents 1.0 event in structured JSON mode "
    "(docs/events.md); each message's payload schema is the whole envelope (`<Type>Event`), its `data` "
    "the event type's model. Generate a subscriber's models from this document "
    "(e.g. `datamodel-codegen` on `components.schemas`: README, \"The catalogue\"); each event's "
    "`dataschema` names the JSON schema of its `data`, served by this service at `/schemas/<type>.json`."
)


def catalogue(
    generated: dict[str, Any],
    *,
    service: str,
    exchange: str,
    emitted: Sequence[type[EventData]],
    handled: Sequence[type[EventData]] = (),
    queue: Any = None,
    schemas_url: str,
) -> dict[str, Any]:
    """The catalogue built on FastStream's document ``generated`` (``to_jsonable()``):
    ``emitted`` the event types the service publishes, ``handled`` those its ``queue``
    (a ``ServiceQueue``, or None) receives."""
    raw_channels, raw_operations = generated.get("channels", {}), generated.get("operations", {})
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}

    for cls in emitted:
        raw_key = f"{cls.routing_key}:{cls.event_type}"
        channel_key = cls.routing_key
        messages[cls.event_type] = _message(cls, schemas, schemas_url)
        channels[channel_key] = _without_none({
            "address": cls.routing_key,
            "title": cls.event_type,
            "description": _doc(cls) + f" Published on the exchange `{exchange}` with the routing key "
                           f"`{cls.routing_key}`.",
            "messages": {cls.event_type: {"$ref": f"#/components/messages/{cls.event_type}"}},
            "bindings": raw_channels.get(raw_key, {}).get("bindings"),
        })
        operations[f"send{cls.event_type}"] = _without_none({
            "action": "send",
            "title": f"Publish {cls.event_type}",
            "summary": f"The {service} service publishes {cls.event_type}, persistent, from its outbox "
                       "(at least once: deduplicate on the event id).",
            "channel": {"$ref": f"#/channels/{channel_key}"},
            "messages": [{"$ref": f"#/channels/{channel_key}/messages/{cls.event_type}"}],
            "bindings": raw_operations.get(raw_key, {}).get("bindings"),
        })

    if queue is not None:
        for cls in handled:
            messages.setdefault(cls.event_type, _message(cls, schemas, schemas_url))
        raw_queue = raw_channels.get(queue.name, {})
        channels[queue.name] = _without_none({
            "address": queue.name,
            "title": f"The {service} service's queue",
            "description": raw_queue.get("description") or f"The {service} service's queue.",
            "messages": {cls.event_type: {"$ref": f"#/components/messages/{cls.event_type}"}
                         for cls in handled},
            "bindings": raw_queue.get("bindings"),
        })
        received = raw_operations.get(queue.name, {})
        operations[queue.name] = _without_none({
            "action": "receive",
            "title": f"The {service} service handles",
            "summary": "Each event once (the inbox deduplicates on its id); a failed one is retried after "
                       f"{', '.join(f'{d:g} s' for d in queue.retry_delays)}, then dead-lettered.",
            "channel": {"$ref": f"#/channels/{queue.name}"},
            "messages": [{"$ref": f"#/channels/{queue.name}/messages/{cls.event_type}"} for cls in handled],
            "bindings": received.get("bindings"),
        })
        messages[DEAD_LETTER] = _dead_letter(handled, schemas_url)
        channels[queue.dlq_name] = {
            "address": queue.dlq_name,
            "title": f"The {service} service's dead letters",
            "description": f"What `{queue.name}` could not handle: an invalid message at once, a failing one "
                           "after its last retry. Read, retried and discarded by operators "
                           f"(`python -m jumelage.dlq list|show|retry|discard {service}`).",
            "messages": {DEAD_LETTER: {"$ref": f"#/components/messages/{DEAD_LETTER}"}},
            "bindings": {"amqp": {"is": "queue", "bindingVersion": "0.3.0",
                                  "queue": {"name": queue.dlq_name, "durable": True, "exclusive": False,
                                            "autoDelete": False, "vhost": "/"}}},
        }
        operations[_key(queue.dlq_name)] = {
            "action": "receive",
            "title": "Dead letters, for operators",
            "summary": "The original message, byte for byte, with the reason and the attempts in its headers.",
            "channel": {"$ref": f"#/channels/{queue.dlq_name}"},
            "messages": [{"$ref": f"#/channels/{queue.dlq_name}/messages/{DEAD_LETTER}"}],
        }

    document = {
        "asyncapi": generated.get("asyncapi", "3.0.0"),
        "info": {**generated.get("info", {}),
                 "description": DESCRIPTION.format(service=service, exchange=exchange)},
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(generated.get("servers", {}), service),
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {SECURITY_SCHEME: {
                "type": "userPassword",
                "description": "The service's own broker user (AMQP PLAIN over the connection): each "
                               "subscriber is given its own, allowed to read its queue and nothing else "
                               "(deploy/rabbitmq/definitions.json, deploy/k8s/README.md).",
            }},
        },
    }
    check_keys(document)
    return document


def check_keys(document: dict[str, Any]) -> None:
    """Every component, channel and operation key keeps to the specification's key rule."""
    keyed: list[tuple[str, Iterable[str]]] = [("channels", document.get("channels", {})),
                                              ("operations", document.get("operations", {}))]
    keyed += [(f"components.{k}", v) for k, v in document.get("components", {}).items()]
    bad = [f"{where}: {key!r}" for where, keys in keyed for key in keys if not KEY.match(key)]
    if bad:
        raise ValueError("AsyncAPI keys outside ^[a-zA-Z0-9.\\-_]+$: " + ", ".join(bad))


def example_envelope(cls: type[EventData], schemas_url: str | None) -> dict[str, Any]:
    """The example message of ``cls``: its realistic data (``jumelage.events.examples``) in
    an envelope with fixed ids and time, as the JSON a consumer receives."""
    envelope = new_envelope(
        cls(**EXAMPLES[cls.event_type]),
        correlation_id="5d0c1f4e-8a2b-4c3d-9e7f-6a5b4c3d2e1f",
        causation_id=None,
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"jumelage:example:{cls.event_type}"),
        time=EXAMPLE_TIME,
        traceparent=EXAMPLE_TRACEPARENT,
        dataschema=f"{schemas_url}/{cls.event_type}.json" if schemas_url else None,
    )
    return json.loads(envelope.to_json())


def _message(cls: type[EventData], schemas: dict[str, Any], schemas_url: str) -> dict[str, Any]:
    model = envelope_model(cls)
    schema = model.model_json_schema(ref_template=SCHEMAS_REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas[model.__name__] = schema
    return {
        "name": cls.event_type,
        "title": cls.event_type,
        "summary": _doc(cls),
        "contentType": CONTENT_TYPE,
        "correlationId": {"description": "the chain's correlation id (also the envelope's correlationid)",
                          "location": "$message.header#/correlation_id"},
        "headers": _headers(required=()),
        "payload": {"$ref": SCHEMAS_REF.format(model=model.__name__)},
        "examples": [{"name": f"{cls.event_type}Example", "summary": f"A {cls.event_type} as delivered",
                      "payload": example_envelope(cls, schemas_url)}],
    }


def _headers(*, required: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "AMQP headers. A first delivery from the exchange carries none of these; a "
                       "redelivery from a retry queue carries x-attempts and x-original-routing-key; "
                       "a dead letter (<queue>.dlq) all three.",
        "properties": {
            ATTEMPTS_HEADER: {"type": "integer", "minimum": 1,
                              "description": "the handling attempts that failed so far: 1 on the first "
                                             "redelivery; on a dead letter, all of them (1 for an invalid "
                                             "message, dead-lettered at once)"},
            ERROR_HEADER: {"type": "string", "maxLength": 4000,
                           "description": "dead letters only: why the last attempt failed (the invalid "
                                          "field, the unknown type, the handler's error)"},
            ROUTING_KEY_HEADER: {"type": "string",
                                 "description": "the routing key the event was first published with"},
        },
        "required": list(required),
        "additionalProperties": True,
    }


def _dead_letter(handled: Sequence[type[EventData]], schemas_url: str) -> dict[str, Any]:
    example = example_envelope(handled[0], schemas_url) if handled else {}
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A message its queue gave up on; the body is the original's, byte for byte (usually one "
                   "of the queue's events, but an invalid one may be anything).",
        "contentType": CONTENT_TYPE,
        "headers": _headers(required=(ATTEMPTS_HEADER, ERROR_HEADER)),
        "payload": {"description": "the original message's body, as it was received"},
        "examples": [{
            "name": "HandlerFailedThreeTimes",
            "summary": "An event whose handler failed on its first attempt and its three retries",
            "headers": {ATTEMPTS_HEADER: 4, ERROR_HEADER: "OperationalError('database is locked')",
                        ROUTING_KEY_HEADER: handled[0].routing_key if handled else "institution.registered"},
            "payload": example,
        }],
    }


def _servers(generated: dict[str, Any], service: str) -> dict[str, Any]:
    security = [{"$ref": f"#/components/securitySchemes/{SECURITY_SCHEME}"}]
    servers = {name: {**copy.deepcopy(server), "security": security} for name, server in generated.items()}
    servers["production"] = {
        "host": PRODUCTION_HOST,
        "pathname": PRODUCTION_VHOST,
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "title": "Production broker",
        "description": f"The cluster's RabbitMQ (deploy/k8s), vhost `jumelage`; the {service} service connects "
                       "as its own user, and so does each subscriber, given its queue by the operators.",
        "security": security,
    }
    return servers


def _doc(cls: type[EventData]) -> str:
    return " ".join((cls.__doc__ or cls.event_type).split())


def _key(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9.\-_]", "_", name)


def _without_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}
