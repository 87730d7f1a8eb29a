"""Patient cases: a host's waiting list. The only place the patient's identity is shown."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body, ReasonIn
from scheduling.api.readiness import ReadinessSummaryOut
from scheduling.domain.cases import CaseStatus, PatientCase, PatientIdentity, RiskScheme, Sex
from scheduling.domain.commands import (
    AccessRequest,
    CancelCase,
    EditCase,
    EraseIdentity,
    GetCase,
    GiveConsent,
    ReferCaseElsewhere,
    RegisterCase,
    WaitingList,
    WaitingListFigures,
    WithdrawConsent,
)
from scheduling.domain.values import Purpose
from jumelage.auth import CallerDep
from jumelage.clock import Clock
from jumelage.api import NEXT_LINK_HEADER, Cursor, Limit, Patch, link_next
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep, clock as clock_dependency

router = APIRouter(tags=["patient cases"])
ClockDep = Annotated[Clock, Depends(clock_dependency)]


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
    full_name: str | None = Field(description="null unless the identity is shown")
    date_of_birth: date | None = Field(description="null unless the identity is shown")
    sex: Sex
    weight_kg: float


class ConsentOut(BaseModel):
    purpose: Purpose
    recorded_by: str = Field(description="who recorded it (their token's subject)")
    recorded_at: datetime


class CaseOut(BaseModel):
    id: uuid.UUID
    patient_ref: str
    host_institution_id: uuid.UUID
    identity: Literal["shown", "withheld", "erased"] = Field(
        description="the patient's name and date of birth: shown; withheld (a visiting clinician, without the "
                    "family's consent to share); erased (a family's request or the retention period): then "
                    "`patient` has no name nor date of birth, its sex and weight stay (clinical facts)")
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
    consents: list[ConsentOut] = Field(description="the purposes the family consented to: care, notifications, "
                                                   "sharing (with the visiting institution abroad)")
    closed_at: datetime | None = Field(description="when it was operated, cancelled or referred elsewhere")
    erased_at: datetime | None = Field(description="when its patient's identity was erased")
    version: int = Field(description="raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime = Field(description="when it last changed")

    @classmethod
    def of(cls, c: PatientCase, *, identity: bool = True) -> CaseOut:
        """``identity``: the caller may see it (the host's clinicians; a visiting clinician with the
        family's consent to share); otherwise the clinical facts only."""
        p = c.patient
        shown = "erased" if c.erased_at is not None else "shown" if identity else "withheld"
        return cls(id=c.id, patient_ref=c.patient_ref, host_institution_id=c.host_institution_id, identity=shown,
                   patient=PatientOut(full_name=p.full_name if shown == "shown" else None,
                                      date_of_birth=p.date_of_birth if shown == "shown" else None, sex=p.sex,
                                      weight_kg=p.weight_kg),
                   consents=[ConsentOut(purpose=k, recorded_by=v.by, recorded_at=v.at)
                             for k in Purpose if (v := c.consents.get(k)) is not None],
                   closed_at=c.closed_at, erased_at=c.erased_at,
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
    name: Annotated[str | None, Query(min_length=1, max_length=300,
                                      description="the cases of a patient by name (case, accents and spaces "
                                                  "do not matter; found by a keyed hash)")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> list[CaseOut]:
    """Up to `limit` cases, by priority, then registration, then id. Where more follow, the
    `Link` header names the next page (`rel="next"`, the same filters and a `cursor`):
    pages follow one another without repeating or skipping a case, whatever is registered
    in between."""
    query = WaitingList(institution_id, status=status, priority=priority, name=name, limit=limit, cursor=cursor)
    cases, after = await bus.handle(query, uow)
    link_next(request, response, after)
    return [CaseOut.of(c) for c in cases]


@router.get("/cases/{case_id}", response_model=CaseOut, responses=read_responses(),
            summary="A case: its host's clinicians see the patient's identity; the visiting institution's, "
                    "only with the family's consent to share it")
async def get_case(case_id: uuid.UUID, identity: access.ShowIdentity, uow: UoW, bus: BusDep,
                   response: Response) -> CaseOut:
    case = await bus.handle(GetCase(case_id, identity=identity), uow)
    return tagged(response, CaseOut.of(case, identity=identity))


class ActivityOut(BaseModel):
    kind: Literal["surgery", "consultation"]
    id: uuid.UUID
    mission_id: uuid.UUID
    what: str = Field(description="the procedure, or the consultation's specialty")
    scheduled_at: datetime
    status: str
    outcome: str | None = None


class AccessOut(BaseModel):
    at: datetime
    subject: str
    institution_id: uuid.UUID | None
    roles: list[str]
    action: str
    what: str


class AccessRequestOut(BaseModel):
    """Everything this service holds of a patient: the family's access request (GDPR art. 15,
    law 18-07 art. 34). The family's contact details and what was sent to it are the
    notification service's (``GET /families/{patient_ref}/access-request`` there)."""

    exported_at: datetime
    case: CaseOut
    activities: list[ActivityOut]
    accesses: list[AccessOut] = Field(description="who read the patient's identity, newest first")


@router.get("/cases/{case_id}/access-request", response_model=AccessRequestOut,
            summary="A patient's data for the family's access request (the host's clinician or privacy officer)",
            dependencies=[access.ERASER], responses=read_responses())
async def access_request(case_id: uuid.UUID, uow: UoW, bus: BusDep, clock: ClockDep) -> AccessRequestOut:
    return _access_request_out(await bus.handle(AccessRequest(case_id), uow), clock)


@router.get("/patients/{patient_ref}/access-request", response_model=AccessRequestOut,
            summary="The same, found by the patient's reference (as the privacy officer's access history "
                    "names patients)", dependencies=[access.PATIENT_ANSWERER], responses=read_responses())
async def access_request_by_ref(patient_ref: Annotated[str, Path(min_length=1, max_length=40)], uow: UoW,
                                bus: BusDep, clock: ClockDep) -> AccessRequestOut:
    return _access_request_out(await bus.handle(AccessRequest(None, patient_ref), uow), clock)


def _access_request_out(found: dict[str, Any], clock: Any) -> AccessRequestOut:
    activities = [ActivityOut(kind="surgery", id=s.id, mission_id=s.mission_id, what=s.procedure,
                              scheduled_at=s.scheduled_start, status=s.status.value,
                              outcome=s.outcome.value if s.outcome else None) for s in found["surgeries"]]
    activities += [ActivityOut(kind="consultation", id=c.id, mission_id=c.mission_id, what=c.specialty,
                               scheduled_at=c.scheduled_at, status=c.status.value) for c in found["consultations"]]
    return AccessRequestOut(exported_at=clock.now(), case=CaseOut.of(found["case"]),
                            activities=sorted(activities, key=lambda a: a.scheduled_at),
                            accesses=[AccessOut(**{**a, "roles": a["roles"].split()}) for a in found["accesses"]])


class ConsentIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"purpose": "sharing"}]})

    purpose: Purpose


