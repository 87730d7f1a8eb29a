"""Every failure is a page in the reader's language, never a stack trace."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException

from jumelage import context
from jumelage.errors import DomainError, Forbidden, NotFound
from jumelage.logging import get_logger
from web.access import SignInNeeded, session
from web.adapters.services import ServiceDown, ServiceRefused
from web.api.rendering import page

log = get_logger(__name__)


def install_error_pages(app: FastAPI) -> None:
    """Every failure is a page in the reader's language, never a stack trace."""

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _exc: SignInNeeded) -> Response:
        target = "/signin?next=" + request.url.path
        if request.headers.get("HX-Request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ServiceDown)
    async def _down(request: Request, exc: ServiceDown) -> Response:
        await _ensure_session(request)
        return page(request, "error.html", {"down": exc.service, "status": 503, "messages": []}, status_code=503)

    @app.exception_handler(ServiceRefused)
    async def _refused(request: Request, exc: ServiceRefused) -> Response:
        await _ensure_session(request)
        return page(request, "error.html", {"down": None, "status": exc.status, "service": exc.service,
                                            "messages": exc.sentences()}, status_code=exc.status)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        await _ensure_session(request)
        status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else 422
        return page(request, "error.html", {"down": None, "status": status, "service": None,
                                            "messages": [exc.message]}, status_code=status)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        await _ensure_session(request)
        return page(request, "error.html", {"down": None, "status": exc.status_code, "service": None,
                                            "messages": [str(exc.detail)]}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        await _ensure_session(request)
        messages = [f"{'.'.join(str(p) for p in e['loc'] if p not in ('body', 'query', 'path'))}: {e['msg']}"
                    for e in exc.errors()]
        return page(request, "error.html", {"down": None, "status": 422, "service": None, "messages": messages},
                    status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("page failed", error=type(exc).__name__, path=request.url.path, exc_info=exc)
        await _ensure_session(request)
        return page(request, "error.html", {"down": None, "status": 500, "service": None,
                                            "messages": [f"unexpected error, logged under {context.correlation_id.get()}"]},
                    status_code=500)


async def _ensure_session(request: Request) -> None:
    await session(request)
