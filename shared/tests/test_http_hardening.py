"""Every request answered on purpose, on a tiny app wired as the services are:
bodies over the cap refused before they are read whole, JSON that cannot be
stored refused with a 422 that names why, validation errors that can always
be encoded, and a 500 that says the connection ends."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from jumelage.db import UnitOfWork
from jumelage.errors import Invalid
from jumelage.events import InstitutionRegistered, new_envelope, serialized
from jumelage.http import MAX_ERRORS, install_correlation, install_error_handlers, strict_json
from jumelage.testkit.waiting import eventually

LIMIT = 64 * 1024


class Institution(BaseModel):
    name: str = Field(max_length=300)
    beds: int = Field(default=0, ge=0, le=10_000)
    weight: float = Field(default=0.0, ge=0, le=1e6)
    aliases: list[str] = Field(default=[], max_length=10)


def make_app() -> tuple[FastAPI, list[Any]]:
    seen: list[Any] = []
    app = FastAPI(max_body_size=LIMIT)
    install_correlation(app)
    install_error_handlers(app)
    router = APIRouter()

    @router.post("/institutions")
    async def register(body: Institution) -> dict[str, Any]:
        seen.append(body)
        return body.model_dump()

    @router.post("/items")
    async def items(body: list[int]) -> int:
        seen.append(len(body))
        return len(body)

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @router.get("/fine")
    async def fine() -> dict[str, str]:
        return {"status": "fine"}

    app.include_router(router, dependencies=[Depends(strict_json)])
    return app, seen


@pytest.fixture
async def app_and_seen() -> AsyncIterator[tuple[httpx.AsyncClient, list[Any]]]:
    app, seen = make_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, seen


def raw(client: httpx.AsyncClient, path: str, body: bytes, **headers: str) -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json", **headers})


# -- JSON that cannot be stored or sent back -------------------------------------------------------


@pytest.mark.parametrize("body, says", [
    (rb'{"name": "CMCI \ud800 Bousmail"}', "lone surrogate"),
    (rb'{"name": "CMCI", "aliases": ["\udfff"]}', "lone surrogate"),
    (b'{"name": "CMCI \xed\xa0\x80"}', "not valid UTF-8"),
    (b'{"name": "CMCI", "weight": NaN}', "NaN"),
    (b'{"name": "CMCI", "weight": Infinity}', "NaN or Infinity"),
    (b'{"name": "CMCI", "weight": -Infinity}', "Infinity"),
])
async def test_a_body_that_cannot_be_stored_is_a_422_naming_why(app_and_seen: Any, body: bytes, says: str) -> None:
    client, seen = app_and_seen
    response = await raw(client, "/institutions", body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert says in error["msg"]
    assert seen == [], "the handler never ran"


async def test_a_body_nested_too_deeply_is_a_422_naming_why(app_and_seen: Any) -> None:
    client, seen = app_and_seen
    response = await raw(client, "/institutions", b"[" * 20_000 + b"]" * 20_000)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"] == "the body nests arrays or objects too deeply to be read"
    assert seen == []


async def test_a_surrogate_pair_and_the_words_nan_and_infinity_in_text_are_fine(app_and_seen: Any) -> None:
    client, seen = app_and_seen
    body = json.dumps({"name": "Clinique \U0001F600 NaN Infinity", "aliases": ["\\ud800 as text"]}).encode()
    response = await raw(client, "/institutions", body)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Clinique \U0001F600 NaN Infinity"
    assert response.json()["aliases"] == ["\\ud800 as text"]


@pytest.mark.parametrize("body", [
    rb'{"name": ["\ud800"], "beds": "many"}',  # invalid besides: the 422 used to echo the surrogate (a 500)
    rb'{"name": 1, "weight": "NaN"}',
    b'{"name": {"nested": [1, 2, 3]}, "beds": 99999999999999999999999}',
])
async def test_a_validation_error_can_always_be_encoded(app_and_seen: Any, body: bytes) -> None:
    client, _ = app_and_seen
    response = await raw(client, "/institutions", body)
    assert response.status_code == 422, response.text
    for error in response.json()["detail"]:
        assert {"type", "loc", "msg"} <= set(error)
        assert not isinstance(error.get("input"), dict | list), "containers are never echoed"


async def test_a_validation_error_echoes_no_large_input_and_lists_few_errors(app_and_seen: Any) -> None:
    client, _ = app_and_seen
    response = await raw(client, "/items", json.dumps(["x"] * 5000).encode())
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == MAX_ERRORS + 1
    assert detail[-1] == {"type": "too_many_errors", "loc": ["body"], "msg": f"{5000 - MAX_ERRORS} more errors not listed"}
    long = await raw(client, "/institutions", json.dumps({"name": "x" * 20_000}).encode())
    assert long.status_code == 422
    assert len(long.content) < 1000, "the refused 20,000 characters are not sent back"


# -- the body cap ----------------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_a_413_naming_the_limit(app_and_seen: Any) -> None:
    client, seen = app_and_seen
    response = await raw(client, "/institutions", json.dumps({"name": "x" * LIMIT}).encode())
    assert response.status_code == 413
    assert response.json() == {"detail": f"the request body is larger than the {LIMIT}-byte limit (MAX_BODY_BYTES)"}
    assert seen == []


async def test_a_streamed_body_over_the_cap_is_refused_before_it_is_read_whole(app_and_seen: Any) -> None:
    client, seen = app_and_seen
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for _ in range(100):
            sent.append(1)
            yield b" " * 4096

    response = await client.post("/institutions", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert seen == []
    assert len(sent) < 100, "refused once over the cap, not after the 400 KB were all read"


# -- a 500 ends the connection openly --------------------------------------------------------------


@pytest.fixture
async def served() -> AsyncIterator[str]:
    """The app behind a real uvicorn (keep-alive connections, as in deployment)."""
    app, _ = make_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def test_a_500_says_connection_close_and_the_next_request_succeeds(served: str) -> None:
    async with httpx.AsyncClient(base_url=served) as client:
        assert (await client.get("/fine")).status_code == 200  # a keep-alive connection
        response = await client.get("/boom", headers={"X-Correlation-ID": "c-500"})
        assert response.status_code == 500
        assert response.headers["connection"] == "close"
        assert response.json() == {"detail": "internal error: the request failed unexpectedly; it is logged under "
                                              "correlation id c-500"}
        assert response.headers["x-correlation-id"] == "c-500"
        assert (await client.get("/fine")).status_code == 200


# -- events over the size limit --------------------------------------------------------------------


def test_an_event_over_the_size_limit_is_refused_before_anything_is_written() -> None:
    uow = UnitOfWork(None)  # type: ignore[arg-type]  # record() touches no session
    uow.max_event_bytes = 1024
    small = InstitutionRegistered(institution_id=uuid.uuid4(), name="CMCI", kind="clinic", country="DZ",
                                  city="Bou Ismail")
    uow.record(small)
    big = small.model_copy(update={"name": "x" * 2000})
    with pytest.raises(Invalid, match=r"InstitutionRegistered event .* over the 1024-byte limit \(MAX_EVENT_BYTES\)"):
        uow.record(big)
    assert [e.data for e in uow.recorded] == [small]


def test_the_limit_is_on_the_data_alone_measured_from_the_one_serialization_of_the_envelope() -> None:
    # Non-ASCII text: the limit counts bytes, not characters; a quote in the subject's
    # correlation id must not be taken for the start of the data.
    data = InstitutionRegistered(institution_id=uuid.uuid4(), name='Clinique « Ibn Sina » "data":', kind="clinic",
                                 country="DZ", city="Tlemcen")
    size = len(data.model_dump_json().encode())
    envelope = new_envelope(data, correlation_id='c-"data":1', causation_id=None)
    assert serialized(envelope) == (envelope.to_json(), size)

    uow = UnitOfWork(None)  # type: ignore[arg-type]
    uow.max_event_bytes = size
    uow.record(data)  # exactly at the limit: taken
    uow.max_event_bytes = size - 1
    with pytest.raises(Invalid, match=f"would be {size} bytes, over the {size - 1}-byte limit"):
        uow.record(data)
    assert [e.data for e in uow.recorded] == [data]
