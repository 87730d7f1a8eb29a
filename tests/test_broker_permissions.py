"""The broker as deployed, on the real RabbitMQ: ``deploy/rabbitmq/definitions.json``
and a users file made by ``deploy/rabbitmq/hash_password.py``, loaded in the
order the broker loads them at boot (users first), into a vhost of the test's
own with ``rabbitmqctl import_definitions`` (the broker's own loader).

Users are global in RabbitMQ: the test's users get a unique prefix and random
passwords, and are deleted with the vhost afterwards.

What a service user may do, proved by doing it: run the service with
``DECLARE_TOPOLOGY=own``, publish its own events, consume its own queue, send a
failed event to its own retry queue (and get it back through the queue's
policy). What it may not, proved by the broker's refusal (the channel closed
with ACCESS_REFUSED and the broker's reason): publish another service's event
type, write into any queue through the default exchange or into another
service's queue through that service's forward exchange, delete or redeclare
the exchange, delete, purge or rebind a queue, read another service's queue.

The web app's user, the same way: the web app runs on it with ``DECLARE_TOPOLOGY=own``
and its pages get events live; it declares, binds (with ``#``) and consumes a live
queue of its own (``web.live.<host>.<pid>``), which the broker bounds by a policy;
it cannot publish to the exchange (nor anywhere), read or bind another's queue,
declare a queue of another name, bind its own to a forward exchange or with
another key, or delete the exchange.
The broker's wording differs between 3.x and 4.x ("access to …" / "configure
access to …"): the assertions hold for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiormq
import pytest
from yarl import URL

import convention.app
import notification.app
import scheduling.app
import web.app
from jumelage.events import registry
from jumelage.messaging.topology import EXCHANGE_NAME, Topology
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running, service_settings
from jumelage.testkit.waiting import eventually
from web.subscribers import live_queue

ROOT = Path(__file__).parent.parent
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
SERVICES = ("convention", "scheduling", "notification")
WEB = "web"  # the web app's broker user: reads the exchange through its live queues
TOPOLOGY = Topology()

pytestmark = pytest.mark.broker


def _hash_password_module() -> Any:
    spec = importlib.util.spec_from_file_location("hash_password", ROOT / "deploy" / "rabbitmq" / "hash_password.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hash_password = _hash_password_module()


def rabbitmqctl(*args: str, stdin: str | None = None) -> str:
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("this test loads definitions with rabbitmqctl, which is not on PATH", pytrace=False)
    done = subprocess.run(["rabbitmqctl", "-q", *args], input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _into(definitions: dict[str, Any], vhost: str, names: dict[str, str]) -> dict[str, Any]:
    """The same definitions in ``vhost``, every user renamed as ``names`` says."""
    for items in definitions.values():
        for item in items:
            if "vhost" in item:
                item["vhost"] = vhost
            if "user" in item:
                item["user"] = names[item["user"]]
    definitions["vhosts"] = [{"name": vhost}]
    return definitions


@dataclass
class Deployed:
    vhost: str
    names: dict[str, str]  # user in definitions.json -> the test's user
    passwords: dict[str, str]
    base: URL

    def url(self, user: str) -> str:
        name = self.names[user]
        return str(self.base.with_user(name).with_password(self.passwords[name]).with_path(f"/{self.vhost}"))

    def user(self, user: str) -> str:
        return self.names[user]

    def queues(self) -> dict[str, dict[str, Any]]:
        listed = rabbitmqctl("list_queues", "-p", self.vhost, "name", "arguments", "policy", "messages",
                             "--formatter", "json")
        queues = {q["name"]: q for q in json.loads(listed)}
        for queue in queues.values():  # 3.x lists arguments as [name, type, value] triples
            if isinstance(queue["arguments"], list):
                queue["arguments"] = {a[0]: a[-1] for a in queue["arguments"]}
        return queues

    def policies(self) -> dict[str, dict[str, Any]]:
        listed = rabbitmqctl("list_policies", "-p", self.vhost, "--formatter", "json")
        return {p["name"]: p for p in json.loads(listed)}


@pytest.fixture(scope="module")
def deployed(amqp_url: str) -> Iterator[Deployed]:
    """Loaded once for the module (each ``rabbitmqctl`` call starts an Erlang VM):
    the tests that count messages compare before and after."""
    tag = uuid.uuid4().hex[:8]
    vhost = f"jumelage-test-{tag}"
    names = {user: f"t{tag}-{user}" for user in (hash_password.ADMIN, *SERVICES, WEB)}
    passwords = {name: secrets.token_urlsafe(24) for name in names.values()}
    users = hash_password.users_definitions(passwords, admin=names[hash_password.ADMIN], vhost=vhost)
    definitions = _into(json.loads(DEFINITIONS.read_text()), vhost, names)
    result = Deployed(vhost, names, passwords, URL(amqp_url))
    try:
        # Through stdin: rabbitmqctl may run as the broker's user, who cannot read our tmp files.
        for document in (users, definitions):  # the boot order: 10-users.json, then 20-definitions.json
            rabbitmqctl("import_definitions", "--format", "json", stdin=json.dumps(document))
        expected = {q.name for sq in TOPOLOGY.service_queues() for q in sq.all_queues()}
        # Ready once every queue is there (the import may finish after the command; policies come before queues).
        _wait_until(lambda: set(result.queues()) == expected, timeout=60)
        yield result
    finally:
        with contextlib.suppress(AssertionError):
            rabbitmqctl("delete_vhost", vhost)
        for name in names.values():
            with contextlib.suppress(AssertionError):
                rabbitmqctl("delete_user", name)


def _wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not met within {timeout}s"
        time.sleep(0.2)  # between polls of a condition; each poll is a CLI call anyway


@contextlib.asynccontextmanager
async def channel_of(deployed: Deployed, user: str) -> AsyncIterator[aiormq.abc.AbstractChannel]:
    """A channel with publisher confirms, as ``user`` (its connection closed afterwards)."""
    connection = await aiormq.connect(deployed.url(user))
    try:
        yield await connection.channel(publisher_confirms=True)
    finally:
        await connection.close()


async def refusal(deployed: Deployed, user: str, act: Callable[[aiormq.abc.AbstractChannel], Awaitable[Any]]) -> str:
    """The broker's reason for closing the channel on ``act``: it must be ACCESS_REFUSED."""
    async with channel_of(deployed, user) as channel:
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refused:
            await asyncio.wait_for(act(channel), timeout=30)
        assert channel.is_closed
    reason = str(refused.value)
    assert "ACCESS_REFUSED" in reason, reason
    return reason


