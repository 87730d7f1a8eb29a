"""The privacy officer's page: who read the identity of the institution's patients."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from web.access import PersonDep, ServicesDep
from web.api.forms import PRIVATE
from web.api.rendering import page
from web.domain.commands import ShowAccessHistory

router = APIRouter(prefix="/hosts", tags=["privacy"])


@router.get("/{institution_id}/access-history")
async def access_history(request: Request, institution_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                         patient_ref: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    shown = await request.app.state.web.bus.handle(
        ShowAccessHistory(institution_id, (patient_ref or "").strip() or None), services)
    status = shown["refused"].status if shown["refused"] else 200
    response = page(request, "privacy/history.html",
                    {**shown, "institution_id": str(institution_id), "patient_ref": patient_ref or ""},
                    status_code=status)
    response.headers.update(PRIVATE)
    return response
