"""The notification desk (administrators; the notification service decides)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from web.access import PersonDep, ServicesDep
from web.api.forms import PRIVATE
from web.api.rendering import page
from web.domain.commands import PreviewTemplate, ShowDesk

router = APIRouter(prefix="/desk", tags=["notification desk"])

STATUSES = ("pending", "sending", "transmitting", "sent", "failed", "cancelled", "unknown")
Part = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


Offset = Annotated[int, Query(ge=0, le=1_000_000, description="the service's paging: deeper, filter")]


@router.get("")
async def desk(request: Request, who: PersonDep, services: ServicesDep,
               status: Annotated[str | None, Query(max_length=20)] = None, offset: Offset = 0,
               reminders_offset: Offset = 0, contacts_offset: Offset = 0,
               limit: Annotated[int, Query(ge=1, le=200, description="rows per list")] = 50) -> Response:
    status = status if status in STATUSES else None
    query = ShowDesk(status=status, limit=limit, offset=offset, reminders_offset=reminders_offset,
                     contacts_offset=contacts_offset)
    shown = await request.app.state.web.bus.handle(query, services)
    here = {"status": status, "offset": offset, "reminders_offset": reminders_offset,
            "contacts_offset": contacts_offset, "limit": limit if limit != 50 else None}

    def link(name: str, to: int) -> str:
        """This page with one list moved to ``to`` (the others where they are)."""
        return "/desk?" + urlencode({k: v for k, v in {**here, name: to}.items() if v})

    pagers = {name: {**at, "previous_url": None if at["previous"] is None else link(name, at["previous"]),
                     "next_url": None if at["next"] is None else link(name, at["next"])}
              for name, at in shown["pages"].items()}
    response = page(request, "desk/desk.html", {**shown, "status": status, "statuses": STATUSES, "pagers": pagers})
    response.headers.update(PRIVATE)
    return response


@router.get("/templates/{event_type}/{language}/{channel}")
async def template(request: Request, event_type: Part, language: Part, channel: Part, who: PersonDep,
                   services: ServicesDep) -> Response:
    shown = await request.app.state.web.bus.handle(PreviewTemplate(event_type, language, channel), services)
    return page(request, "desk/template.html", shown)