def publish(exchange: str, routing_key: str, body: bytes = b"{}") -> Callable[[Any], Awaitable[Any]]:
    return lambda channel: channel.basic_publish(body, exchange=exchange, routing_key=routing_key, mandatory=True)


def own_key(service: str) -> str:
    return next(c.routing_key for c in registry.from_source(f"/services/{service}"))


def others_key(service: str) -> str:
    return next(c.routing_key for c in registry if c.source != f"/services/{service}")


async def messages_in(deployed: Deployed, queue: str) -> int:
    async with channel_of(deployed, hash_password.ADMIN) as channel:
        return (await channel.queue_declare(queue, passive=True)).message_count


async def counts(deployed: Deployed) -> dict[str, int]:
    names = [q.name for sq in TOPOLOGY.service_queues() for q in sq.all_queues()]
    return dict(zip(names, await asyncio.gather(*(messages_in(deployed, n) for n in names)), strict=True))


async def got(channel: aiormq.abc.AbstractChannel, queue: str) -> aiormq.abc.DeliveredMessage | None:
    message = await channel.basic_get(queue, no_ack=True)
    return message if isinstance(message.delivery, aiormq.spec.Basic.GetOk) else None


async def purge(deployed: Deployed, queue: str) -> None:
    async with channel_of(deployed, hash_password.ADMIN) as channel:
        await channel.queue_purge(queue)


