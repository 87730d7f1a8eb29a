"""The privacy officer's page: who read the identity of the institution's patients."""

from __future__ import annotations

import uuid
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from web.access import PersonDep, ServicesDep
from web.adapters import documents, languages
from web.api.forms import PRIVATE
from web.api.rendering import page
from web.domain.commands import DownloadAccessRequest, ShowAccessHistory

router = APIRouter(prefix="/hosts", tags=["privacy"])
requests = APIRouter(prefix="/cases", tags=["privacy"])


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


def access_request_html(pages: Any, values: dict[str, Any]) -> str:
    """The access request as one HTML document in its language (``dir="rtl"`` in Arabic)."""
    with languages.speaking(values["language"]):
        template = pages.templates.env.get_template("privacy/access_request.html")
        return template.render({k: v for k, v in values.items() if k != "language"})  # language(): the global


@requests.get("/{case_id}/access-request.pdf")
async def access_request(request: Request, case_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                         language: Annotated[str | None, Query(max_length=2, description="fr, ar, en; "
                                                        "empty: the family contact's, else the page's")] = None
                         ) -> Response:
    """The family's access request as a PDF: both services' exports with the person's token (each
    decides who may: the host's clinicians and privacy officer; a refusal is the refusal page)."""
    chosen = language if language in languages.LANGUAGES else None
    found = await request.app.state.web.bus.handle(DownloadAccessRequest(case_id, chosen), services)
    content = await run_in_threadpool(documents.pdf, access_request_html(request.app.state.web.pages, found))
    ref = re.sub(r"[^A-Za-z0-9_-]", "_", found["case"]["patient_ref"])[:60]
    return Response(content, media_type="application/pdf", headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="access-request_{ref}_{found["language"]}.pdf"'})
