"""Idempotency-Key over HTTP and the real broker, on SQLite and PostgreSQL: a
mission scheduled twice by a double click, a patient case registered by
concurrent retries, a surgery cancelled again: one effect, one event, the
first answer."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

import scheduling.app

from jumelage.messaging.tables import OutboxRecord
from scheduling_testkit import CMCI, Scheduling


async def outbox(s: Scheduling, event_type: str) -> int:
    async with s.client.runtime.sessions() as session:  # type: ignore[attr-defined]
        return (await session.execute(select(func.count()).select_from(OutboxRecord)
                                      .where(OutboxRecord.event_type == event_type))).scalar_one()


async def test_requests_sent_again_with_their_key_have_one_effect(programme: Scheduling) -> None:
    s = programme
    body = s.mission_body()
    with s.client.auth.acting("coordinator", institution=CMCI):
        first, again = [await s.client.post("/missions", json=body, headers={"Idempotency-Key": "mission-1"})
                        for _ in range(2)]
    assert first.status_code == again.status_code == 201, again.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert len(await s.ok("GET", "/missions")) == 1
    await s.wait("MissionScheduled")
    assert await outbox(s, "MissionScheduled") == 1

    case = s.case_body()
    with s.client.auth.acting("clinician", institution=CMCI):
        answers = await asyncio.gather(*(s.client.post(f"/institutions/{CMCI}/cases", json=case,
                                                       headers={"Idempotency-Key": "case-1"}) for _ in range(4)))
        registered = [r for r in answers if r.status_code == 201]
        assert registered and {r.status_code for r in answers} <= {201, 409}  # 409: while the first ran
        assert len({r.content for r in registered}) == 1
        assert len((await s.client.get(f"/institutions/{CMCI}/cases")).json()) == 1
        # Without a key the same body is another case: the key made the difference.
        assert (await s.client.post(f"/institutions/{CMCI}/cases", json=case)).status_code == 201

    room = await s.room()
    surgery = await s.surgery(first.json(), registered[0].json(), room)
    cancel = {"reason": "Fièvre"}
    cancelled = [await s.client.post(f"/surgeries/{surgery['id']}/cancel", json=cancel,
                                     headers={"Idempotency-Key": "cancel-1"}) for _ in range(2)]
    assert [r.status_code for r in cancelled] == [200, 200] and cancelled[0].content == cancelled[1].content
    assert (await s.client.post(f"/surgeries/{surgery['id']}/cancel", json=cancel)).status_code == 409
    await s.wait("SurgeryCancelled")
    assert await outbox(s, "SurgeryCancelled") == 1

    s.clock.advance(hours=24)  # expired: the key is new, the domain answers
    anew = await s.client.post(f"/surgeries/{surgery['id']}/cancel", json=cancel,
                               headers={"Idempotency-Key": "cancel-1"})
    assert anew.status_code == 409 and "idempotent-replayed" not in anew.headers


def test_every_changing_route_takes_an_idempotency_key_and_no_other() -> None:
    spec = scheduling.app.create_app(scheduling.app.Settings()).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
            keyed = [p for p in headers if p["name"] == "Idempotency-Key" and not p["required"]]
            assert len(keyed) == (method.upper() in {"POST", "PUT", "PATCH", "DELETE"}), (method, path)