# -- what a service may do ---------------------------------------------------------------


async def test_services_run_with_their_own_users_on_the_deployed_topology(
    deployed: Deployed, database: Database
) -> None:
    """``DECLARE_TOPOLOGY=own``: passive declarations only, nothing bound; events
    cross, and the consumer dead-letters what it cannot read."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for module in (convention.app, scheduling.app, notification.app):
            name = module.Settings().service_name
            settings = service_settings(
                module.Settings, amqp_url=deployed.url(name), namespace="",
                database=await database.for_service(name), declare_topology="own", retry_delays=[1, 5, 30],
            )
            clients[name] = await stack.enter_async_context(running(module.create_app(settings), module.MIGRATIONS,
                                                                    acting_as=ActingAs("administrator")))
        r = await clients["convention"].post("/institutions", json={
            "name": "EPH Tiaret", "kind": "hospital", "country": "DZ", "city": "Tiaret"})
        assert r.status_code == 201, r.text
        institution_id = r.json()["id"]
        for consumer in ("scheduling", "notification"):
            await eventually(lambda c=consumer: _known(clients[c], institution_id), timeout=30)

        # A message scheduling cannot read goes to its DLQ: the consumer's forward,
        # through its forward exchange, works with its user's permissions.
        dlq = TOPOLOGY.service_queue("scheduling").dlq_name
        dead_before = await messages_in(deployed, dlq)
        async with channel_of(deployed, "convention") as channel:
            await channel.basic_publish(b"not an event", exchange=EXCHANGE_NAME, routing_key="institution.updated")
        await eventually(lambda: _has(deployed, dlq, dead_before + 1), timeout=30)


async def _has(deployed: Deployed, queue: str, count: int) -> bool:
    return await messages_in(deployed, queue) == count


async def _known(client: Any, institution_id: str) -> bool:
    return (await client.get(f"/institutions/{institution_id}")).status_code == 200


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_publishes_each_event_type_it_is_the_source_of(deployed: Deployed, service: str) -> None:
    async with channel_of(deployed, service) as channel:
        for event in registry.from_source(f"/services/{service}"):
            confirmation = await channel.basic_publish(b"{}", exchange=EXCHANGE_NAME, routing_key=event.routing_key)
            assert isinstance(confirmation, aiormq.spec.Basic.Ack), event.routing_key


async def test_a_service_consumes_its_own_queue(deployed: Deployed) -> None:
    await purge(deployed, "scheduling.events")
    async with channel_of(deployed, "convention") as channel:
        await channel.basic_publish(b"registered", exchange=EXCHANGE_NAME, routing_key="institution.registered")
    async with channel_of(deployed, "scheduling") as channel:
        delivered = await eventually(lambda: got(channel, "scheduling.events"))
        assert delivered.body == b"registered"


async def test_a_failed_event_goes_to_its_own_retry_queue_and_comes_back_by_the_queues_policy(
    deployed: Deployed,
) -> None:
    """What the consumer does with a failed event: through its forward exchange to
    ``.retry.1s``; the policy's TTL and dead-letter route bring it back."""
    sq = TOPOLOGY.service_queue("scheduling")
    await purge(deployed, sq.name)
    dead_before = await messages_in(deployed, sq.dlq_name)
    async with channel_of(deployed, "scheduling") as channel:
        confirmation = await channel.basic_publish(b"failed once", exchange=sq.forward_exchange_name,
                                                   routing_key=sq.retry_name(1), mandatory=True)
        assert isinstance(confirmation, aiormq.spec.Basic.Ack)  # routed: not returned
        confirmation = await channel.basic_publish(b"poison", exchange=sq.forward_exchange_name,
                                                   routing_key=sq.dlq_name, mandatory=True)
        assert isinstance(confirmation, aiormq.spec.Basic.Ack)
        delivered = await eventually(lambda: got(channel, sq.name), timeout=30)
        assert delivered.body == b"failed once"
    assert await messages_in(deployed, sq.dlq_name) == dead_before + 1


