"""Patient cases: a host's waiting list. The only place the patient's identity is shown."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body, ReasonIn
from scheduling.api.readiness import ReadinessSummaryOut
from scheduling.domain.cases import CaseStatus, PatientCase, PatientIdentity, RiskScheme, Sex
from scheduling.domain.commands import CancelCase, EditCase, GetCase, ReferCaseElsewhere, RegisterCase, WaitingList
from jumelage.api import NEXT_LINK_HEADER, Cursor, Limit, Patch, link_next
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep

router = APIRouter(tags=["patient cases"])


class PatientIn(Body):
    full_name: str = Field(min_length=1, max_length=300)
    date_of_birth: date
    sex: Sex
    weight_kg: float = Field(gt=0, le=400)


class CaseIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "patient": {"full_name": "Yacine B.", "date_of_birth": "2022-03-14", "sex": "male", "weight_kg": 11.5},
        "diagnosis": "Transposition of the great arteries", "planned_procedure": "Arterial switch",
        "priority": 1, "expected_duration_minutes": 300, "risk_scheme": "STAT", "risk_category": 4,
        "referred_abroad": True}]})

    patient: PatientIn
    diagnosis: str = Field(min_length=1, max_length=2000)
    planned_procedure: str = Field(min_length=1, max_length=300)
    priority: int = Field(ge=1, le=5, description="1 = most urgent")
    expected_duration_minutes: int = Field(gt=0, le=24 * 60)
    risk_scheme: RiskScheme = RiskScheme.none
    risk_category: int | None = Field(default=None, ge=1, le=6, description="STAT 1-5, RACHS-1 1-6")
    referred_abroad: bool = Field(default=False, description="had been referred for treatment abroad")

    def command(self, host_institution_id: uuid.UUID | None = None) -> RegisterCase:
        values = self.model_dump(exclude={"patient"})
        return RegisterCase(patient=PatientIdentity(**self.patient.model_dump()),
                            host_institution_id=host_institution_id, **values)


class PatientChange(Patch):
    full_name: str | None = Field(default=None, min_length=1, max_length=300)
    date_of_birth: date | None = None
    sex: Sex | None = None
    weight_kg: float | None = Field(default=None, gt=0, le=400)


class CaseChange(Patch):
    """A correction. What may change depends on the case's status: a waiting case, anything; a
    scheduled one, not its planned procedure, expected duration or risk (409: cancel its surgery
    first); an operated, cancelled or referred one, only the patient's identity (409)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"priority": 2, "patient": {"weight_kg": 12.1}, "diagnosis": "TGA with VSD"}]})

    patient: PatientChange | None = None
    diagnosis: str | None = Field(default=None, min_length=1, max_length=2000)
    planned_procedure: str | None = Field(default=None, min_length=1, max_length=300)
    priority: int | None = Field(default=None, ge=1, le=5, description="1 = most urgent")
    expected_duration_minutes: int | None = Field(default=None, gt=0, le=24 * 60)
    risk_scheme: RiskScheme | None = Field(default=None, description="to none: the risk category is cleared")
    risk_category: int | None = Field(default=None, ge=1, le=6, description="STAT 1-5, RACHS-1 1-6")
    referred_abroad: bool | None = None

    def changes(self) -> dict[str, Any]:
        given = super().changes()
        if self.patient is not None:
            given["patient"] = self.patient.changes()
        return given


class PatientOut(BaseModel):
    full_name: str
    date_of_birth: date
    sex: Sex
    weight_kg: float


