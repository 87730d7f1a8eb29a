"""The privacy officer's page: who read the identity of the institution's patients."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from web.access import PersonDep, ServicesDep
from web.adapters import documents, languages
from web.api.forms import PRIVATE
from web.api.rendering import page
from web.domain.commands import DownloadAccessRequest, ShowAccessHistory

router = APIRouter(prefix="/hosts", tags=["privacy"])
requests = APIRouter(tags=["privacy"])


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


Language = Annotated[str | None, Query(max_length=2, description="fr, ar, en; empty: the family contact's, "
                                                                  "else the page's")]
PatientRef = Annotated[str, Path(min_length=1, max_length=40)]


@requests.get("/cases/{case_id}/access-request.pdf")
async def access_request(request: Request, case_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                         language: Language = None) -> Response:
    """The family's access request as a PDF: both services' exports with the person's token (each
    decides who may: the host's clinicians and privacy officer; a refusal is the refusal page)."""
    return await _pdf(request, services, DownloadAccessRequest(case_id, _language(language)))


@requests.get("/patients/{patient_ref}/access-request.pdf")
async def patient_access_request(request: Request, patient_ref: PatientRef, who: PersonDep, services: ServicesDep,
                                 language: Language = None) -> Response:
    """The same, by the patient's reference (the privacy officer's page lists patients by it)."""
    return await _pdf(request, services, DownloadAccessRequest(None, _language(language), patient_ref))


@requests.get("/patients/{patient_ref}/access-request.json")
async def patient_access_request_json(request: Request, patient_ref: PatientRef, who: PersonDep,
                                      services: ServicesDep) -> Response:
    """What both services export of the patient, as JSON (the services' own fields, each part
    from the service that holds it), as a download."""
    found = await request.app.state.web.bus.handle(DownloadAccessRequest(None, None, patient_ref), services)
    body = {k: v for k, v in found.items() if k != "language"}
    return Response(json.dumps(body, ensure_ascii=False, indent=1).encode(), media_type="application/json",
                    headers=_attachment(f"access-request_{_safe(found['case']['patient_ref'])}.json"))


def _language(asked: str | None) -> str | None:
    return asked if asked in languages.LANGUAGES else None


def _safe(patient_ref: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", patient_ref)[:60]


def _attachment(filename: str) -> dict[str, str]:
    return {**PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'}


async def _pdf(request: Request, services: ServicesDep, query: DownloadAccessRequest) -> Response:
    found = await request.app.state.web.bus.handle(query, services)
    content = await run_in_threadpool(documents.pdf, access_request_html(request.app.state.web.pages, found))
    return Response(content, media_type="application/pdf", headers=_attachment(
        f"access-request_{_safe(found['case']['patient_ref'])}_{found['language']}.pdf"))