async def test_queue_settings_are_policies_and_dead_letter_queues_are_bounded(deployed: Deployed) -> None:
    policies = deployed.policies()
    for name, queue in deployed.queues().items():
        if name.startswith("web.live."):  # a live queue another test left, going with its connection
            continue
        assert queue["arguments"] == {"x-queue-type": "quorum"}, f"{name}: a setting left as an argument"
        assert queue["policy"] == name, f"{name}: the broker applies no policy of ours"
        if name.endswith(".dlq"):
            limits = _definition(policies[name])
            assert limits["max-length"] > 0 and limits["overflow"] == "reject-publish", name


def _definition(policy: dict[str, Any]) -> dict[str, Any]:
    definition = policy["definition"]
    return json.loads(definition) if isinstance(definition, str) else definition


# -- what it may not ---------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_cannot_publish_another_services_event_type(deployed: Deployed, service: str) -> None:
    key = others_key(service)
    before = await counts(deployed)
    reason = await refusal(deployed, service, publish(EXCHANGE_NAME, key))
    assert f"access to topic '{key}' in exchange '{EXCHANGE_NAME}'" in reason, reason
    assert deployed.user(service) in reason
    assert await counts(deployed) == before, "a refused event reached a queue"


@pytest.mark.parametrize("queue", ["convention.events", "convention.events.dlq", "convention.events.retry.1s"])
async def test_a_service_cannot_write_into_another_services_queue(deployed: Deployed, queue: str) -> None:
    before = await messages_in(deployed, queue)
    reason = await refusal(deployed, "scheduling", publish("", queue))
    assert "access to exchange 'amq.default'" in reason, reason
    forward = TOPOLOGY.service_queue("convention").forward_exchange_name
    reason = await refusal(deployed, "scheduling", publish(forward, queue))
    assert f"access to exchange '{forward}'" in reason, reason
    assert await messages_in(deployed, queue) == before


async def test_a_service_cannot_write_into_its_own_queue_directly_either(deployed: Deployed) -> None:
    """Not even its own: the default exchange is closed to every service user."""
    reason = await refusal(deployed, "convention", publish("", "convention.events"))
    assert "access to exchange 'amq.default'" in reason, reason


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_cannot_delete_or_redeclare_the_exchange(deployed: Deployed, service: str) -> None:
    reason = await refusal(deployed, service, lambda ch: ch.exchange_delete(EXCHANGE_NAME))
    assert f"access to exchange '{EXCHANGE_NAME}'" in reason, reason
    reason = await refusal(deployed, service, lambda ch: ch.exchange_declare(EXCHANGE_NAME, exchange_type="topic",
                                                                              durable=True))
    assert f"access to exchange '{EXCHANGE_NAME}'" in reason, reason
    async with channel_of(deployed, hash_password.ADMIN) as channel:
        await channel.exchange_declare(EXCHANGE_NAME, exchange_type="topic", durable=True, passive=True)


async def test_a_service_cannot_delete_purge_or_rebind_its_own_queue(deployed: Deployed) -> None:
    reason = await refusal(deployed, "notification", lambda ch: ch.queue_delete("notification.events"))
    assert "access to queue 'notification.events'" in reason, reason
    reason = await refusal(deployed, "notification", lambda ch: ch.queue_purge("notification.events.dlq"))
    assert "access to queue 'notification.events.dlq'" in reason, reason
    # Binding its queue to more keys would be reading events it was not given.
    reason = await refusal(deployed, "notification", lambda ch: ch.queue_bind(
        "notification.events", EXCHANGE_NAME, routing_key="#"))
    assert "access to queue 'notification.events'" in reason, reason


async def test_a_service_cannot_read_another_services_queue(deployed: Deployed) -> None:
    reason = await refusal(deployed, "scheduling", lambda ch: ch.basic_get("convention.events"))
    assert "access to queue 'convention.events'" in reason, reason