class CaseOut(BaseModel):
    id: uuid.UUID
    patient_ref: str
    host_institution_id: uuid.UUID
    patient: PatientOut
    diagnosis: str
    planned_procedure: str
    priority: int
    expected_duration_minutes: int
    risk_scheme: RiskScheme
    risk_category: int | None
    referred_abroad: bool
    status: CaseStatus
    status_reason: str | None
    registered_at: datetime
    readiness: ReadinessSummaryOut = Field(description="ready, or what it lacks; the checklist's items")
    version: int = Field(description="raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime = Field(description="when it last changed")

    @classmethod
    def of(cls, c: PatientCase) -> CaseOut:
        p = c.patient
        return cls(id=c.id, patient_ref=c.patient_ref, host_institution_id=c.host_institution_id,
                   patient=PatientOut(full_name=p.full_name, date_of_birth=p.date_of_birth, sex=p.sex,
                                      weight_kg=p.weight_kg),
                   diagnosis=c.diagnosis, planned_procedure=c.planned_procedure, priority=c.priority,
                   expected_duration_minutes=c.expected_duration_minutes, risk_scheme=c.risk_scheme,
                   risk_category=c.risk_category, referred_abroad=c.referred_abroad, status=c.status,
                   status_reason=c.status_reason, registered_at=c.registered_at,
                   readiness=ReadinessSummaryOut.of(c), version=c.version,
                   updated_at=c.updated_at)


@router.post("/institutions/{institution_id}/cases", status_code=201, response_model=CaseOut,
             summary="Put a patient on a host's waiting list", dependencies=[access.CASES],
             responses=read_responses(201))
async def register_case(institution_id: uuid.UUID, body: CaseIn, uow: UoW, bus: BusDep,
                        response: Response) -> CaseOut:
    case = await bus.handle(body.command(institution_id), uow)
    return tagged(response, CaseOut.of(case))


@router.get("/institutions/{institution_id}/cases", response_model=list[CaseOut],
            summary="A host's waiting list, most urgent first, a page at a time", dependencies=[access.CASES],
            responses={200: {"description": "a page of the list (keyset paging: the next page's URL in the "
                                            "`Link` header)", "headers": NEXT_LINK_HEADER}})
async def waiting_list(
    institution_id: uuid.UUID,
    request: Request,
    response: Response,
    uow: UoW,
    bus: BusDep,
    status: CaseStatus | None = None,
    priority: Annotated[int | None, Query(ge=1, le=5)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> list[CaseOut]:
    """Up to `limit` cases, by priority, then registration, then id. Where more follow, the
    `Link` header names the next page (`rel="next"`, the same filters and a `cursor`):
    pages follow one another without repeating or skipping a case, whatever is registered
    in between."""
    query = WaitingList(institution_id, status=status, priority=priority, limit=limit, cursor=cursor)
    cases, after = await bus.handle(query, uow)
    link_next(request, response, after)
    return [CaseOut.of(c) for c in cases]


@router.get("/cases/{case_id}", response_model=CaseOut, dependencies=[access.CASE_CLINICIAN],
            responses=read_responses())
async def get_case(case_id: uuid.UUID, uow: UoW, bus: BusDep, response: Response) -> CaseOut:
    return tagged(response, CaseOut.of(await bus.handle(GetCase(case_id), uow)))


# Every change below takes an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@router.patch("/cases/{case_id}", response_model=CaseOut, summary="Correct a patient case",
              dependencies=[access.CASE_CLINICIAN], responses=change_responses())
async def edit_case(case_id: uuid.UUID, body: CaseChange, uow: UoW, bus: BusDep, expected: IfMatchDep,
                    response: Response) -> CaseOut:
    cmd = EditCase(case_id, body.changes(), expected=expected)
    return tagged(response, CaseOut.of(await bus.handle(cmd, uow)))


@router.post("/cases/{case_id}/cancel", response_model=CaseOut, summary="Take a waiting case off the list",
             dependencies=[access.CASE_CLINICIAN], responses=change_responses())
async def cancel_case(case_id: uuid.UUID, body: ReasonIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                      response: Response) -> CaseOut:
    cmd = CancelCase(case_id, body.reason, expected=expected)
    return tagged(response, CaseOut.of(await bus.handle(cmd, uow)))


@router.post("/cases/{case_id}/refer-elsewhere", response_model=CaseOut,
             summary="The patient is treated elsewhere", dependencies=[access.CASE_CLINICIAN],
             responses=change_responses())
async def refer_case_elsewhere(case_id: uuid.UUID, body: ReasonIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                               response: Response) -> CaseOut:
    cmd = ReferCaseElsewhere(case_id, body.reason, expected=expected)
    return tagged(response, CaseOut.of(await bus.handle(cmd, uow)))
