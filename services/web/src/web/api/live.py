"""Live updates: a page opens ``/live?convention=<id>`` (or ``mission=``) and
receives server-sent events for that record, once the services have said this
person may read it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from web.access import ServicesDep

router = APIRouter(tags=["live"])

READ = {"convention": ("convention", "/conventions/{}"), "mission": ("scheduling", "/missions/{}")}


@router.get("/live")
async def live(request: Request, services: ServicesDep,
               convention: Annotated[list[uuid.UUID], Query(max_length=20)] = [],  # noqa: B006
               mission: Annotated[list[uuid.UUID], Query(max_length=20)] = []) -> StreamingResponse:  # noqa: B006
    topics: list[str] = []
    for kind, ids in (("convention", convention), ("mission", mission)):
        service, path = READ[kind]
        for record in ids:
            await services.get(service, path.format(record))  # refused: the person may not follow it
            topics.append(str(record))
    hub = request.app.state.web.hub
    return StreamingResponse(hub.listen(topics), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