# -- the web app's user ------------------------------------------------------------------


CLOUDEVENT = aiormq.spec.Basic.Properties(content_type="application/cloudevents+json", delivery_mode=2)


def _live_queue_name(tag: str) -> str:
    return f"web.live.{tag}.{uuid.uuid4().hex[:8]}"


async def _declare_and_bind_live_queue(channel: aiormq.abc.AbstractChannel, name: str) -> None:
    """What ``web.subscribers.live_queue`` asks of the broker: an exclusive, auto-delete
    queue of its own, bound with ``#`` to the exchange."""
    await channel.queue_declare(name, durable=False, exclusive=True, auto_delete=True)
    await channel.queue_bind(name, EXCHANGE_NAME, routing_key="#")


def _live_queues(deployed: Deployed) -> dict[str, dict[str, Any]]:
    listed = rabbitmqctl("list_queues", "-p", deployed.vhost, "name", "policy", "exclusive", "auto_delete",
                         "--formatter", "json")
    return {q["name"]: q for q in json.loads(listed) if q["name"].startswith("web.live.")}


async def test_the_web_app_runs_with_its_own_user_and_its_pages_get_every_event_live(deployed: Deployed) -> None:
    """``DECLARE_TOPOLOGY=own``: the exchange checked passively, its live queue declared
    and bound; an event of any source reaches a page listening for the record it names."""
    settings = web.app.Settings(amqp_url=deployed.url(WEB), topology_namespace="", declare_topology="own",
                                broker_reconnect_interval=0.5, log_format="console")
    runtime = web.app.build_runtime(settings)
    expected = live_queue(runtime.topology).name
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.broker_connected.wait(), timeout=60)
        assert await runtime.broker.ping(timeout=5)
        queue = _live_queues(deployed)[expected]
        assert queue["exclusive"] is True and queue["auto_delete"] is True
        assert queue["policy"] == "web.live", "the broker bounds the live queue"
        lines: list[str] = []

        async def page_open() -> None:
            async for line in runtime.hub.listen(["i-web-1"]):
                lines.append(line)

        page = asyncio.create_task(page_open())
        try:
            await eventually(lambda: runtime.hub.listeners == 1)
            for service, key in (("convention", "institution.registered"), ("scheduling", "mission.scheduled")):
                body = json.dumps({"id": f"e-{key}", "type": key, "time": "2026-12-02T10:00:00Z",
                                   "data": {"institution_id": "i-web-1"}}).encode()
                async with channel_of(deployed, service) as channel:  # as its relay does
                    await channel.basic_publish(body, exchange=EXCHANGE_NAME, routing_key=key, properties=CLOUDEVENT)
            await eventually(lambda: sum("event: changed" in line for line in lines) == 2, timeout=30)
        finally:
            page.cancel()
    finally:
        await runtime.stop()
    await eventually(lambda: expected not in _live_queues(deployed), timeout=30)  # gone with its connection


async def test_the_web_user_declares_binds_and_consumes_its_live_queue(deployed: Deployed) -> None:
    name = _live_queue_name("declares")
    async with channel_of(deployed, WEB) as channel:
        await _declare_and_bind_live_queue(channel, name)
        async with channel_of(deployed, "notification") as publisher:
            await publisher.basic_publish(b"sent", exchange=EXCHANGE_NAME, routing_key="notification.sent")
        delivered = await eventually(lambda: got(channel, name), timeout=30)
        assert delivered.body == b"sent"
        received: asyncio.Queue[bytes] = asyncio.Queue()

        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            await received.put(message.body)

        await channel.basic_consume(name, on_message, no_ack=True)
        async with channel_of(deployed, "convention") as publisher:
            await publisher.basic_publish(b"signed", exchange=EXCHANGE_NAME, routing_key="convention.signed")
        assert await asyncio.wait_for(received.get(), timeout=30) == b"signed"


