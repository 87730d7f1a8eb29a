"""The HTTP plumbing every service shares, on a tiny FastAPI app: domain errors
to status codes, health checks, and the correlation id in and out."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from jumelage import context
from jumelage.errors import Conflict, DomainError, Invalid, NotFound
from jumelage.http import health_router, install_correlation, install_error_handlers


def make_app(checks: dict[str, Any] | None = None) -> FastAPI:
    app = FastAPI()
    install_correlation(app)
    install_error_handlers(app)

    async def ok() -> None:
        return None

    app.include_router(health_router(checks if checks is not None else {"database": ok}))

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no institution 42")

    @app.get("/clash")
    async def clash() -> None:
        raise Conflict("convention CNAS-GSD-2024-01 is already signed")

    @app.get("/invalid")
    async def invalid() -> None:
        raise Invalid("country 'DZA' is not an ISO 3166-1 alpha-2 code", field="country")

    @app.get("/invalid-nested")
    async def invalid_nested() -> None:
        raise Invalid("listed twice", field="parties.institution_id")

    @app.get("/invalid-unnamed")
    async def invalid_unnamed() -> None:
        raise Invalid("the period is empty")

    @app.get("/refused")
    async def refused() -> None:
        raise DomainError("a plain domain refusal")

    @app.get("/database-restarted")
    async def database_restarted() -> None:
        raise DBAPIError("SELECT 1", None, ConnectionResetError("server closed the connection"),
                         connection_invalidated=True)

    @app.get("/database-error")
    async def database_error() -> None:
        raise DBAPIError("SELECT 1", None, ValueError("a bug"))

    @app.get("/database-down")
    async def database_down() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    @app.get("/context")
    async def current_context() -> dict[str, Any]:
        return {"correlation": context.correlation_id.get(), "causation": context.causation_id.get()}

    return app


@pytest.fixture
async def client() -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test") as c:
        yield c


# -- domain errors -------------------------------------------------------------------------


async def test_not_found_is_404_with_the_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"detail": "no institution 42"}


async def test_a_database_connection_lost_or_refused_is_503_with_a_message(client: httpx.AsyncClient) -> None:
    lost = await client.get("/database-restarted")
    assert lost.status_code == 503
    assert "may not have been saved" in lost.json()["detail"]
    assert lost.headers["retry-after"] == "1"

    down = await client.get("/database-down")
    assert down.status_code == 503
    assert down.json() == {"detail": "the database is unreachable; try again shortly"}


async def test_no_pooled_connection_free_in_time_is_503_not_500(tmp_path: Any) -> None:
    """A real pool (one connection, no overflow) whose only connection is taken: the
    request's checkout times out, and the answer says the service is busy."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import AsyncAdaptedQueuePool

    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}", poolclass=AsyncAdaptedQueuePool,
                                 pool_size=1, max_overflow=0, pool_timeout=0.05)
    app = make_app()

    @app.get("/needs-a-connection")
    async def needs_a_connection() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with engine.connect() as held, httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            await held.execute(text("SELECT 1"))
            response = await c.get("/needs-a-connection")
    finally:
        await engine.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "no database connection was free in time" in response.json()["detail"]


async def test_the_sqlite_write_lock_not_free_in_time_is_503_not_500(tmp_path: Any) -> None:
    """Another connection holds the file's write lock (BEGIN IMMEDIATE) past the busy timeout:
    the request's write fails with SQLite's "database is locked", and the answer is a 503
    the client may retry (a 500 would also end the client's keep-alive connection)."""
    import sqlite3

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.05})
    app = make_app()

    @app.get("/writes")
    async def writes() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            response = await c.get("/writes")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await engine.dispose()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert "write lock was not free in time" in response.json()["detail"]


async def test_another_database_error_is_not_disguised_as_unavailable() -> None:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        response = await c.get("/database-error")
    assert response.status_code == 500


async def test_conflict_is_409_with_the_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/clash")
    assert response.status_code == 409
    assert response.json() == {"detail": "convention CNAS-GSD-2024-01 is already signed"}


async def test_invalid_field_is_422_shaped_like_fastapi_validation(client: httpx.AsyncClient) -> None:
    response = await client.get("/invalid")
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "country"]
    assert error["msg"] == "country 'DZA' is not an ISO 3166-1 alpha-2 code"
    assert error["type"] == "domain"

    nested = (await client.get("/invalid-nested")).json()["detail"][0]
    assert nested["loc"] == ["body", "parties", "institution_id"]


async def test_invalid_without_field_is_422_with_the_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/invalid-unnamed")
    assert response.status_code == 422
    assert response.json() == {"detail": "the period is empty"}


async def test_any_other_domain_error_is_a_409(client: httpx.AsyncClient) -> None:
    response = await client.get("/refused")
    assert response.status_code == 409
    assert response.json() == {"detail": "a plain domain refusal"}


# -- health ----------------------------------------------------------------------------------


async def test_health_live_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_ready_is_503_naming_the_failing_check_and_live_stays_200() -> None:
    calls: list[str] = []

    async def database() -> None:
        calls.append("database")

    async def broker() -> None:
        calls.append("broker")
        raise ConnectionError("broker not connected")

    app = make_app({"database": database, "broker": broker})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        ready = await c.get("/health/ready")
        live = await c.get("/health/live")

    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "unavailable: ConnectionError"},
    }
    assert calls == ["database", "broker"], "every check runs, even after one fails"
    assert live.status_code == 200, "a missing dependency does not make the process dead"


# -- correlation -------------------------------------------------------------------------------


async def test_given_correlation_id_is_echoed_and_bound_for_the_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/context", headers={"X-Correlation-ID": "programme-cnas-2024"})
    assert response.headers["x-correlation-id"] == "programme-cnas-2024"
    bound = response.json()
    assert bound["correlation"] == "programme-cnas-2024"
    uuid.UUID(bound["causation"])  # the request's own id causes what it records


async def test_without_correlation_id_each_request_starts_a_chain(client: httpx.AsyncClient) -> None:
    first = await client.get("/context")
    second = await client.get("/context", headers={"X-Correlation-ID": ""})
    ids = [first.headers["x-correlation-id"], second.headers["x-correlation-id"]]
    for value in ids:
        uuid.UUID(value)
    assert ids[0] != ids[1]
    assert first.json() == {"correlation": ids[0], "causation": ids[0]}
    assert second.json()["correlation"] == ids[1]


async def test_correlation_id_is_on_error_and_health_responses(client: httpx.AsyncClient) -> None:
    for path in ("/missing", "/invalid", "/health/ready", "/no-such-route"):
        response = await client.get(path, headers={"X-Correlation-ID": "c-9"})
        assert response.headers["x-correlation-id"] == "c-9", path


async def test_overlong_correlation_id_is_cut(client: httpx.AsyncClient) -> None:
    response = await client.get("/context", headers={"X-Correlation-ID": "x" * 500})
    assert response.headers["x-correlation-id"] == "x" * 200
    assert response.json()["correlation"] == "x" * 200


async def test_context_does_not_leak_out_of_the_request(client: httpx.AsyncClient) -> None:
    await client.get("/context", headers={"X-Correlation-ID": "c-10"})
    assert context.correlation_id.get() is None
    assert context.causation_id.get() is None


async def test_correlation_id_is_on_a_500_too() -> None:
    app = make_app()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        response = await c.get("/boom", headers={"X-Correlation-ID": "c-500"})
    assert response.status_code == 500
    assert response.headers.get("x-correlation-id") == "c-500"
