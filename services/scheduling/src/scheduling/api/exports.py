"""/missions/{id}/fhir and /missions/{id}/fhir/procedures: a mission as FHIR R4 Bundles, for those
who may read the mission; patients named for the host's clinicians only. Each export audited."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Response

from scheduling import access
from scheduling.access import UoW
from scheduling.domain.commands import MissionExport
from scheduling.domain.missions import Mission
from jumelage import fhir
from jumelage.auth import CallerDep
from jumelage.service import BusDep, ReadAuditDep

router = APIRouter(prefix="/missions", tags=["FHIR exports"])


async def _export(what: str, mission: Mission, caller: CallerDep, uow: UoW, bus: BusDep,
                  audit: ReadAuditDep) -> Response:
    bundle = await bus.handle(MissionExport(mission.id, what, access.sees_patients(caller, mission)), uow)
    await audit.record()
    return Response(json.dumps(bundle, ensure_ascii=False).encode(), media_type=fhir.MEDIA_TYPE,
                    headers=fhir.response_headers())


@router.get("/{mission_id}/fhir", response_class=Response, responses=fhir.OPENAPI_RESPONSE,  # type: ignore[arg-type]
            summary="The mission as a FHIR R4 Bundle: its CareTeam and an Appointment per surgery and consultation")
async def mission_fhir(mission_id: uuid.UUID, caller: CallerDep, uow: UoW, bus: BusDep, audit: ReadAuditDep,
                       mission: Mission = access.mission(access.READ)) -> Response:
    return await _export("mission", mission, caller, uow, bus, audit)


@router.get("/{mission_id}/fhir/procedures", response_class=Response,
            responses=fhir.OPENAPI_RESPONSE,  # type: ignore[arg-type]
            summary="The surgeries done in the mission as FHIR R4 Procedures (performers, outcome)")
async def mission_procedures_fhir(mission_id: uuid.UUID, caller: CallerDep, uow: UoW, bus: BusDep,
                                  audit: ReadAuditDep, mission: Mission = access.mission(access.READ)) -> Response:
    return await _export("procedures", mission, caller, uow, bus, audit)
