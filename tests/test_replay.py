"""Replay for a subscriber that lost its queue (``python -m jumelage.replay``), over the real
broker on SQLite and PostgreSQL: the scheduling service's queue is deleted while it is
down, the convention service goes on publishing, and a replay since a sequence number
gives the new queue each missing event once, with its original id (the one already
handled is dropped by the inbox); a start before the replay window is refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from sqlalchemy import select

import convention.app
import scheduling.app
from jumelage.audit import AuditRecord
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.replay import OutsideWindow, main, replay, seq_of
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import deliveries, handled, outbox_drained, running, service_settings
from jumelage.testkit.waiting import eventually

INSTITUTIONS = [
    {"name": "CNAS", "kind": "insurer", "country": "DZ", "city": "Alger"},
    {"name": "Gruppo San Donato", "kind": "hospital_group", "country": "IT", "city": "Milano"},
    {"name": "CMCI Bousmail", "kind": "clinic", "country": "DZ", "city": "Bou Ismail", "wilaya": "Tipaza"},
    {"name": "CHU Oran", "kind": "university_hospital", "country": "DZ", "city": "Oran", "wilaya": "Oran"},
    {"name": "EPH Tiaret", "kind": "hospital", "country": "DZ", "city": "Tiaret", "wilaya": "Tiaret"},
]


@pytest.fixture
async def stack(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[dict[str, Any]]:
    conv = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                            database=await database.for_service("convention"))
    sched = service_settings(scheduling.app.Settings, amqp_url=amqp_url, namespace=namespace,
                             database=await database.for_service("scheduling"), prefetch=1)
    async with running(convention.app.create_app(conv), convention.app.MIGRATIONS,
                       acting_as=ActingAs("administrator")) as client:
        yield {"convention": client, "scheduling_settings": sched, "convention_settings": conv}


async def register(client: Any, body: dict[str, Any]) -> str:
    response = await client.post("/institutions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def outbox(client: Any) -> list[Any]:
    async with client.runtime.sessions() as s:
        return list((await s.execute(select(OutboxRecord.__table__).order_by(OutboxRecord.seq))).all())


async def test_a_subscriber_that_lost_its_queue_gets_each_missing_event_once(
    stack: dict[str, Any], amqp_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    conv, sched_settings = stack["convention"], stack["scheduling_settings"]
    queue = f"{namespace}scheduling.events"
    async with running(scheduling.app.create_app(sched_settings), scheduling.app.MIGRATIONS,
                       acting_as=ActingAs("administrator")) as sched:
        first = [await register(conv, body) for body in INSTITUTIONS[:2]]
        await outbox_drained(conv.runtime)
        await handled(sched.runtime, [r.event_id for r in await outbox(conv)])

    # The subscriber is down and its queue is lost; the publisher goes on.
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
    later = [await register(conv, body) for body in INSTITUTIONS[2:]]
    await outbox_drained(conv.runtime)
    rows = await outbox(conv)
    assert len(rows) == 5 and all(r.published_at is not None for r in rows)

    async with running(scheduling.app.create_app(sched_settings), scheduling.app.MIGRATIONS,
                       acting_as=ActingAs("administrator")) as sched:  # its queue declared again, empty
        for institution in later:
            assert (await sched.get(f"/institutions/{institution}")).status_code == 404, "lost with the queue"
        since = rows[0].seq  # the second event was handled already: its copy must be dropped
        settings = stack["convention_settings"]
        env = {"AMQP_URL": amqp_url, "TOPOLOGY_NAMESPACE": namespace, **_database_env(settings)}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with deliveries() as seen:
            assert await asyncio.to_thread(main, [
                "--service", "convention", "--since-seq", str(since), "--queue", queue,
                "--by", "ops-jdoe", "--json"]) == 0
            # The services in this process log to the same stdout, before and after the command's JSON.
            out = capsys.readouterr().out
            done, _ = json.JSONDecoder().raw_decode(out, out.rindex('{\n  "queue"'))
            assert (done["count"], done["first_seq"], done["last_seq"]) == (4, rows[1].seq, rows[4].seq)
            await handled(sched.runtime, [r.event_id for r in rows[2:]])
            replayed = {str(r.event_id): 1 for r in rows[1:]}
            await eventually(lambda: seen.all_finished(replayed))
            await eventually(lambda: seen.settled(amqp_url, [queue]))
        assert dict(seen.finished) == replayed, "each replayed event delivered once, with its original id"
        async with sched.runtime.sessions() as s:
            inbox = list(await s.scalars(select(InboxRecord.event_id).where(InboxRecord.consumer == queue)))
        assert sorted(map(str, inbox)) == sorted(str(r.event_id) for r in rows), "each event handled once"
        for institution in [*first, *later]:
            assert (await sched.get(f"/institutions/{institution}")).status_code == 200

    async with conv.runtime.sessions() as s:
        (audit,) = (await s.execute(select(AuditRecord.__table__).where(AuditRecord.action.like("REPLAY%")))).all()
    assert (audit.subject, audit.roles) == ("ops-jdoe", "operator")
    assert f"{queue} since seq {since}" in audit.target and "4 event(s)" in audit.target


async def test_a_replay_from_before_the_window_is_refused(stack: dict[str, Any], amqp_url: str,
                                                          namespace: str) -> None:
    conv = stack["convention"]
    connection = await aio_pika.connect(amqp_url)
    async with connection:  # what a subscriber sees: each event with its outbox sequence number
        channel = await connection.channel()
        watch = await channel.declare_queue("", exclusive=True)
        await watch.bind(f"{namespace}jumelage.events", routing_key="institution.*")
        await register(conv, INSTITUTIONS[0])
        await register(conv, INSTITUTIONS[1])
        await outbox_drained(conv.runtime)
        rows = await outbox(conv)
        seen = [await eventually(lambda: watch.get(no_ack=True, fail=False)) for _ in rows]
    assert [(m.message_id, m.headers["x-outbox-seq"]) for m in seen] == [(str(r.event_id), r.seq) for r in rows]
    queue = f"{namespace}notification.events"
    with pytest.raises(OutsideWindow, match="replay window"):
        await replay(conv.runtime.sessions, amqp_url, queue=queue, since=datetime.now(UTC) - timedelta(days=8),
                     keep_days=7)
    async with conv.runtime.sessions() as s, s.begin():  # the first row pruned
        await s.execute(OutboxRecord.__table__.delete().where(OutboxRecord.seq == rows[0].seq))
    with pytest.raises(OutsideWindow, match=f"from sequence number {rows[1].seq}"):
        await replay(conv.runtime.sessions, amqp_url, queue=queue, since_seq=0, keep_days=7)
    with pytest.raises(LookupError, match="no queue"):
        await replay(conv.runtime.sessions, amqp_url, queue=f"{namespace}nobody.events", since_seq=rows[0].seq,
                     keep_days=7)
    done = await replay(conv.runtime.sessions, amqp_url, queue=queue, since_seq=rows[0].seq, keep_days=7,
                        patterns=["convention.*"])
    assert done.count == 0, "the filter: no convention event"

    # After an event named by its id (the last one a subscriber handled): the ones after it.
    async with conv.runtime.sessions() as s:
        assert await seq_of(s, rows[1].event_id) == rows[1].seq
        with pytest.raises(LookupError, match="replay window"):
            await seq_of(s, rows[0].event_id)  # pruned above
    with pytest.raises(SystemExit):
        main(["--service", "convention", "--after-event", "not-an-id", "--queue", queue, "--by", "ops"])


def _database_env(settings: Any) -> dict[str, str]:
    env = {"DATABASE_URL": settings.database_url or ""}
    if settings.database_schema:
        env["DATABASE_SCHEMA"] = settings.database_schema
    return env
