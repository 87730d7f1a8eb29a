"""HTTP plumbing shared by the services: correlation middleware and health routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
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

            async def send_with_header(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers.append((CORRELATION_HEADER.encode(), correlation.encode()))
                    message["headers"] = headers
                await send(message)

            await self.app(scope, receive, send_with_header)


def install_correlation(app: FastAPI) -> None:
    """Put :class:`CorrelationMiddleware` outside everything, Starlette's error
    middleware included: a 500 and the traceback logged with it carry the
    correlation id too (``add_middleware`` would place it inside)."""
    build = app.build_middleware_stack

    def build_with_correlation() -> ASGIApp:
        return CorrelationMiddleware(build())

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


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors become 404/409/422 with a message saying what is wrong,
    shaped like FastAPI's own validation errors where a field is named."""
    from jumelage.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

    status = {NotFound: 404, Conflict: 409, Invalid: 422, Forbidden: 403}

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        code = next((c for k, c in status.items() if isinstance(exc, k)), 409)
        if exc.field is not None:
            # Like pydantic's own: list indexes as numbers (["body", "parties", 1, "role"]).
            loc = ["body", *(int(p) if p.isdigit() else p for p in exc.field.split("."))]
            detail: object = [{"loc": loc, "msg": exc.message, "type": "domain"}]
        else:
            detail = exc.message
        return JSONResponse({"detail": detail}, status_code=code)

    @app.exception_handler(DBAPIError)
    async def _connection_lost(_request: Request, exc: DBAPIError) -> JSONResponse:
        if not exc.connection_invalidated:
            raise exc  # a database error of another kind: a 500, logged with its traceback
        # Lost under the request (a database restart): SQLAlchemy has reset the pool.
        log.warning("database connection lost during a request", error=type(exc.orig).__name__)
        return JSONResponse({"detail": "the database connection was lost during the request; the change may "
                                       "not have been saved: check, then send it again"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def _unreachable(_request: Request, exc: Exception) -> JSONResponse:
        # Raised as is (not wrapped) by the database driver when it cannot connect.
        log.warning("database unreachable", error=type(exc).__name__)
        return JSONResponse({"detail": "the database is unreachable; try again shortly"},
                            status_code=503, headers={"Retry-After": "5"})
