"""The broker definitions ops load at boot are the topology the code declares,
with the least privilege each service needs.

The code declares its queues with arguments (``DECLARE_TOPOLOGY=all``, local
runs); the definitions create the same queues with only their type as an
argument and every other setting as a policy, which ops can change without
recreating a queue. A difference would route events or retries elsewhere than
the code expects; ``tests/test_broker_permissions.py`` loads the same file into
the real broker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from jumelage.events import registry
from jumelage.messaging.topology import BINDINGS, EXCHANGE_NAME, Topology
from web.subscribers import live_queue

DEFINITIONS = Path(__file__).parent.parent / "deploy" / "rabbitmq" / "definitions.json"
VHOST = "jumelage"
TOPOLOGY = Topology()
SERVICES = tuple(BINDINGS)
WEB = "web"  # the web app's user: a live queue of its own per process, bound with # to the exchange
LIVE_QUEUE = live_queue(TOPOLOGY).name  # web.live.<host>.<pid>, as the web app names it here
DLQ_LIMITS = {"max-length", "max-length-bytes", "overflow"}
"""What ops add beyond the code's arguments: dead-letter queues are bounded."""


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    return json.loads(DEFINITIONS.read_text())


def _policy_for(definitions: dict[str, Any], queue: str) -> dict[str, Any] | None:
    """The policy RabbitMQ applies to ``queue``: the highest priority of those whose
    pattern matches (``re:run``, an unanchored search)."""
    matching = [p for p in definitions["policies"]
                if p.get("apply-to", "all") in {"queues", "all"} and re.search(p["pattern"], queue)]
    if not matching:
        return None
    top = max(p.get("priority", 0) for p in matching)
    best = [p for p in matching if p.get("priority", 0) == top]
    assert len(best) == 1, f"{queue}: policies {[p['name'] for p in best]} tie, the broker picks any"
    return best[0]


def _effective_arguments(definitions: dict[str, Any], queue: dict[str, Any]) -> dict[str, Any]:
    """The queue's arguments plus its policy's keys as the arguments they stand for."""
    policy = _policy_for(definitions, queue["name"])
    settings = {f"x-{key}": value for key, value in (policy or {}).get("definition", {}).items()}
    return {**settings, **queue["arguments"]}


def test_everything_is_in_the_jumelage_vhost(definitions: dict[str, Any]) -> None:
    assert definitions["vhosts"] == [{"name": VHOST}]
    for key, items in definitions.items():
        for item in items:
            if "vhost" in item:
                assert item["vhost"] == VHOST, f"{key}: {item}"


def test_every_queue_the_code_declares_is_defined_with_its_type_as_the_only_argument(
    definitions: dict[str, Any],
) -> None:
    defined = {q["name"]: q for q in definitions["queues"]}
    expected = {q.name for sq in TOPOLOGY.service_queues() for q in sq.all_queues()}
    assert set(defined) == expected
    for name, queue in defined.items():
        assert queue["durable"] is True and queue["auto_delete"] is False, name
        # The type cannot be a policy; anything else as an argument would need the queue recreated to change.
        assert queue["arguments"] == {"x-queue-type": "quorum"}, name


def test_the_policies_give_each_queue_the_settings_the_code_declares(definitions: dict[str, Any]) -> None:
    defined = {q["name"]: q for q in definitions["queues"]}
    for sq in TOPOLOGY.service_queues():
        for q in sq.all_queues():
            effective = _effective_arguments(definitions, defined[q.name])
            declared = {"x-queue-type": "quorum", **(q.arguments or {})}
            extra = {k.removeprefix("x-") for k in set(effective) - set(declared)}
            if q.name == sq.dlq_name:
                assert extra == DLQ_LIMITS, f"{q.name}: a dead-letter queue is bounded"
            else:
                assert not extra, f"{q.name}: settings the code does not declare: {extra}"
            assert {k: effective[k] for k in declared} == declared, q.name


def test_dead_letter_queues_are_bounded_without_dropping_what_they_hold(definitions: dict[str, Any]) -> None:
    for sq in TOPOLOGY.service_queues():
        limits = _policy_for(definitions, sq.dlq_name)["definition"]
        assert limits["max-length"] > 0 and limits["max-length-bytes"] > 0
        # Full: the consumer's forward is refused (nack) and the event stays in its
        # queue, rather than the oldest dead letter being dropped unseen.
        assert limits["overflow"] == "reject-publish"


def test_every_dead_letter_route_leads_to_a_defined_queue(definitions: dict[str, Any]) -> None:
    queues = {q["name"] for q in definitions["queues"]}
    for policy in definitions["policies"]:
        target = policy["definition"].get("dead-letter-routing-key")
        if target is not None:
            assert policy["definition"]["dead-letter-exchange"] == "", policy["name"]
            assert target in queues, f"{policy['name']} dead-letters to undefined {target!r}"


def test_exchanges_are_the_contracts_and_one_forward_exchange_per_queue(definitions: dict[str, Any]) -> None:
    defined = {e["name"]: (e["type"], e["durable"], e["auto_delete"]) for e in definitions["exchanges"]}
    expected = {EXCHANGE_NAME: ("topic", True, False)}
    expected |= {sq.forward_exchange_name: ("direct", True, False) for sq in TOPOLOGY.service_queues()}
    assert defined == expected


def test_bindings_match_the_code(definitions: dict[str, Any]) -> None:
    defined = {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]}
    assert all(b["destination_type"] == "queue" for b in definitions["bindings"])
    expected = {(EXCHANGE_NAME, sq.name, key) for sq in TOPOLOGY.service_queues() for key in sq.bindings}
    expected |= {(sq.forward_exchange_name, q.name, q.name)
                 for sq in TOPOLOGY.service_queues() for q in sq.forwarded_queues()}
    assert defined == expected


