"""The walking skeleton: an institution registered at the convention service
reaches the scheduling and notification services' own databases over the real
broker, with its correlation id carried end to end."""

from __future__ import annotations

import contextlib

import aio_pika

import convention.app
import notification.app
import scheduling.app
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running_services
from jumelage.testkit.tap import event_tap
from jumelage.testkit.waiting import eventually

SERVICES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}


@contextlib.asynccontextmanager
async def three_services(amqp_url: str, namespace: str, database: Database):
    async with running_services(SERVICES, amqp_url=amqp_url, namespace=namespace, database=database,
                                acting_as=lambda: ActingAs("administrator")) as clients:
        yield clients.values()


async def test_institution_registered_reaches_every_service(amqp_url: str, namespace: str, database: Database) -> None:
    async with event_tap(amqp_url, f"{namespace}jumelage.events") as tap:
        async with three_services(amqp_url, namespace, database) as (conv, sched, notif):
            response = await conv.post(
                "/institutions",
                json={"name": "CMCI Bousmail", "kind": "clinic", "country": "DZ", "city": "Bou Ismail",
                      "wilaya": "Tipaza"},
                headers={"X-Correlation-ID": "programme-cnas-2024"},
            )
            assert response.status_code == 201, response.text
            assert response.headers["x-correlation-id"] == "programme-cnas-2024"
            institution = response.json()

            for client in (sched, notif):
                replica = await eventually(lambda c=client: _known(c, institution["id"]))
                assert replica["name"] == "CMCI Bousmail"
                assert replica["kind"] == "clinic"

            (message,) = tap.messages
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            assert message.content_type == "application/cloudevents+json"
            (event,) = tap.of_type("InstitutionRegistered")
            assert message.message_id == event["id"]
            assert event["data"]["institution_id"] == institution["id"]
            assert event["correlationid"] == "programme-cnas-2024"
            assert event["source"] == "/services/convention"
            assert event["subject"] == f"institutions/{institution['id']}"


async def _known(client, institution_id: str):
    response = await client.get(f"/institutions/{institution_id}")
    return response.json() if response.status_code == 200 else None
