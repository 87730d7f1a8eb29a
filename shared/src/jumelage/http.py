"""HTTP plumbing shared by the services: correlation middleware and health routes."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jumelage import context
from jumelage.api import READINESS_RESPONSES
from jumelage.logging import get_logger

log = get_logger(__name__)

CORRELATION_HEADER = "x-correlation-id"


class CorrelationMiddleware:
    """Binds ``X-Correlation-ID`` (or a new id) for the request and echoes it back.

    Each request gets its own id as the causation of whatever it records; the
    correlation id is the caller's if given, else that same id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers", []):
            if name == CORRELATION_HEADER.encode():
                given = value.decode("latin-1")[:200] or None
                break
        request_id = context.new_id()
        with context.chain(correlation=given, causation=request_id) as correlation:
            started = False

            async def send_with_header(message: Message) -> None:
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                    headers = list(message.get("headers", []))
                    headers.append((CORRELATION_HEADER.encode(), correlation.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await self.app(scope, receive, send_with_header)
            except Exception:
                if not started:
                    raise
                # Starlette re-raises once its 500 (``_server_error``, logged there, with
                # ``Connection: close``) is sent: the server would log it again and cut the
                # connection. The response says the connection ends; the server ends it cleanly.
                return


class AccessMiddleware:
    """One access line per request (method, route template, status, duration, subject;
    the correlation id is bound by :class:`CorrelationMiddleware` around it; never a
    header, so never the token) and the HTTP metrics, by route *template*
    (``/missions/{mission_id}``: bounded, unlike paths). A path no route matched is
    counted as ``unmatched``. ``/metrics`` and the health checks are counted but their
    lines are at debug: scrapes and probes every few seconds would drown the rest."""

    QUIET = ("/metrics", "/health/live", "/health/ready")

    def __init__(self, app: ASGIApp, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # unless a response starts
        method = scope.get("method", "")

        async def send_keeping_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_keeping_status)
        finally:
            seconds = time.perf_counter() - began
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if self.metrics is not None:
                self.metrics.http_requests.labels(method, route, str(status)).inc()
                self.metrics.http_seconds.labels(method, route).observe(seconds)
            caller = (scope.get("state") or {}).get("caller")
            line = log.debug if route in self.QUIET else log.warning if status >= 500 else log.info
            line("request", method=method, route=route, status=status, duration_ms=round(seconds * 1000, 1),
                 subject=getattr(caller, "subject", None))


class DeclaredSizeGuard:
    """A body whose ``Content-Length`` is over the cap is a 413 at once, in the same
    JSON shape as every error, and the app never runs. A body without a length
    (chunked) is counted as it arrives by FastAPI's own ``max_body_size``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length":
                    if value.isdigit() and int(value) > self.limit:
                        response = too_large(self.limit)
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


def too_large(limit: int | None) -> JSONResponse:
    return JSONResponse({"detail": f"the request body is larger than the {limit}-byte limit (MAX_BODY_BYTES)"},
                        status_code=413, headers={"Connection": "close"})


def install_correlation(app: FastAPI, metrics: Any = None) -> None:
    """Put :class:`CorrelationMiddleware` outside everything, Starlette's error
    middleware included: a 500 and the traceback logged with it carry the
    correlation id too (``add_middleware`` would place it inside). Inside it, the
    access line and HTTP metrics (:class:`AccessMiddleware`, which so sees a 413 and
    a 500 too), then the guard of the app's ``max_body_size`` on a declared length."""
    build = app.build_middleware_stack

    def build_with_correlation() -> ASGIApp:
        inner = build()
        if app.max_body_size is not None:
            inner = DeclaredSizeGuard(inner, app.max_body_size)
        return CorrelationMiddleware(AccessMiddleware(inner, metrics))

    app.build_middleware_stack = build_with_correlation  # type: ignore[method-assign]


Check = Callable[[], Awaitable[None]]


def health_router(checks: dict[str, Check]) -> APIRouter:
    """``/health/live``: the process answers. ``/health/ready``: every check passes."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready", responses=READINESS_RESPONSES)
    async def ready() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # a health check reports, it does not raise
                results[name] = f"unavailable: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": results},
                            status_code=200 if ok else 503)

    return router


def busy(exc: DBAPIError) -> bool:
    """SQLite's ``database is locked`` (SQLITE_BUSY, after ``busy_timeout``): the write lock was not
    free in time. Not a bug of the request, nor a lost connection."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors become 403/404/409/412/422 with a message saying what is wrong,
    shaped like FastAPI's own validation errors where a field is named. Every
    error response can be encoded, whatever the request held; an unexpected
    error is a 500 that ends the connection openly (``Connection: close``)."""
    from jumelage.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, PreconditionFailed

    status = {NotFound: 404, Conflict: 409, Invalid: 422, Forbidden: 403}

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        code = next((c for k, c in status.items() if isinstance(exc, k)), 409)
        if exc.field is not None:
            # Like pydantic's own: list indexes as numbers (["body", "parties", 1, "role"]).
            # A field given as "query.<name>" is a query parameter (a keyset cursor), else the body's.
            where, _, field = exc.field.partition(".") if exc.field.startswith("query.") else ("body", "", exc.field)
            loc = [where, *(int(p) if p.isdigit() else p for p in field.split("."))]
            detail: object = [{"loc": loc, "msg": exc.message, "type": "domain"}]
        else:
            detail = exc.message
        return JSONResponse({"detail": detail}, status_code=code)

    @app.exception_handler(PreconditionFailed)
    async def _precondition_failed(_request: Request, exc: PreconditionFailed) -> JSONResponse:
        from jumelage.preconditions import PreconditionFailedOut  # the documented body, instants as in records

        body = PreconditionFailedOut(detail=exc.message, record=exc.record, updated_at=exc.updated_at, etag=exc.etag)
        return JSONResponse(body.model_dump(mode="json"), status_code=412, headers={"ETag": exc.etag})

    @app.exception_handler(StaleDataError)
    async def _lost_race(_request: Request, exc: StaleDataError) -> JSONResponse:
        # Optimistic concurrency (version_id_col): another request changed the record
        # between this one's read and its write. Nothing was saved.
        log.warning("lost a race to change a record", error=str(exc))
        return JSONResponse({"detail": "the record was changed by another request at the same moment; nothing "
                                       "was saved: read it again, then send your change"}, status_code=409)

    @app.exception_handler(DBAPIError)
    async def _connection_lost(_request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated and busy(exc):
            # SQLite's file lock held by another writer for the whole busy_timeout (SQLITE_BUSY): the
            # transaction did not commit (a read's access rows were not written, so it showed nothing);
            # a 503 the client may retry, not a 500 that ends its connection.
            log.warning("database busy: its write lock was not free in time", error=str(exc.orig)[:100])
            return JSONResponse({"detail": "the service is busy: the database's write lock was not free in time; "
                                           "nothing was done: try again shortly"},
                                status_code=503, headers={"Retry-After": "1"})
        if not exc.connection_invalidated:
            raise exc  # a database error of another kind: a 500, logged with its traceback
        # Lost under the request (a database restart): SQLAlchemy has reset the pool.
        log.warning("database connection lost during a request", error=type(exc.orig).__name__)
        return JSONResponse({"detail": "the database connection was lost during the request; the change may "
                                       "not have been saved: check, then send it again"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(PoolTimeout)
    async def _busy(_request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection in use for the pool's whole timeout: the service is overloaded,
        # nothing was done; a 503 the client may retry, not a 500 (issue 23, 50 clients at once).
        log.warning("no database connection free in time", error=str(exc).split(" (")[0])
        return JSONResponse({"detail": "the service is busy: no database connection was free in time; nothing "
                                       "was done: try again shortly"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def _unreachable(_request: Request, exc: Exception) -> JSONResponse:
        # Raised as is (not wrapped) by the database driver when it cannot connect.
        log.warning("database unreachable", error=type(exc).__name__)
        return JSONResponse({"detail": "the database is unreachable; try again shortly"},
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": encodable_errors(exc.errors())}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Any:
        if exc.status_code == 413:  # a streamed body over the framework's limit (FastAPI ``max_body_size``)
            return too_large(request.scope.get("starlette.max_body_size"))
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):  # FastAPI's "error parsing"
            return JSONResponse({"detail": [{"type": "json_invalid", "loc": ["body"],
                                             "msg": "the body nests arrays or objects too deeply to be read"}]},
                                status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error handling a request", method=request.method,
                  route=getattr(request.scope.get("route"), "path", None), exc_info=exc)
        return JSONResponse({"detail": "internal error: the request failed unexpectedly; it is logged under "
                                       f"correlation id {context.correlation_id.get()}"},
                            status_code=500, headers={"Connection": "close"})


# -- validation errors that can always be sent back ------------------------------------------------

MAX_ERRORS = 20
"""Validation errors listed in a 422 (a 500,000-item list can raise as many)."""

MAX_ECHO = 200
"""Characters of a refused scalar input echoed back; containers are never echoed."""


def encodable_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors in FastAPI's shape (type, loc, msg, input, ctx), made safe
    to encode: a refused input is echoed only if it is a short scalar, lone
    surrogates and non-finite numbers become text, and the list is capped."""
    out = []
    for error in list(errors)[:MAX_ERRORS]:
        item: dict[str, Any] = {"type": str(error.get("type", "invalid")),
                                "loc": [p if isinstance(p, int) else _text(p) for p in error.get("loc", ())],
                                "msg": _text(error.get("msg", ""))}
        value = error.get("input")
        if isinstance(value, float) and not math.isfinite(value):
            item["input"] = str(value)  # NaN, inf: not JSON numbers
        elif isinstance(value, bool | int | float):
            item["input"] = value
        elif isinstance(value, str) and len(value) <= MAX_ECHO:
            item["input"] = _text(value)
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {_text(k): v if isinstance(v, bool | int) else _text(v) for k, v in ctx.items()}
        out.append(item)
    if len(errors) > MAX_ERRORS:
        out.append({"type": "too_many_errors", "loc": ["body"],
                    "msg": f"{len(errors) - MAX_ERRORS} more errors not listed"})
    return out


def _text(value: Any) -> str:
    """``value`` as text that UTF-8 can encode (a lone surrogate becomes an escape), capped."""
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_ECHO].encode("utf-8", "backslashreplace").decode("utf-8")


# -- strict JSON bodies ----------------------------------------------------------------------------


def _refuse(msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": msg}])


async def strict_json(request: Request) -> None:
    """A route dependency: the body is JSON as RFC 8259 and I-JSON (RFC 7493) define it.

    Python's parser, which FastAPI uses, also takes ``NaN``, ``Infinity`` and lone
    surrogates (``"\\ud800"``, or their raw UTF-8 bytes); none can be stored or sent
    back, so they are a 422 here, before the handler. Byte scans of the raw body
    (already read and capped) pass almost every body at C speed; only a body that
    holds an escape or those words has its parsed value (FastAPI's, cached) encoded
    strictly, which tells a token from the same letters inside a string."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    body = await request.body()
    if not body:
        return
    if b"\xed" in body:  # the lead byte of an encoded surrogate; strict UTF-8 refuses them
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _refuse(f"the body is not valid UTF-8 (byte {exc.start})") from None
    if b"\\u" not in body and b"NaN" not in body and b"Infinity" not in body:
        return
    try:
        value = await request.json()  # parsed once already, by FastAPI: cached
    except ValueError:
        return  # not JSON at all: FastAPI's own 422 says so
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError as exc:
        if isinstance(exc, UnicodeEncodeError):
            raise _refuse("the body holds a lone surrogate (\\ud800-\\udfff without its pair): not text that "
                          "can be stored") from None
        raise _refuse("the body holds NaN or Infinity, which are not JSON numbers") from None
