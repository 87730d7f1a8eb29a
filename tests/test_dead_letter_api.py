"""The dead-letter desk over HTTP (``/dead-letters`` on every service: the web app's page calls
it), on the real broker and both databases: the same desk as ``python -m jumelage.dlq``,
administrators only, each retry and discard audited as the administrator who did it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select

import convention.app
from jumelage.audit import AuditRecord
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running, service_settings
from jumelage.testkit.waiting import eventually


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    return declared_namespace


@pytest.fixture
async def client(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[Any]:
    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"))
    async with running(convention.app.create_app(settings), convention.app.MIGRATIONS,
                       acting_as=ActingAs("administrator", subject="ops-nadia")) as c:
        yield c


async def dead_letter(amqp_url: str, queue: str, body: bytes, message_id: str | None, error: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        forward = await channel.get_exchange(f"{queue}.forward")
        await forward.publish(aio_pika.Message(body, message_id=message_id, correlation_id="desk-over-http",
                                               delivery_mode=2, headers={"x-error": error, "x-attempts": 4}),
                              routing_key=f"{queue}.dlq")


async def test_list_show_retry_and_discard_over_http(client: Any, amqp_url: str, namespace: str) -> None:
    queue = f"{namespace}convention.events"
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    body = json.dumps({"specversion": "1.0", "id": first, "type": "SurgeryCompleted"}).encode()
    await dead_letter(amqp_url, queue, body, first, "RuntimeError: progress table locked")
    await dead_letter(amqp_url, queue, b"\x00not json", second, "not JSON")

    listed = (await client.get("/dead-letters")).json()
    assert (listed["queue"], listed["dlq"], listed["total"]) == (queue, f"{queue}.dlq", 2)
    assert [(d["event_id"], d["attempts"], d["reason"]) for d in listed["items"]] == [
        (first, 4, "RuntimeError: progress table locked"), (second, 4, "not JSON")]
    shown = (await client.get(f"/dead-letters/{first}")).json()
    assert shown["event"]["id"] == first and shown["headers"]["x-error"] == "RuntimeError: progress table locked"
    assert (await client.get(f"/dead-letters/{second}")).json()["event"] == "\x00not json"
    assert (await client.get(f"/dead-letters/{uuid.uuid4()}")).status_code == 404

    blank = await client.post(f"/dead-letters/{second}/discard", json={"reason": "   "})
    assert blank.status_code == 422
    assert (await client.post(f"/dead-letters/{uuid.uuid4()}/discard", json={"reason": "x"})).status_code == 404
    with client.auth.acting("coordinator", institution=str(uuid.uuid4())):
        refused = await client.post(f"/dead-letters/{second}/retry")
    assert refused.status_code == 403 and "may not run the dead-letter desk" in refused.json()["detail"]

    gone = await client.post(f"/dead-letters/{second}/discard", json={"reason": "garbage from a test client"})
    assert gone.status_code == 200 and gone.json()["event_id"] == second
    retried = await client.post(f"/dead-letters/{first}/retry")
    assert [d["event_id"] for d in retried.json()["retried"]] == [first]

    # Back in the service queue with its id; the service's consumer takes it and dead-letters it again
    # (it is no valid event: what a retry of a letter whose cause is not fixed does), the desk's mark on it.
    async def dead_again() -> dict[str, Any] | None:
        letter = await client.get(f"/dead-letters/{first}")
        return letter.json() if letter.status_code == 200 and letter.json()["headers"].get("x-dlq-retried") else None

    again = await eventually(dead_again)
    assert again["headers"]["x-dlq-retried"] == 1 and again["event"]["id"] == first
    assert [d["event_id"] for d in (await client.get("/dead-letters")).json()["items"]] == [first]
    async with client.runtime.sessions() as s:
        rows = list((await s.execute(select(AuditRecord.__table__).where(AuditRecord.action.like("DLQ %"))
                                     .order_by(AuditRecord.seq))).all())
    assert [(r.action.split()[1], r.subject, r.roles) for r in rows] == [
        ("discard", "ops-nadia", "administrator"), ("retry", "ops-nadia", "administrator")]
    assert "reason: garbage from a test client" in rows[0].target and rows[1].target == first
    assert rows[1].correlation_id == "desk-over-http"