@router.post("/cases/{case_id}/consents", response_model=CaseOut,
             summary="Record the family's consent to a purpose (care, notifications, sharing)",
             dependencies=[access.CASE_CLINICIAN], responses=change_responses())
async def give_consent(case_id: uuid.UUID, body: ConsentIn, caller: CallerDep, uow: UoW, bus: BusDep,
                       expected: IfMatchDep, response: Response) -> CaseOut:
    cmd = GiveConsent(case_id, body.purpose, by=caller.subject, expected=expected)
    return tagged(response, CaseOut.of(await bus.handle(cmd, uow)))


@router.delete("/cases/{case_id}/consents/{purpose}", response_model=CaseOut,
               summary="The family withdraws its consent to a purpose", dependencies=[access.CASE_CLINICIAN],
               responses=change_responses())
async def withdraw_consent(case_id: uuid.UUID, purpose: Purpose, uow: UoW, bus: BusDep, expected: IfMatchDep,
                           response: Response) -> CaseOut:
    cmd = WithdrawConsent(case_id, purpose, expected=expected)
    return tagged(response, CaseOut.of(await bus.handle(cmd, uow)))


@router.post("/cases/{case_id}/erase", response_model=CaseOut,
             summary="Erase the patient's identity on the family's request (the host's clinician or privacy "
                     "officer); the family's contact details go too, and what was pending for them",
             dependencies=[access.ERASER], responses=change_responses())
async def erase_identity(case_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep,
                         response: Response) -> CaseOut:
    return tagged(response, CaseOut.of(await bus.handle(EraseIdentity(case_id, expected=expected), uow)))


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


# -- the waiting list's figures by period (counts only) ------------------------------------------


class LeftOut(BaseModel):
    cancelled: int
    referred_elsewhere: int


class FiguresOut(BaseModel):
    waiting_at_end: int = Field(description="registered before the period's end, neither treated nor left by then")
    registered: int
    treated: int = Field(description="their surgery completed in the period (with convention_id: in its missions)")
    left: LeftOut = Field(description="closed without surgery in the period, by reason")
    median_days_waited: float | None = Field(description="of the cases treated in the period; null when none")


class PeriodFiguresOut(FiguresOut):
    period: str = Field(description="first_day/last_day")
    first_day: date
    last_day: date


class TotalFiguresOut(FiguresOut):
    first_day: date
    last_day: date


class WaitingListFiguresOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    institution_id: uuid.UUID
    convention_id: uuid.UUID | None
    by: Literal["month", "quarter", "year"]
    from_: date = Field(alias="from")
    to: date
    timezone: str = Field(description="the host's: the periods' days are on its clock")
    periods: list[PeriodFiguresOut]
    total: TotalFiguresOut
    rule: str = Field(description="how each figure is counted")


@router.get("/institutions/{institution_id}/waiting-list/figures", response_model=WaitingListFiguresOut,
            response_model_by_alias=True, summary="The waiting list's figures by month, quarter or year",
            dependencies=[access.FIGURES_READ])
async def waiting_list_figures(
    institution_id: uuid.UUID, uow: UoW, bus: BusDep,
    from_: Annotated[date | None, Query(alias="from", description="first day (host's calendar); default: "
                                                                  "the first of January of 'to''s year")] = None,
    to: Annotated[date | None, Query(description="last day, included, at most 10 years after 'from'; "
                                                 "default: today (host's calendar)")] = None,
    by: Annotated[Literal["month", "quarter", "year"], Query()] = "month",
    convention_id: Annotated[uuid.UUID | None, Query(description="treated only in this convention's missions")] = None,
) -> dict[str, Any]:
    """Per period: the cases waiting at its end, registered, treated and left (by reason) in it, and
    the median days the treated ones waited; the total over the range; ``rule`` says how each is
    counted. Counts only: no patient identity (so no identity-access row). Computed on read, one
    query per figure kind on the indexes of migration 0021."""
    query = WaitingListFigures(institution_id, by=by, first=from_, last=to, convention_id=convention_id)
    return await bus.handle(query, uow)
