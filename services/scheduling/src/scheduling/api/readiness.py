"""A case's readiness checklist (the host's clinicians and coordinators) and the visiting
team's screening notes (clinicians only). Kept apart from the case's own fields: the checklist
changes the case's version (its ETag), the notes are a collection of their own."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduling import access
from scheduling.access import UoW
from scheduling.api.common import Body
from scheduling.domain.cases import MAX_SCREENING_NOTE, PatientCase, ReadinessCheck, ScreeningNote
from scheduling.domain.commands import AddScreeningNote, CheckReadiness, GetCase, ScreeningNotes, WithdrawReadiness
from scheduling.domain.values import CaseStatus, ReadinessItem
from jumelage.auth import CallerDep
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep

router = APIRouter(tags=["patient cases"])


class ReadinessCheckOut(BaseModel):
    item: ReadinessItem
    label: str | None = Field(description="what an `other` item checked")
    checked_on: date
    checked_by: str = Field(description="who checked it (their token's subject)")
    recorded_at: datetime

    @classmethod
    def of(cls, c: ReadinessCheck) -> ReadinessCheckOut:
        return cls(item=c.item, label=c.label, checked_on=c.checked_on, checked_by=c.checked_by,
                   recorded_at=c.recorded_at)


class ReadinessSummaryOut(BaseModel):
    ready: bool = Field(description="every required item checked: consent_signed, tests_done, "
                                    "fit_for_anaesthesia, travel_arranged")
    missing: list[ReadinessItem] = Field(description="the required items not checked")
    items: list[ReadinessCheckOut]

    @classmethod
    def of(cls, c: PatientCase) -> ReadinessSummaryOut:
        return cls(ready=c.ready, missing=c.missing,
                   items=[ReadinessCheckOut.of(c.readiness[i]) for i in ReadinessItem if i in c.readiness])


class ReadinessOut(ReadinessSummaryOut):
    """A case's checklist, without the patient's identity (coordinators read it too)."""

    case_id: uuid.UUID
    patient_ref: str
    status: CaseStatus
    cancelled_surgery_id: uuid.UUID | None = Field(
        default=None, description="the surgery this withdrawal cancelled (the case is back on the waiting list)")
    version: int = Field(description="the case's: raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime

    @classmethod
    def of(cls, c: PatientCase, cancelled: uuid.UUID | None = None) -> ReadinessOut:  # type: ignore[override]
        summary = ReadinessSummaryOut.of(c)
        return cls(case_id=c.id, patient_ref=c.patient_ref, status=c.status, cancelled_surgery_id=cancelled,
                   version=c.version, updated_at=c.updated_at, **summary.model_dump())


class CheckIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"checked_on": "2030-06-02"},
                                                              {"label": "dental check", "checked_on": "2030-06-02"}]})

    checked_on: date | None = Field(default=None, description="when it was done; default: today (host's calendar)")
    label: str | None = Field(default=None, min_length=1, max_length=200, description="an `other` item's name")


class NoteIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"text": "Echo reviewed remotely: suitable for arterial switch; bring the 6 mm shunt."}]})

    text: str = Field(min_length=1, max_length=MAX_SCREENING_NOTE)


class NoteOut(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    text: str
    author: str
    author_institution_id: uuid.UUID | None
    recorded_at: datetime

    @classmethod
    def of(cls, n: ScreeningNote) -> NoteOut:
        return cls(id=n.id, case_id=n.case_id, text=n.text, author=n.author,
                   author_institution_id=n.author_institution_id, recorded_at=n.recorded_at)


@router.get("/cases/{case_id}/readiness", response_model=ReadinessOut, summary="A case's readiness checklist",
            dependencies=[access.READINESS_READ], responses=read_responses())
async def get_readiness(case_id: uuid.UUID, uow: UoW, bus: BusDep, response: Response) -> ReadinessOut:
    return tagged(response, ReadinessOut.of(await bus.handle(GetCase(case_id), uow)))


@router.put("/cases/{case_id}/readiness/{item}", response_model=ReadinessOut,
            summary="Check an item of a case's readiness", dependencies=[access.READINESS],
            responses=change_responses())
async def check_readiness(case_id: uuid.UUID, item: ReadinessItem, caller: CallerDep, uow: UoW, bus: BusDep,
                          expected: IfMatchDep, response: Response, body: CheckIn | None = None) -> ReadinessOut:
    body = body or CheckIn()
    cmd = CheckReadiness(case_id, item, checked_by=caller.subject, checked_on=body.checked_on, label=body.label,
                         expected=expected)
    return tagged(response, ReadinessOut.of(await bus.handle(cmd, uow)))


@router.delete("/cases/{case_id}/readiness/{item}", response_model=ReadinessOut,
               summary="Withdraw an item of a case's readiness (a booked surgery is then cancelled)",
               dependencies=[access.READINESS], responses=change_responses())
async def withdraw_readiness(case_id: uuid.UUID, item: ReadinessItem, uow: UoW, bus: BusDep, expected: IfMatchDep,
                             response: Response) -> ReadinessOut:
    case, cancelled = await bus.handle(WithdrawReadiness(case_id, item, expected=expected), uow)
    return tagged(response, ReadinessOut.of(case, cancelled.id if cancelled else None))


@router.post("/cases/{case_id}/screening-notes", status_code=201, response_model=NoteOut,
             summary="Record the visiting team's remote screening of a case", dependencies=[access.SCREENING])
async def add_screening_note(case_id: uuid.UUID, body: NoteIn, caller: CallerDep, uow: UoW,
                             bus: BusDep) -> NoteOut:
    cmd = AddScreeningNote(case_id, body.text, author=caller.subject, author_institution_id=caller.institution_id)
    return NoteOut.of(await bus.handle(cmd, uow))


@router.get("/cases/{case_id}/screening-notes", response_model=list[NoteOut],
            summary="A case's screening notes, oldest first", dependencies=[access.SCREENING])
async def screening_notes(case_id: uuid.UUID, uow: UoW, bus: BusDep) -> list[NoteOut]:
    return [NoteOut.of(n) for n in await bus.handle(ScreeningNotes(case_id), uow)]
