"""Signing in and out, and the reader's language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from web.access import CSRF, SessionDep, drop_sign_in, held_sign_in, hold_sign_in, keep, safe_next
from web.adapters import languages
from web.api.rendering import page
from web.domain.commands import BeginSignIn, FinishSignIn, LocalPeople, SignInLocally

router = APIRouter(tags=["sign-in"])


@router.get("/", include_in_schema=False)
async def home() -> Response:
    return RedirectResponse("/conventions", status_code=303)


@router.get("/signin")
async def sign_in_page(request: Request, current: SessionDep,
                       next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    web = request.app.state.web
    people = await web.bus.handle(LocalPeople(), None) if web.settings.local_sign_in else []
    by_institution: dict[str, list] = {}
    for p in people:
        by_institution.setdefault(p.institution or "—", []).append(p)
    return page(request, "signin.html", {"people": by_institution, "next": safe_next(next),
                                         "oidc": web.oidc is not None})


@router.post("/signin/local", dependencies=[CSRF])
async def sign_in_locally(request: Request, current: SessionDep,
                          subject: Annotated[str, Form(min_length=1, max_length=200)],
                          next: Annotated[str | None, Form(max_length=500)] = None) -> Response:
    signed = await request.app.state.web.bus.handle(SignInLocally(subject, current.language), None)
    return keep(request, RedirectResponse(safe_next(next), status_code=303), signed)


@router.post("/signout", dependencies=[CSRF])
async def sign_out(request: Request, current: SessionDep) -> Response:
    return keep(request, RedirectResponse("/signin", status_code=303), current.signed_out())


@router.post("/language", dependencies=[CSRF])
async def choose_language(request: Request, current: SessionDep,
                          lang: Annotated[str, Form(max_length=5)],
                          next: Annotated[str | None, Form(max_length=500)] = None) -> Response:
    chosen = languages.chosen(lang, None)
    return keep(request, RedirectResponse(safe_next(next), status_code=303), current.with_language(chosen))


@router.get("/signin/oidc")
async def sign_in_with_provider(request: Request, current: SessionDep,
                                next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    web = request.app.state.web
    url, pending = await web.bus.handle(BeginSignIn(request.state.language), None)
    response = hold_sign_in(request, RedirectResponse(url, status_code=303), pending, safe_next(next))
    return keep(request, response, current) if getattr(request.state, "session_new", False) else response


@router.get("/signin/callback")
async def signed_in_by_provider(request: Request, current: SessionDep) -> Response:
    web = request.app.state.web
    kept = held_sign_in(request)
    params = {k: v[:2000] for k, v in list(request.query_params.items())[:20]}
    signed = await web.bus.handle(FinishSignIn(params, kept.get("pending"), current.language), web.services)
    response = RedirectResponse(safe_next(kept.get("next")), status_code=303)
    return keep(request, drop_sign_in(response), signed)
