"""The dead-letter desk (``python -m jumelage.dlq``) over the real broker: list and show
read without removing, retry re-publishes with the same event id through the retry
path, discard removes one with an audit row, and the DLQ depth the metric reads."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select

from jumelage.audit import AuditRecord
from jumelage.db import create_engine
from jumelage.dlq import Desk, audit_trail, main, queue_depth
from jumelage.events import InstitutionRegistered, new_envelope
from jumelage.messaging.topology import Topology
from jumelage.settings import ServiceSettings
from jumelage.testkit.servers import TEST_RETRY_DELAYS
from jumelage.testkit.waiting import eventually


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    return declared_namespace  # the services' topology, declared: the DLQ, its forward exchange, retry queues


def envelope(name: str) -> Any:
    data = InstitutionRegistered(institution_id=uuid.uuid4(), name=name, kind="clinic", country="DZ", city="Blida")
    return new_envelope(data, correlation_id="programme-cnas-2031", causation_id=None)


async def dead_letter(channel: Any, queue: Any, body: bytes, *, message_id: str | None, error: str,
                      attempts: int) -> None:
    """As the consumer leaves one: through the forward exchange, with x-error and x-attempts."""
    forward = await channel.get_exchange(queue.forward_exchange_name)
    await forward.publish(aio_pika.Message(
        body, message_id=message_id, correlation_id="programme-cnas-2031", delivery_mode=2,
        content_type="application/cloudevents+json",
        headers={"x-error": error, "x-attempts": attempts, "x-original-routing-key": "institution.registered"}),
        routing_key=queue.dlq_name)


@pytest.fixture
async def audit_db(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'notification.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: AuditRecord.__table__.create(c))
    await engine.dispose()
    return url


async def audit_rows(url: str) -> list[AuditRecord]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(AuditRecord.__table__))).all())
    finally:
        await engine.dispose()


async def test_list_show_retry_and_discard_dead_letters(
    amqp_url: str, namespace: str, audit_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = Topology(namespace=namespace, retry_delays=TEST_RETRY_DELAYS).service_queue("notification")
    broken, refused = envelope("Broken"), envelope("Refused")
    settings = ServiceSettings(_env_file=None, service_name="notification", amqp_url=amqp_url,
                               topology_namespace=namespace, database_url=audit_db,
                               retry_delays=list(TEST_RETRY_DELAYS))
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await dead_letter(channel, queue, broken.to_json().encode(), message_id=str(broken.id),
                          error="RuntimeError: template missing", attempts=3)
        await dead_letter(channel, queue, refused.to_json().encode(), message_id=str(refused.id),
                          error="rejected: country not served", attempts=1)
        await dead_letter(channel, queue, b"\x00not json", message_id=None, error="not JSON", attempts=1)
        assert await queue_depth(SimpleNamespace(_connection=connection), queue.dlq_name) == 3, "the gauge's reading"

        async with Desk(amqp_url, queue, audit=audit_trail(settings)) as desk:
            listed = await desk.list()
            assert [(x.key, x.event_type, x.attempts, x.reason) for x in listed] == [
                (str(broken.id), "InstitutionRegistered", 3, "RuntimeError: template missing"),
                (str(refused.id), "InstitutionRegistered", 1, "rejected: country not served"),
                (listed[2].key, "unparsable", 1, "not JSON")]
            assert [x.key for x in await desk.list()] == [x.key for x in listed], "listing removes nothing"
            shown = await desk.show(str(broken.id))
            assert shown.correlation_id == "programme-cnas-2031" and shown.routing_key == "institution.registered"
            with pytest.raises(LookupError):
                await desk.show(str(uuid.uuid4()))

            (retried,) = await desk.retry(str(broken.id), by="ops-jdoe")
            assert retried.key == str(broken.id)
            assert [x.key for x in await desk.list()] == [str(refused.id), listed[2].key]

            # Back in the service's queue after the retry queue's TTL: same id and body, full retries again.
            service_queue = await channel.declare_queue(queue.name, passive=True)
            back = await eventually(lambda: service_queue.get(no_ack=True, fail=False))
            assert back.message_id == str(broken.id) and back.body == broken.to_json().encode()
            assert "x-attempts" not in back.headers and "x-error" not in back.headers
            assert back.headers["x-dlq-retried"] == 1

            gone = await desk.discard(listed[2].key, reason="a test message, never an event", by="ops-jdoe")
            assert gone.key == listed[2].key
            with pytest.raises(ValueError, match="reason"):
                await desk.discard(str(refused.id), reason="  ", by="ops-jdoe")

        # The command line: list as JSON, then retry the rest.
        for name, value in {"AMQP_URL": amqp_url, "TOPOLOGY_NAMESPACE": namespace, "DATABASE_URL": audit_db,
                            "RETRY_DELAYS": ",".join(map(str, TEST_RETRY_DELAYS))}.items():
            monkeypatch.setenv(name, value)
        assert await asyncio.to_thread(main, ["list", "--service", "notification", "--json"]) == 0
        (only,) = json.loads(capsys.readouterr().out)
        assert (only["event_id"], only["reason"], only["attempts"]) == (str(refused.id),
                                                                         "rejected: country not served", 1)
        assert await asyncio.to_thread(main, ["retry", "--service", "notification", "--all", "--by", "ops-jdoe"]) == 0
        assert "1 dead letter(s) re-published" in capsys.readouterr().out
        assert await asyncio.to_thread(main, ["show", "--service", "notification", str(refused.id)]) == 1
        assert await queue_depth(SimpleNamespace(_connection=connection), queue.dlq_name) == 0
        await eventually(lambda: service_queue.get(no_ack=True, fail=False))  # the last one, back too

    rows = await audit_rows(audit_db)
    assert [(r.action.split()[1], r.subject, r.roles) for r in rows] == [
        ("retry", "ops-jdoe", "operator"), ("discard", "ops-jdoe", "operator"), ("retry", "ops-jdoe", "operator")]
    assert all(r.action.endswith(queue.dlq_name) for r in rows)
    assert "reason: a test message, never an event" in rows[1].target
    assert json.loads(rows[0].events) == [{"type": "InstitutionRegistered", "id": str(broken.id),
                                           "subject": f"institutions/{broken.data.institution_id}"}]
    assert rows[0].correlation_id == "programme-cnas-2031"
