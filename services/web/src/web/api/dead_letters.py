"""The dead-letter desk (administrators; each service decides who may see and act on its queue)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from web.access import CSRF, PersonDep, ServicesDep
from web.adapters.services import ServiceRefused
from web.api.forms import PRIVATE, FormKey
from web.api.rendering import page
from web.domain.commands import HandleDeadLetter, ShowDeadLetter, ShowDeadLetters
from web.domain.dead_letters import KEY_PATTERN

router = APIRouter(prefix="/dead-letters", tags=["dead-letter desk"])

Service = Annotated[Literal["convention", "scheduling", "notification"], Path()]
Key = Annotated[str, Path(min_length=1, max_length=255, pattern=KEY_PATTERN)]
Reason = Annotated[str, Form(min_length=1, max_length=2000)]


@router.get("")
async def dead_letters(request: Request, who: PersonDep, services: ServicesDep,
                       done: Annotated[Literal["retried", "discarded"] | None, Query()] = None) -> Response:
    return await _desk(request, services, done=done)


async def _desk(request: Request, services: ServicesDep, *, problem: ServiceRefused | None = None,
                done: str | None = None) -> Response:
    shown = await request.app.state.web.bus.handle(ShowDeadLetters(), services)
    response = page(request, "dead_letters/desk.html", {**shown, "problem": problem, "done": done},
                    status_code=problem.status if problem else 200)
    response.headers.update(PRIVATE)
    return response


@router.get("/{service}/{key}")
async def dead_letter(request: Request, service: Service, key: Key, who: PersonDep, services: ServicesDep) -> Response:
    shown = await request.app.state.web.bus.handle(ShowDeadLetter(service, key), services)
    response = page(request, "dead_letters/letter.html", shown)
    response.headers.update(PRIVATE)
    return response


@router.post("/{service}/retry", dependencies=[CSRF])
async def retry_all(request: Request, service: Service, who: PersonDep, services: ServicesDep,
                    form_key: FormKey) -> Response:
    return await _act(request, services, HandleDeadLetter(service, "retry", None, None, form_key))


@router.post("/{service}/{key}/retry", dependencies=[CSRF])
async def retry_one(request: Request, service: Service, key: Key, who: PersonDep, services: ServicesDep,
                    form_key: FormKey) -> Response:
    return await _act(request, services, HandleDeadLetter(service, "retry", key, None, form_key))


@router.post("/{service}/{key}/discard", dependencies=[CSRF])
async def discard(request: Request, service: Service, key: Key, who: PersonDep, services: ServicesDep,
                  reason: Reason, form_key: FormKey) -> Response:
    return await _act(request, services, HandleDeadLetter(service, "discard", key, reason, form_key))


async def _act(request: Request, services: ServicesDep, cmd: HandleDeadLetter) -> Response:
    try:
        await request.app.state.web.bus.handle(cmd, services)
    except ServiceRefused as refused:  # shown above the desk, in the service's words
        return await _desk(request, services, problem=refused)
    done = "discarded" if cmd.action == "discard" else "retried"
    return RedirectResponse(f"/dead-letters?done={done}", status_code=303)
