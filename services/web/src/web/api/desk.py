"""The notification desk (administrators; the notification service decides)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from web.access import PersonDep, ServicesDep
from web.api.forms import PRIVATE
from web.api.rendering import page
from web.domain.commands import PreviewTemplate, ShowDesk

router = APIRouter(prefix="/desk", tags=["notification desk"])

STATUSES = ("pending", "sending", "transmitting", "sent", "failed", "cancelled", "unknown")
Part = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("")
async def desk(request: Request, who: PersonDep, services: ServicesDep,
               status: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    status = status if status in STATUSES else None
    shown = await request.app.state.web.bus.handle(ShowDesk(status=status), services)
    response = page(request, "desk/desk.html", {**shown, "status": status, "statuses": STATUSES})
    response.headers.update(PRIVATE)
    return response


@router.get("/templates/{event_type}/{language}/{channel}")
async def template(request: Request, event_type: Part, language: Part, channel: Part, who: PersonDep,
                   services: ServicesDep) -> Response:
    shown = await request.app.state.web.bus.handle(PreviewTemplate(event_type, language, channel), services)
    return page(request, "desk/template.html", shown)
