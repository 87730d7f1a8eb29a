"""Idempotency-Key on the notification desk's API, on SQLite and PostgreSQL: a
contact created, subscribed and deleted by requests sent twice (a double click, a
retry): one effect each and the first answer, DELETE included."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import notification.app


@pytest.fixture
async def h(notification_service: Any) -> Any:
    async with notification_service() as harness:
        yield harness


async def twice(h: Any, method: str, url: str, key: str, **kw: Any) -> tuple[Any, Any]:
    first, again = [await h.client.request(method, url, headers={"Idempotency-Key": key}, **kw) for _ in range(2)]
    assert first.status_code == again.status_code, (first.text, again.text)
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    return first, again


async def test_requests_sent_again_with_their_key_have_one_effect(h: Any) -> None:
    body = {"kind": "institution", "institution_id": str(uuid.uuid4()), "email": "direction@cmci.dz"}
    created, _ = await twice(h, "POST", "/contacts", "contact-1", json=body)
    assert created.status_code == 201
    assert (await h.client.get("/contacts")).json()["total"] == 1
    assert (await h.client.post("/contacts", json=body)).status_code == 409  # without a key: a second one

    base = f"/contacts/{created.json()['id']}/subscriptions"
    subscribed, _ = await twice(h, "POST", base, "subscribe-1", json={"event_type": "ConventionSuspended"})
    assert subscribed.status_code == 201 and len((await h.client.get(base)).json()) == 1

    other = await h.client.post(base, json={"event_type": "MissionScheduled"},
                                headers={"Idempotency-Key": "subscribe-1"})
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    deleted, _ = await twice(h, "DELETE", f"/contacts/{created.json()['id']}", "delete-1")
    assert deleted.status_code == 204
    assert (await h.client.delete(f"/contacts/{created.json()['id']}")).status_code == 404  # without: not found


def test_every_changing_route_takes_an_idempotency_key_and_no_other() -> None:
    spec = notification.app.create_app(notification.app.Settings()).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
            keyed = [p for p in headers if p["name"] == "Idempotency-Key" and not p["required"]]
            assert len(keyed) == (method.upper() in {"POST", "PUT", "PATCH", "DELETE"}), (method, path)
