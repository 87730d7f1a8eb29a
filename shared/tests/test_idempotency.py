"""Idempotency-Key on a tiny service built by ``ServiceRuntime``: a request sent
again with the same key has one effect (one row, one outbox event) and the first
answer; the same key elsewhere is a 422, a repeat while the first runs a 409; keys
are per caller, expire by the service clock, and survive a crash on either side
of the commit without doubling anything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import pytest
from effects import Effect, bump, count_rows, effect_of
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel
from sqlalchemy import select

from jumelage import idempotency
from jumelage.audit import AuditRecord
from jumelage.auth import TokenVerifier
from jumelage.clock import FixedClock
from jumelage.db import UnitOfWork
from jumelage.errors import Conflict
from jumelage.events import InstitutionRegistered
from jumelage.idempotency import HEADER, IdempotencyRecord, KeyState
from jumelage.messaging.tables import InboxRecord, OutboxRecord
from jumelage.service import ServiceRuntime, unit_of_work
from jumelage.settings import ServiceSettings
from jumelage.testkit.client import TEST_AUTH_SECRET, bearer
from jumelage.testkit.servers import Database
from jumelage.testkit.waiting import eventually

NOW = datetime(2024, 5, 26, 8, 0, tzinfo=UTC)
UoW = Annotated[UnitOfWork, Depends(unit_of_work)]


class Note(BaseModel):
    text: str = "CMCI Bousmail"


class Gate:
    """Holds each request to the slow route at a door of its own until the test opens it."""

    def __init__(self) -> None:
        self.doors: list[asyncio.Event] = []

    async def wait(self) -> None:
        door = asyncio.Event()
        self.doors.append(door)
        await door.wait()

    async def reached(self, count: int) -> None:
        await eventually(lambda: len(self.doors) >= count)


def effects_router(gate: Gate) -> APIRouter:
    router = APIRouter(prefix="/effects")

    async def register(uow: UnitOfWork, key: str, note: Note) -> int:
        async with uow:
            count = await bumped(uow, key)
            uow.record(InstitutionRegistered(institution_id=uuid.uuid4(), name=note.text, kind="clinic",
                                             country="DZ", city="Bou Ismail"))
            await uow.commit()
        return count

    async def bumped(uow: UnitOfWork, key: str) -> int:
        await bump(uow, key)
        await uow.session.flush()
        row = await uow.session.get(Effect, key)
        assert row is not None
        return row.count

    @router.post("/{key}", status_code=201)
    async def create(key: str, note: Note, uow: UoW, response: Response) -> dict[str, Any]:
        count = await register(uow, key, note)
        response.headers["Location"] = f"/effects/{key}"
        response.headers["ETag"] = f'"{count}"'
        return {"key": key, "count": count, "id": str(uuid.uuid4())}

    @router.post("/{key}/slow", status_code=201)
    async def slow(key: str, note: Note, uow: UoW) -> dict[str, Any]:
        await gate.wait()
        return {"count": await register(uow, key, note)}

    @router.post("/{key}/refused")
    async def refused(key: str, uow: UoW) -> None:
        async with uow:
            await bump(uow, key)
            raise Conflict(f"effect {key} refused ({uuid.uuid4()})")  # nothing committed

    @router.post("/{key}/fails-before-commit")
    async def fails_before(key: str, uow: UoW) -> None:
        async with uow:
            await bump(uow, key)
            raise RuntimeError("a bug before the commit")

    @router.post("/{key}/fails-after-commit")
    async def fails_after(key: str, note: Note, uow: UoW) -> None:
        await register(uow, key, note)
        raise RuntimeError("a bug after the commit")  # as if the process died before answering

    @router.get("/{key}")
    async def read(key: str, uow: UoW) -> dict[str, Any]:
        async with uow:
            row = await uow.session.get(Effect, key)
        return {"count": row.count if row else 0}

    @router.patch("/{key}")
    async def touch(key: str, uow: UoW) -> dict[str, Any]:
        async with uow:
            count = await bumped(uow, key)
            await uow.commit()
        return {"count": count}

    return router


class Service:
    def __init__(self, app: Any, client: httpx.AsyncClient, gate: Gate, clock: FixedClock) -> None:
        self.app, self.runtime, self.client, self.gate, self.clock = app, app.state.runtime, client, gate, clock

    async def post(self, path: str, key: str | None = "k-1", body: dict[str, Any] | None = None,
                   subject: str = "coordinator-oran", **kw: Any) -> httpx.Response:
        headers = {**bearer("coordinator", subject=subject), **({HEADER: key} if key is not None else {})}
        return await self.client.post(path, json=body if body is not None else {"text": "CMCI Bousmail"},
                                      headers=headers, **kw)

    async def count(self, key: str) -> int:
        return await effect_of(self.runtime.sessions, key)

    async def events(self) -> int:
        return await count_rows(self.runtime.sessions, OutboxRecord)

    async def keys(self) -> list[IdempotencyRecord]:
        async with self.runtime.sessions() as s:
            return list((await s.execute(select(IdempotencyRecord))).scalars())


@pytest.fixture
async def service(database: Database, tmp_path: Any) -> AsyncIterator[Service]:
    settings = ServiceSettings(service_name="effects", auth_secret=TEST_AUTH_SECRET, data_dir=tmp_path,
                               **database.settings())
    clock = FixedClock(NOW)
    runtime = ServiceRuntime(settings, clock=clock)
    gate = Gate()
    app = runtime.create_app([effects_router(gate)])
    runtime.verifier = TokenVerifier(settings)  # no lifespan: no broker needed here
    async with runtime.engine.begin() as conn:
        for model in (Effect, OutboxRecord, InboxRecord, AuditRecord, IdempotencyRecord):
            await conn.run_sync(model.__table__.create)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://effects") as client:
            yield Service(app, client, gate, clock)
    finally:
        await runtime.engine.dispose()


async def test_the_same_request_twice_has_one_effect_and_the_first_answer(service: Service) -> None:
    first = await service.post("/effects/a")
    again = await service.post("/effects/a")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content  # the same body (its random id included): not run again
    for name in ("content-type", "location", "etag"):
        assert again.headers[name] == first.headers[name]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await service.count("a") == 1 and await service.events() == 1
    async with service.runtime.sessions() as s:
        assert len((await s.execute(select(AuditRecord))).all()) == 1
    [row] = await service.keys()
    assert (row.subject, row.key, row.state, row.method, row.path) == (
        "coordinator-oran", "k-1", KeyState.done, "POST", "/effects/a")


async def test_without_a_key_each_request_has_its_effect(service: Service) -> None:
    for _ in range(2):
        r = await service.post("/effects/a", key=None)
        assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    assert await service.count("a") == 2 and await service.events() == 2
    assert await service.keys() == []


async def test_the_same_key_on_another_request_is_a_422_naming_the_header(service: Service) -> None:
    assert (await service.post("/effects/a")).status_code == 201
    other_body = await service.post("/effects/a", body={"text": "EPH Tiaret"})
    other_path = await service.post("/effects/b")
    for r in (other_body, other_path):
        assert r.status_code == 422
        [error] = r.json()["detail"]
        assert error["loc"] == ["header", HEADER] and "another request" in error["msg"]
    assert await service.count("a") == 1 and await service.count("b") == 0 and await service.events() == 1


async def test_keys_are_per_caller(service: Service) -> None:
    oran = await service.post("/effects/a", subject="coordinator-oran")
    tiaret = await service.post("/effects/a", subject="coordinator-tiaret")
    assert oran.status_code == tiaret.status_code == 201
    assert "idempotent-replayed" not in tiaret.headers
    assert await service.count("a") == 2 and await service.events() == 2


async def test_a_repeat_while_the_first_runs_is_a_409_then_the_first_answer(service: Service) -> None:
    first = asyncio.create_task(service.post("/effects/a/slow"))
    await service.gate.reached(1)
    during = await asyncio.wait_for(service.post("/effects/a/slow"), 15)
    assert during.status_code == 409 and during.headers["retry-after"] == "1"
    assert "still being carried out" in during.json()["detail"]
    service.gate.doors[0].set()
    done = await asyncio.wait_for(first, 15)
    after = await asyncio.wait_for(service.post("/effects/a/slow"), 15)
    assert done.status_code == after.status_code == 201 and after.content == done.content
    assert await service.count("a") == 1 and await service.events() == 1


async def test_concurrent_identical_requests_have_one_effect(service: Service) -> None:
    answers = await asyncio.gather(*(service.post("/effects/a") for _ in range(8)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
    created = [r for r in answers if r.status_code == 201]
    assert len({r.content for r in created}) == 1  # a first answer and its replays
    assert await service.count("a") == 1 and await service.events() == 1


async def test_an_expired_key_acts_as_new(service: Service) -> None:
    assert (await service.post("/effects/a")).status_code == 201
    service.clock.advance(hours=23, minutes=59)
    assert (await service.post("/effects/a")).headers.get("idempotent-replayed") == "true"
    service.clock.advance(minutes=1)  # 24 h: IDEMPOTENCY_KEY_HOURS' default
    anew = await service.post("/effects/a", body={"text": "another body is fine now"})
    assert anew.status_code == 201 and "idempotent-replayed" not in anew.headers
    assert await service.count("a") == 2 and await service.events() == 2


async def test_how_long_keys_are_kept_is_configured(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_KEY_HOURS", "2")
    service.runtime.settings = ServiceSettings(**service.runtime.settings.model_dump(exclude={"idempotency_key_hours"}))
    assert service.runtime.settings.idempotency_key_hours == 2
    assert (await service.post("/effects/a")).status_code == 201
    service.clock.advance(hours=1, minutes=59)
    assert (await service.post("/effects/a")).headers.get("idempotent-replayed") == "true"
    service.clock.advance(minutes=1)
    assert "idempotent-replayed" not in (await service.post("/effects/a")).headers
    assert await service.count("a") == 2


async def test_the_periodic_job_deletes_expired_keys_only(service: Service) -> None:
    await service.post("/effects/a", key="old")
    service.clock.advance(hours=12)
    await service.post("/effects/a", key="young")
    service.clock.advance(hours=12)
    [job] = [p for p in service.runtime.periodic if p.name == "expire-idempotency-keys"]
    await job.job(service.runtime.unit_of_work())
    assert [row.key for row in await service.keys()] == ["young"]


async def test_a_4xx_is_kept_as_the_first_answer(service: Service) -> None:
    first = await service.post("/effects/a/refused")
    again = await service.post("/effects/a/refused")
    assert first.status_code == again.status_code == 409
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert await service.count("a") == 0 and await service.events() == 0


async def test_a_failure_before_the_commit_releases_the_key(service: Service) -> None:
    assert (await service.post("/effects/a/fails-before-commit")).status_code == 500
    assert await service.keys() == []  # released: the retry runs
    assert (await service.post("/effects/a/fails-before-commit")).status_code == 500
    assert await service.count("a") == 0


async def test_a_failure_after_the_commit_is_never_run_again(service: Service) -> None:
    assert (await service.post("/effects/a/fails-after-commit")).status_code == 500
    retry = await service.post("/effects/a/fails-after-commit")
    assert retry.status_code == 409 and "was carried out" in retry.json()["detail"]
    assert "read the resource" in retry.json()["detail"]
    assert await service.count("a") == 1 and await service.events() == 1
    [row] = await service.keys()
    assert row.state == KeyState.committed and row.response_status is None


async def test_a_service_that_stopped_after_the_commit_never_runs_the_request_again(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def stopped(self: Any, *_: Any) -> None:  # as if the process died before storing the response
        self.finished = True

    with monkeypatch.context() as m:
        m.setattr(idempotency.KeyedRequest, "finish", stopped)
        assert (await service.post("/effects/a")).status_code == 201
    during = await service.post("/effects/a")
    assert during.status_code == 409 and during.headers["retry-after"] == "1"  # within its lease: wait
    later = datetime.now(UTC) + timedelta(seconds=61)
    monkeypatch.setattr(idempotency, "wall_clock", lambda: later)
    after = await service.post("/effects/a")
    assert after.status_code == 409 and "read the resource" in after.json()["detail"]
    assert await service.count("a") == 1 and await service.events() == 1


async def test_a_key_left_by_a_request_that_died_is_taken_over_once_its_lease_runs_out(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = asyncio.create_task(service.post("/effects/a/slow"))  # stands for a request that hangs
    await service.gate.reached(1)
    assert (await asyncio.wait_for(service.post("/effects/a/slow"), 15)).status_code == 409  # its lease runs

    later = datetime.now(UTC) + timedelta(seconds=61)  # IDEMPOTENCY_LEASE_SECONDS' default, run out
    monkeypatch.setattr(idempotency, "wall_clock", lambda: later)
    second = asyncio.create_task(service.post("/effects/a/slow"))
    await service.gate.reached(2)  # the retry took the key over
    service.gate.doors[0].set()  # the first one wakes up and tries to commit
    late = await asyncio.wait_for(first, 15)
    service.gate.doors[1].set()
    retry = await asyncio.wait_for(second, 15)

    assert (retry.status_code, late.status_code) == (201, 409)
    assert "took the key over" in late.json()["detail"]  # its commit refused: nothing doubled
    assert await service.count("a") == 1 and await service.events() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "two words", "é".encode()])
async def test_a_malformed_key_is_a_422_naming_the_header(service: Service, key: Any) -> None:
    r = await service.post("/effects/a", key=key)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["header", HEADER]
    assert await service.count("a") == 0


async def test_every_changing_route_documents_the_header_and_no_other(service: Service) -> None:
    spec = service.app.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
            assert (HEADER in names) == (method.upper() in idempotency.CHANGING), (method, path)
    [param] = [p for p in spec["paths"]["/effects/{key}"]["post"]["parameters"] if p["name"] == HEADER]
    assert not param["required"]
    assert param["schema"]["anyOf"][0]["maxLength"] == 255


async def test_patch_takes_a_key_too(service: Service) -> None:
    headers = {**bearer("coordinator", subject="c"), HEADER: "p-1"}
    first = await service.client.patch("/effects/a", headers=headers)
    again = await service.client.patch("/effects/a", headers=headers)
    assert first.json() == again.json() == {"count": 1} and again.headers["idempotent-replayed"] == "true"
    assert await service.count("a") == 1