@pytest.mark.parametrize("key", ["institution.registered", "web.anything"])
async def test_the_web_user_cannot_publish_to_the_exchange(deployed: Deployed, key: str) -> None:
    before = await counts(deployed)
    reason = await refusal(deployed, WEB, publish(EXCHANGE_NAME, key))
    assert f"access to exchange '{EXCHANGE_NAME}'" in reason, reason
    assert deployed.user(WEB) in reason
    assert await counts(deployed) == before, "a refused event reached a queue"


async def test_the_web_user_cannot_write_into_any_queue_not_even_its_live_queue(deployed: Deployed) -> None:
    name = _live_queue_name("writes")
    async with channel_of(deployed, WEB) as channel:
        await _declare_and_bind_live_queue(channel, name)
        reason = await refusal(deployed, WEB, publish("", name))
        assert "access to exchange 'amq.default'" in reason, reason
    forward = TOPOLOGY.service_queue("convention").forward_exchange_name
    reason = await refusal(deployed, WEB, publish(forward, "convention.events.dlq"))
    assert f"access to exchange '{forward}'" in reason, reason


@pytest.mark.parametrize("queue", ["convention.events", "notification.events.dlq"])
async def test_the_web_user_cannot_read_another_services_queue(deployed: Deployed, queue: str) -> None:
    reason = await refusal(deployed, WEB, lambda ch: ch.basic_get(queue))
    assert f"access to queue '{queue}'" in reason, reason
    reason = await refusal(deployed, WEB, lambda ch: ch.basic_consume(queue, lambda _m: None))
    assert f"access to queue '{queue}'" in reason, reason


async def test_the_web_user_cannot_bind_another_services_queue_nor_declare_another_queue(deployed: Deployed) -> None:
    # More events into a service's queue would be events it does not expect.
    reason = await refusal(deployed, WEB, lambda ch: ch.queue_bind("scheduling.events", EXCHANGE_NAME,
                                                                   routing_key="#"))
    assert "access to queue 'scheduling.events'" in reason, reason
    for name in ("web.other", "audit.everything", "scheduling.events"):
        reason = await refusal(deployed, WEB, lambda ch, n=name: ch.queue_declare(n, exclusive=True))
        assert f"access to queue '{name}'" in reason, reason


async def test_the_web_user_binds_its_live_queue_with_hash_to_the_exchange_only(deployed: Deployed) -> None:
    name = _live_queue_name("binds")
    async with channel_of(deployed, WEB) as channel:
        await channel.queue_declare(name, durable=False, exclusive=True, auto_delete=True)
        # Exclusive: only this connection may use the queue, so the refusals below are on a
        # second channel of the same connection.
        forward = TOPOLOGY.service_queue("scheduling").forward_exchange_name
        for act, words in (
            (lambda ch: ch.queue_bind(name, forward, routing_key=name), f"access to exchange '{forward}'"),
            (lambda ch: ch.queue_bind(name, "amq.topic", routing_key="#"), "access to exchange 'amq.topic'"),
            (lambda ch: ch.queue_bind(name, EXCHANGE_NAME, routing_key="institution.*"),
             f"access to topic 'institution.*' in exchange '{EXCHANGE_NAME}'"),
        ):
            second = await channel.connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refused:
                await asyncio.wait_for(act(second), timeout=30)
            assert words in str(refused.value), str(refused.value)
        await channel.queue_bind(name, EXCHANGE_NAME, routing_key="#")


async def test_the_web_user_cannot_delete_or_redeclare_the_exchange(deployed: Deployed) -> None:
    reason = await refusal(deployed, WEB, lambda ch: ch.exchange_delete(EXCHANGE_NAME))
    assert f"access to exchange '{EXCHANGE_NAME}'" in reason, reason
    reason = await refusal(deployed, WEB, lambda ch: ch.exchange_declare(EXCHANGE_NAME, exchange_type="topic",
                                                                          durable=True))
    assert f"access to exchange '{EXCHANGE_NAME}'" in reason, reason