# -- permissions ---------------------------------------------------------------------------


def _permissions(definitions: dict[str, Any], service: str) -> dict[str, str]:
    (permission,) = [p for p in definitions["permissions"] if p["user"] == service]
    return permission


def _names(definitions: dict[str, Any]) -> set[str]:
    """Every exchange and queue name a regex could be asked about. The broker checks
    the default exchange under the name ``amq.default`` and a server-named queue
    under its ``amq.gen-`` name, never the empty name."""
    return ({q["name"] for q in definitions["queues"]} | {e["name"] for e in definitions["exchanges"]}
            | {"amq.default", "amq.topic", "amq.direct", "amq.rabbitmq.trace", "amq.gen-JzTY20BRgKO"})


def test_users_are_not_in_the_repository(definitions: dict[str, Any]) -> None:
    """Each installation makes its own users file (deploy/rabbitmq/hash_password.py --users)."""
    assert "users" not in definitions
    assert {p["user"] for p in definitions["permissions"]} == {*SERVICES, WEB}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_configures_nothing(definitions: dict[str, Any], service: str) -> None:
    configure = _permissions(definitions, service)["configure"]
    assert not [n for n in _names(definitions) if re.search(configure, n)]


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_to_the_events_exchange_and_its_own_forward_exchange_only(
    definitions: dict[str, Any], service: str
) -> None:
    write = _permissions(definitions, service)["write"]
    allowed = {n for n in _names(definitions) if re.search(write, n)}
    assert allowed == {EXCHANGE_NAME, TOPOLOGY.service_queue(service).forward_exchange_name}
    assert not re.search(write, "amq.default"), "the default exchange reaches every queue of the vhost"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reads_its_own_queue_only(definitions: dict[str, Any], service: str) -> None:
    read = _permissions(definitions, service)["read"]
    assert {n for n in _names(definitions) if re.search(read, n)} == {TOPOLOGY.service_queue(service).name}


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_publishes_only_the_event_types_it_is_the_source_of(
    definitions: dict[str, Any], service: str
) -> None:
    (topic,) = [t for t in definitions["topic_permissions"] if t["user"] == service]
    assert topic["exchange"] == EXCHANGE_NAME
    own = {c.routing_key for c in registry.from_source(f"/services/{service}")}
    assert own, service
    allowed = {c.routing_key for c in registry if re.search(topic["write"], c.routing_key)}
    assert allowed == own
    for key in own:  # no neighbour of a key of its own slips through
        for near in (f"{key}.x", f"x.{key}", key.replace(".", "x"), "#", "*"):
            assert not re.search(topic["write"], near), near
    assert topic["read"] == "^$", "a service binds nothing"


# -- the web app's user ----------------------------------------------------------------------


def _live_queue_names() -> set[str]:
    """Names the web app gives its live queue: ``web.live.<host>.<pid>``, a pod's host
    name included; and names it never would."""
    return {LIVE_QUEUE, "web.live.web-7d9f8c6b5-x2kqp.1", "web.live.web.jumelage.svc.cluster.local.42"}


def test_the_web_app_names_its_live_queue_under_the_prefix_its_user_may_configure() -> None:
    assert LIVE_QUEUE.startswith("web.live.")
    queue = live_queue(TOPOLOGY)
    assert queue.exclusive and queue.auto_delete and not queue.durable
    assert queue.routing() == "#", "every event: the pages listen for any record"


def test_the_web_user_configures_and_writes_its_live_queues_only(definitions: dict[str, Any]) -> None:
    permission = _permissions(definitions, WEB)
    for kind in ("configure", "write"):
        assert all(re.search(permission[kind], name) for name in _live_queue_names()), kind
        # Not the exchange (no publishing, no redeclaring), no service queue, no default exchange.
        assert not [n for n in _names(definitions) if re.search(permission[kind], n)], kind
        assert not re.search(permission[kind], "web.other") and not re.search(permission[kind], "x.web.live.1")


def test_the_web_user_reads_the_exchange_and_its_live_queues_only(definitions: dict[str, Any]) -> None:
    read = _permissions(definitions, WEB)["read"]
    assert all(re.search(read, name) for name in _live_queue_names())
    # The exchange: binding its queue to it. Nothing else: no service queue, no forward exchange.
    assert {n for n in _names(definitions) if re.search(read, n)} == {EXCHANGE_NAME}
    assert not re.search(read, f"{EXCHANGE_NAME}.x")


def test_the_web_user_binds_with_hash_and_publishes_no_routing_key(definitions: dict[str, Any]) -> None:
    (topic,) = [t for t in definitions["topic_permissions"] if t["user"] == WEB]
    assert topic["exchange"] == EXCHANGE_NAME
    assert re.search(topic["read"], "#")
    assert not [k for k in ("*", "#.x", "institution.*", "convention.signed") if re.search(topic["read"], k)]
    assert not [c.routing_key for c in registry if re.search(topic["write"], c.routing_key)]


def test_the_live_queues_are_bounded_by_a_policy_of_their_own(definitions: dict[str, Any]) -> None:
    """A web app that stops reading (or a live queue left by a client of the web user)
    cannot fill the broker: old live updates are dropped, which costs a page a reload."""
    for name in _live_queue_names():
        policy = _policy_for(definitions, name)
        assert policy is not None and policy["name"] == "web.live", name
    limits = policy["definition"]
    assert limits["max-length"] > 0 and limits["overflow"] == "drop-head" and limits["message-ttl"] > 0
    service_queues = {q.name for sq in TOPOLOGY.service_queues() for q in sq.all_queues()}
    assert not [q for q in service_queues if re.search(policy["pattern"], q)]
