"""HTTP event subscriptions (``jumelage.subscriptions``, after FHIR's topic-based
subscriptions) on the convention service, over the real broker, on SQLite and
PostgreSQL: a partner with the role ``subscriber`` subscribes to a topic, the counter
goes up by one per matching event, each pulled with its number and its original
CloudEvent; a gap (events pruned past the window) shows in the numbers; a pull that
finds nothing gets a heartbeat with the counter; access is the owner's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import convention.app
from jumelage.messaging.tables import OutboxRecord
from jumelage.subscriptions import prune_numbers
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import outbox_drained, running, service_settings
from jumelage.testkit.waiting import eventually

PARTNER = {"subject": "his-oran"}


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    return declared_namespace


@pytest.fixture
async def client(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[Any]:
    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"),
                                subscription_match_seconds=0.1, subscription_settle_seconds=0.2)
    async with running(convention.app.create_app(settings), convention.app.MIGRATIONS,
                       acting_as=ActingAs("administrator")) as c:
        yield c


async def register(client: Any, name: str) -> str:
    with client.auth.acting("administrator"):
        response = await client.post("/institutions", json={"name": name, "kind": "clinic", "country": "DZ",
                                                            "city": "Oran"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def pull(client: Any, subscription: str, since: int, **params: Any) -> dict[str, Any]:
    with client.auth.acting("subscriber", **PARTNER):
        response = await client.get(f"/subscriptions/{subscription}/events", params={"since": since, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_counter_goes_up_by_one_per_event_a_gap_shows_and_a_heartbeat_comes(client: Any) -> None:
    with client.auth.acting("subscriber", **PARTNER):
        created = await client.post("/subscriptions", json={"topic": ["institution.*"], "heartbeat_period": 1,
                                                            "description": "HIS of CHU Oran"})
        other = await client.post("/subscriptions", json={"topic": ["convention.*"], "heartbeat_period": 5})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["type"], body["status"], body["events_since_subscription_start"]) == ("handshake", "active", 0)
    sid = body["id"]

    ids = [await register(client, name) for name in ("CHU Oran", "EPH Tiaret", "EHU Oran")]
    await outbox_drained(client.runtime)
    async with client.runtime.sessions() as s:
        published = list((await s.execute(select(OutboxRecord.event_id, OutboxRecord.event_type)
                                          .order_by(OutboxRecord.seq))).all())

    notification = await eventually(lambda: _with(pull(client, sid, 0, wait=5), 3))
    assert notification["type"] == "event-notification"
    assert [e["event_number"] for e in notification["events"]] == [1, 2, 3]
    assert [e["event"]["id"] for e in notification["events"]] == [str(p.event_id) for p in published]
    assert [e["event"]["data"]["institution_id"] for e in notification["events"]] == ids
    assert notification["events_since_subscription_start"] == 3
    page = await pull(client, sid, 1, limit=1)
    assert [e["event_number"] for e in page["events"]] == [2], "since and limit page through the numbers"

    with client.auth.acting("subscriber", **PARTNER):
        status = (await client.get(f"/subscriptions/{sid}")).json()
        untouched = (await client.get(f"/subscriptions/{other.json()['id']}")).json()
    assert (status["type"], status["events_since_subscription_start"]) == ("query-status", 3)
    assert untouched["events_since_subscription_start"] == 0, "not its topic"

    # Nothing new: a pull that waits gets a heartbeat with the counter after the heartbeat period.
    began = time.monotonic()
    heartbeat = await pull(client, sid, 3, wait=30)
    assert time.monotonic() - began < 10
    assert (heartbeat["type"], heartbeat["events"], heartbeat["events_since_subscription_start"]) == (
        "heartbeat", [], 3)

    # The partner had read number 1 when the window passed over 2 and 3: the next number shows the gap.
    await prune_numbers(client.runtime.sessions, now=datetime.now(UTC) + timedelta(days=8), keep_days=7)
    await register(client, "CHU Tlemcen")
    after = await eventually(lambda: _with(pull(client, sid, 1, wait=5), 1))
    assert [e["event_number"] for e in after["events"]] == [4]
    assert after["events_since_subscription_start"] == 4
    assert after["events"][0]["event_number"] > 1 + 1, "a gap the partner can see: 2 and 3 missed"


async def _with(pending: Any, count: int) -> dict[str, Any] | None:
    notification = await pending
    return notification if len(notification["events"]) >= count else None


async def test_a_subscription_is_its_owners_and_its_topic_is_checked(client: Any) -> None:
    with client.auth.acting("subscriber", **PARTNER):
        sid = (await client.post("/subscriptions", json={"topic": ["#"]})).json()["id"]
        bad = await client.post("/subscriptions", json={"topic": ["institution.reg*stered"]})
        empty = await client.post("/subscriptions", json={"topic": []})
        missing = await client.get("/subscriptions/00000000-0000-4000-8000-000000000000/events")
        mine = (await client.get("/subscriptions")).json()
    assert bad.status_code == 422 and "routing-key pattern" in bad.text
    assert empty.status_code == 422
    assert missing.status_code == 404
    assert [s["id"] for s in mine["items"]] == [sid]
    with client.auth.acting("subscriber", subject="someone-else"):
        refused = await client.get(f"/subscriptions/{sid}/events")
        assert (await client.get("/subscriptions")).json()["items"] == []
        assert (await client.delete(f"/subscriptions/{sid}")).status_code == 403
    assert refused.status_code == 403 and "may not read the events of" in refused.json()["detail"]
    with client.auth.acting("coordinator", institution="00000000-0000-4000-8000-000000000001"):
        assert (await client.post("/subscriptions", json={"topic": ["#"]})).status_code == 403
    with client.auth.acting("administrator"):
        assert len((await client.get("/subscriptions")).json()["items"]) == 1
    with client.auth.acting("subscriber", **PARTNER):
        assert (await client.delete(f"/subscriptions/{sid}")).status_code == 204
        assert (await client.get(f"/subscriptions/{sid}")).status_code == 404
