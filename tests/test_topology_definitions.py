"""The broker definitions ops load at boot are the topology the code declares.

A difference would make a service's start-up declaration fail with
PRECONDITION_FAILED (other arguments) or leave an event with no queue.
"""

from __future__ import annotations

import json
from pathlib import Path

from jumelage.messaging.topology import EXCHANGE_NAME, Topology

DEFINITIONS = Path(__file__).parent.parent / "deploy" / "rabbitmq" / "definitions.json"


def _definitions() -> dict:
    return json.loads(DEFINITIONS.read_text())


def test_every_queue_the_code_declares_is_defined_with_the_same_arguments() -> None:
    defined = {q["name"]: q for q in _definitions()["queues"]}
    expected = {}
    for sq in Topology().service_queues():
        for q in sq.all_queues():
            expected[q.name] = {"x-queue-type": "quorum", **(q.arguments or {})}
    assert set(defined) == set(expected)
    for name, arguments in expected.items():
        assert defined[name]["durable"] is True, name
        assert defined[name]["arguments"] == arguments, name


def test_bindings_match_the_code() -> None:
    defined = {(b["source"], b["destination"], b["routing_key"]) for b in _definitions()["bindings"]}
    expected = {(EXCHANGE_NAME, sq.name, key) for sq in Topology().service_queues() for key in sq.bindings}
    assert defined == expected


def test_exchange_is_the_contracts() -> None:
    (exchange,) = _definitions()["exchanges"]
    assert (exchange["name"], exchange["type"], exchange["durable"]) == (EXCHANGE_NAME, "topic", True)
