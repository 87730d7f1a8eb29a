"""Who is using the pages: the session from its cookie, the signed-in person,
and the CSRF check every form passes. What each person may *do* is the
services' decision; the web app only forwards their token."""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import Depends, Form, Header, HTTPException, Request, Response

from web.adapters import languages
from web.adapters.services import PersonServices
from web.store.sessions import COOKIE, PENDING_COOKIE, Session


class SignInNeeded(Exception):
    """No session, or its token has expired: to the sign-in page, then back."""


async def session(request: Request) -> Session:
    cached = getattr(request.state, "session", None)
    if cached is None:
        sealed = request.cookies.get(COOKIE)
        cached = request.app.state.web.cookies.decode(sealed)
        request.state.session = cached
        # A new visitor (or a cookie that no longer opens) gets one with the page: its CSRF token.
        request.state.session_new = cached.token is None and cached.subject is None and not sealed
    return cached


SessionDep = Annotated[Session, Depends(session)]


async def person(current: SessionDep) -> Session:
    if not current.signed_in(time.time()):
        raise SignInNeeded()
    return current


PersonDep = Annotated[Session, Depends(person)]


async def services(request: Request, who: PersonDep) -> PersonServices:
    """The services as this person may use them: their token and their language on every call."""
    return request.app.state.web.services.as_person(who.token, languages.current())


ServicesDep = Annotated[PersonServices, Depends(services)]


async def csrf(current: SessionDep, csrf_token: Annotated[str | None, Form(alias="csrf", max_length=100)] = None,
         header: Annotated[str | None, Header(alias="X-CSRF-Token", max_length=100)] = None) -> None:
    """Every form carries the session's own token (a hidden field, or htmx's header):
    a form posted from another site cannot know it. Compared in constant time."""
    given = csrf_token or header or ""
    if not hmac.compare_digest(given.encode(), current.csrf.encode()):
        raise HTTPException(403, "this form has expired or came from another site: reload the page and send it again")


CSRF = Depends(csrf)


async def speak(request: Request, current: SessionDep) -> None:
    """The request's language: the person's choice, else their browser's (every route depends on it)."""
    chosen = languages.chosen(request.query_params.get("lang") or current.language,
                              request.headers.get("accept-language"))
    languages.use(chosen)
    request.state.language = chosen


def keep(request: Request, response: Response, current: Session) -> Response:
    """Send ``current`` as the session cookie (HttpOnly, SameSite=Lax; Secure in deployment)."""
    cookies = request.app.state.web.cookies
    response.set_cookie(COOKIE, cookies.encode(current), max_age=cookies.max_age_seconds, httponly=True,
                        samesite="lax", secure=cookies.secure, path="/")
    request.state.session = current
    request.state.session_sent = True
    return response


def safe_next(target: str | None) -> str:
    """Only a path of this app (never another site: an open redirect would help phishing)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/conventions"
    return target[:500]


PENDING_SECONDS = 600  # a sign-in at the identity provider must come back within ten minutes


def hold_sign_in(request: Request, response: Response, pending: dict, next_path: str) -> Response:
    """What must come back with the browser from the provider (state, nonce, PKCE verifier),
    sealed in a cookie of its own, for ten minutes, sent to /signin only."""
    cookies = request.app.state.web.cookies
    response.set_cookie(PENDING_COOKIE, cookies.seal({"pending": pending, "next": next_path}), max_age=PENDING_SECONDS,
                        httponly=True, samesite="lax", secure=cookies.secure, path="/signin")
    return response


def held_sign_in(request: Request) -> dict:
    opened = request.app.state.web.cookies.open(request.cookies.get(PENDING_COOKIE), max_age=PENDING_SECONDS)
    return opened if isinstance(opened, dict) else {}


def drop_sign_in(response: Response) -> Response:
    response.delete_cookie(PENDING_COOKIE, path="/signin")
    return response
