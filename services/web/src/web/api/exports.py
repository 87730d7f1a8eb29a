"""The FHIR exports' downloads (issue 21): ``/conventions/{id}/fhir``, ``/missions/{id}/fhir`` and
``/missions/{id}/fhir/procedures``, each the service's Bundle fetched with the person's token and
passed on as it came (``application/fhir+json``), never cached; a refusal is the refusal page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.access import PersonDep, ServicesDep
from web.api.forms import PRIVATE
from web.domain.commands import DownloadFhir

router = APIRouter(tags=["FHIR exports"])

MEDIA_TYPE = "application/fhir+json"


async def _bundle(request: Request, services: ServicesDep, export: str, record_id: uuid.UUID,
                  filename: str) -> Response:
    file = await request.app.state.web.bus.handle(DownloadFhir(export, record_id), services)
    return Response(file.content, media_type=MEDIA_TYPE, headers={
        **PRIVATE, "Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/conventions/{convention_id}/fhir")
async def convention_fhir(request: Request, convention_id: uuid.UUID, who: PersonDep,
                          services: ServicesDep) -> Response:
    return await _bundle(request, services, "convention", convention_id, f"convention_{convention_id}.fhir.json")


@router.get("/missions/{mission_id}/fhir")
async def mission_fhir(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep) -> Response:
    return await _bundle(request, services, "mission", mission_id, f"mission_{mission_id}.fhir.json")


@router.get("/missions/{mission_id}/fhir/procedures")
async def procedures_fhir(request: Request, mission_id: uuid.UUID, who: PersonDep,
                          services: ServicesDep) -> Response:
    return await _bundle(request, services, "procedures", mission_id,
                         f"mission_{mission_id}_procedures.fhir.json")
