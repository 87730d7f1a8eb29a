"""The scheduling and notification services' replicas of institutions, fed by events published
straight to the exchange (as the convention service's relay would), over the
real broker on SQLite and PostgreSQL: applied once per event id, updated by a
later event about the same institution, documented in AsyncAPI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from sqlalchemy import func, select

import notification.app
import scheduling.app
from jumelage.events import CloudEvent, InstitutionRegistered, InstitutionUpdated, new_envelope
from jumelage.messaging.tables import InboxRecord
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running, service_settings
from jumelage.testkit.waiting import eventually

SERVICES = {"scheduling": scheduling.app, "notification": notification.app}


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    """These tests start a service and look at what its consumer does, not at how
    it declared its topology: a namespace whose topology is already declared
    (``declared_namespace``: 0.3-0.6 s less per test), not a fresh one."""
    return declared_namespace


@pytest.fixture(params=sorted(SERVICES))
async def client(request: pytest.FixtureRequest, amqp_url: str, namespace: str,
                 database: Database) -> AsyncIterator[Any]:
    SERVICE = SERVICES[request.param]  # noqa: N806
    settings = service_settings(
        SERVICE.Settings, amqp_url=amqp_url, namespace=namespace,
        database=await database.for_service(request.param),
        prefetch=1,  # one at a time: once a later event is handled, every earlier one was settled
    )
    async with running(SERVICE.create_app(settings), SERVICE.MIGRATIONS, acting_as=ActingAs("administrator")) as c:
        yield c


async def publish(amqp_url: str, namespace: str, *envelopes: CloudEvent[Any]) -> None:
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()  # publisher confirms: each publish returns once the broker has it
        ex = await ch.get_exchange(f"{namespace}jumelage.events")
        for envelope in envelopes:
            await ex.publish(
                aio_pika.Message(envelope.to_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 content_type="application/cloudevents+json", message_id=str(envelope.id)),
                routing_key=envelope.routing_key,
            )
    finally:
        await conn.close()


def registered(institution_id: uuid.UUID | None = None, name: str = "CMCI Bousmail", **over: Any) -> CloudEvent[Any]:
    data = InstitutionRegistered(
        institution_id=institution_id or uuid.uuid4(), name=name,
        **{"kind": "clinic", "country": "DZ", "city": "Bou Ismail", "wilaya": "Tipaza", **over},
    )
    return new_envelope(data, correlation_id="programme-cnas-2024", causation_id=None)


def corrected_name(institution_id: uuid.UUID) -> CloudEvent[Any]:
    """The convention service's correction of the registration's name, as ``InstitutionUpdated``."""
    data = InstitutionUpdated(institution_id=institution_id, name="CMCI Bousmail", kind="clinic", country="DZ",
                              city="Bou Ismail")
    return new_envelope(data, correlation_id="programme-cnas-2024", causation_id=None)


async def known(client: Any, institution_id: uuid.UUID) -> dict[str, Any] | None:
    response = await client.get(f"/institutions/{institution_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()


async def waiting(amqp_url: str, queue: str) -> int:
    conn = await aio_pika.connect(amqp_url)
    try:
        declared = await (await conn.channel()).declare_queue(queue, passive=True)
        return declared.declaration_result.message_count
    finally:
        await conn.close()


async def count(client: Any, model: Any, *where: Any) -> int:
    async with client.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


async def test_published_institution_appears_in_the_replica(client: Any, amqp_url: str, namespace: str) -> None:
    envelope = registered()
    institution_id = envelope.data.institution_id
    assert await known(client, institution_id) is None

    await publish(amqp_url, namespace, envelope)

    replica = await eventually(lambda: known(client, institution_id))
    assert replica == {"id": str(institution_id), "name": "CMCI Bousmail", "kind": "clinic", "country": "DZ",
                       "city": "Bou Ismail"}
    assert [i["id"] for i in (await client.get("/institutions")).json()] == [str(institution_id)]
    assert await count(client, InboxRecord, InboxRecord.event_id == envelope.id,
                       InboxRecord.consumer == f"{namespace}{client.runtime.name}.events") == 1


async def test_same_event_twice_leaves_one_row_and_one_inbox_row(
    client: Any, amqp_url: str, namespace: str
) -> None:
    envelope = registered()
    sentinel = registered(name="EPH Tiaret", kind="hospital", city="Tiaret", wilaya="Tiaret")
    await publish(amqp_url, namespace, envelope, envelope, sentinel)

    await eventually(lambda: known(client, sentinel.data.institution_id))
    listed = [i["id"] for i in (await client.get("/institutions")).json()]
    assert sorted(listed) == sorted([str(envelope.data.institution_id), str(sentinel.data.institution_id)])
    assert await count(client, InboxRecord, InboxRecord.event_id == envelope.id) == 1
    assert await count(client, InboxRecord) == 2
    # The copy was settled as a duplicate, not failed into a retry or the dead-letter queue.
    assert await waiting(amqp_url, f"{namespace}{client.runtime.name}.events.dlq") == 0
    for retry in client.runtime.queue.retry_queues():
        assert await waiting(amqp_url, retry.name) == 0


async def test_a_later_event_about_the_same_institution_updates_the_replica(
    client: Any, amqp_url: str, namespace: str
) -> None:
    first = registered(name="CMCI Bou Smail")
    institution_id = first.data.institution_id
    await publish(amqp_url, namespace, first)
    await eventually(lambda: known(client, institution_id))

    corrected = registered(institution_id, name="CMCI Bousmail", kind="hospital")
    assert corrected.id != first.id
    await publish(amqp_url, namespace, corrected)

    async def renamed() -> dict[str, Any] | None:
        replica = await known(client, institution_id)
        return replica if replica and replica["name"] == "CMCI Bousmail" else None

    replica = await eventually(renamed)
    assert replica["kind"] == "hospital"
    assert [i["id"] for i in (await client.get("/institutions")).json()] == [str(institution_id)]
    assert await count(client, InboxRecord) == 2


async def test_institution_updated_updates_the_replica(
    client: Any, amqp_url: str, namespace: str
) -> None:
    first = registered(name="CMCI Bou Smail")
    institution_id = first.data.institution_id
    update = corrected_name(institution_id)
    sentinel = registered(name="Sentinel", city="Oran")
    await publish(amqp_url, namespace, first, update, sentinel)
    await eventually(lambda: known(client, sentinel.data.institution_id))
    assert (await known(client, institution_id))["name"] == "CMCI Bousmail"


async def test_an_older_event_arriving_late_does_not_undo_a_later_correction(
    client: Any, amqp_url: str, namespace: str
) -> None:
    """A retry can deliver the registration after the correction that followed it."""
    first = registered(name="CMCI Bou Smail")
    institution_id = first.data.institution_id
    correction = corrected_name(institution_id)
    assert correction.time > first.time
    sentinel = registered(name="Sentinel", city="Oran")
    await publish(amqp_url, namespace, correction, first, sentinel)  # the correction first

    await eventually(lambda: known(client, sentinel.data.institution_id))
    assert (await known(client, institution_id))["name"] == "CMCI Bousmail"
    assert await count(client, InboxRecord, InboxRecord.event_id == first.id) == 1, "handled, not retried"


async def test_asyncapi_names_the_service_queue(client: Any, namespace: str) -> None:
    spec = (await client.get("/asyncapi.json")).json()
    queue = f"{namespace}{client.runtime.name}.events"
    channel = spec["channels"][queue]
    assert channel["bindings"]["amqp"]["is"] == "queue"
    assert channel["bindings"]["amqp"]["queue"]["name"] == queue
    assert "InstitutionRegistered" in channel["description"]
    operation = spec["operations"][queue]
    assert operation["action"] == "receive"
    assert operation["channel"] == {"$ref": f"#/channels/{queue}"}
    # Every routing key the queue is bound with, not only the one FastStream declares it with.
    bound = list(client.runtime.queue.bindings)
    assert len(bound) > 1 and operation["bindings"]["amqp"]["cc"] == bound
    assert channel["address"] == queue
    receivers = [k for k, op in spec["operations"].items() if op["action"] == "receive"]
    assert receivers == [queue, f"{queue}.dlq"], "one subscriber, the service's own queue, and its dead letters"
    # What it receives: one message per event type it handles, each a CloudEvents envelope.
    handled = {cls.event_type for cls in client.runtime.handled}
    assert set(channel["messages"]) == handled and "InstitutionRegistered" in handled
    message = spec["components"]["messages"]["InstitutionRegistered"]
    assert message["contentType"] == "application/cloudevents+json"
    assert message["payload"] == {"$ref": "#/components/schemas/InstitutionRegisteredEvent"}
    assert "CloudEvents 1.0" in spec["components"]["schemas"]["InstitutionRegisteredEvent"]["description"]
