"""HTTP API: body -> command -> handler -> response; nothing else."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from convention import access, handlers
from convention.domain.conventions import (
    Amendment,
    Convention,
    ConventionKind,
    ConventionStatus,
    CostBearer,
    Objectives,
    Party,
    Terms,
)
from convention.domain.institutions import Institution, RegisterInstitution, UpdateInstitution
from convention.domain.progress import Progress
from convention.store import ConventionUnitOfWork, terms_json
from jumelage.api import Command, IsoDate, Limit, Offset, Patch, clearable
from jumelage.clock import Clock
from jumelage.errors import NotFound
from jumelage.events.convention import InstitutionKind, PartyRole
from jumelage.auth import CallerDep, Role, require
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import clock, unit_of_work

UoW = Annotated[ConventionUnitOfWork, Depends(unit_of_work)]
Today = Annotated[Clock, Depends(clock)]
Body = Command  # unknown fields refused, strings stripped, floats finite (README: Input rules)
COUNTRY = Field(pattern=r"^[A-Za-z]{2}$", min_length=2, max_length=2, description="ISO 3166-1 alpha-2",
                examples=["DZ"])
Specialty = Annotated[str, Field(min_length=1, max_length=200)]
MAX_PARTIES = 20  # a convention's parties, specialties and cost bearers each


# -- institutions -------------------------------------------------------------------

institutions = APIRouter(prefix="/institutions", tags=["institutions"])


class InstitutionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "CMCI Bousmail", "kind": "clinic", "country": "DZ", "city": "Bou Ismaïl", "wilaya": "Tipaza"}]})

    name: str = Field(min_length=1, max_length=300, examples=["CMCI Bousmail"])
    kind: InstitutionKind
    country: str = COUNTRY
    city: str = Field(min_length=1, max_length=200, examples=["Bou Ismaïl"])
    wilaya: str | None = Field(default=None, max_length=100, examples=["Tipaza"])


class InstitutionPatch(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"city": "Bou Ismaïl", "wilaya": "Tipaza"}]})

    name: str | None = Field(default=None, min_length=1, max_length=300)
    kind: InstitutionKind | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$", min_length=2, max_length=2)
    city: str | None = Field(default=None, min_length=1, max_length=200)
    wilaya: str | None = clearable(max_length=100)


class InstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: InstitutionKind
    country: str
    city: str
    wilaya: str | None
    registered_at: datetime

    @classmethod
    def of(cls, i: Institution) -> InstitutionOut:
        return cls(id=i.id, name=i.name, kind=i.kind, country=i.country, city=i.city, wilaya=i.wilaya,
                   registered_at=i.registered_at)


class InstitutionPage(BaseModel):
    items: list[InstitutionOut]
    total: int
    limit: int
    offset: int


@institutions.post("", status_code=201, response_model=InstitutionOut, summary="Register an institution",
                   dependencies=[access.ADMINISTRATOR])
async def register_institution(body: InstitutionIn, uow: UoW) -> InstitutionOut:
    institution = await handlers.register_institution(RegisterInstitution(**body.model_dump()), uow)
    return InstitutionOut.of(institution)


@institutions.patch("/{institution_id}", response_model=InstitutionOut, summary="Correct an institution",
                    dependencies=[access.ADMINISTRATOR])
async def update_institution(institution_id: uuid.UUID, body: InstitutionPatch, uow: UoW) -> InstitutionOut:
    cmd = UpdateInstitution(institution_id=institution_id, changes=body.changes())
    return InstitutionOut.of(await handlers.update_institution(cmd, uow))


@institutions.get("/{institution_id}", response_model=InstitutionOut)
async def get_institution(institution_id: uuid.UUID, uow: UoW) -> InstitutionOut:
    async with uow:
        institution = await uow.institutions.get(institution_id)
    if institution is None:
        raise NotFound(f"no institution {institution_id}")
    return InstitutionOut.of(institution)


@institutions.get("", response_model=InstitutionPage, summary="List and search institutions")
async def list_institutions(
    uow: UoW,
    kind: InstitutionKind | None = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$", min_length=2, max_length=2)] = None,
    wilaya: Annotated[str | None, Query(max_length=100)] = None,
    city: Annotated[str | None, Query(max_length=200)] = None,
    name: Annotated[str | None, Query(max_length=300, description="part of the name")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InstitutionPage:
    async with uow:
        items, total = await uow.institutions.search(
            kind=kind.value if kind else None, country=country, wilaya=wilaya, city=city, name=name,
            limit=limit, offset=offset,
        )
    return InstitutionPage(items=[InstitutionOut.of(i) for i in items], total=total, limit=limit, offset=offset)


# -- conventions --------------------------------------------------------------------

conventions = APIRouter(prefix="/conventions", tags=["conventions"])


class PartyIn(Body):
    institution_id: uuid.UUID
    role: PartyRole


MAX_OBJECTIVE = 100_000


class ObjectivesIn(Body):
    surgeries: int = Field(default=0, ge=0, le=MAX_OBJECTIVE, description="surgeries to perform over the whole period")
    consultations: int = Field(default=0, ge=0, le=MAX_OBJECTIVE)
    training_sessions: int = Field(default=0, ge=0, le=MAX_OBJECTIVE)


class ObjectivesChange(Patch):
    surgeries: int | None = Field(default=None, ge=0, le=MAX_OBJECTIVE)
    consultations: int | None = Field(default=None, ge=0, le=MAX_OBJECTIVE)
    training_sessions: int | None = Field(default=None, ge=0, le=MAX_OBJECTIVE)


class CostBearerIn(Body):
    institution_id: uuid.UUID
    covers: str = Field(min_length=1, max_length=500, examples=["travel and stay of the visiting team"])


class ConventionIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "reference": "CNAS-GSD-2024-01", "title": "Paediatric cardiac surgery at CMCI Bousmail",
        "kind": "international_cooperation",
        "parties": [{"institution_id": "4f6b2a8e-3c1d-4e5f-9a7b-1c2d3e4f5a6b", "role": "funder"},
                    {"institution_id": "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "role": "provider"},
                    {"institution_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6", "role": "beneficiary"}],
        "effective_from": "2024-05-20", "effective_until": "2025-05-19",
        "specialties": ["paediatric cardiac surgery"],
        "objectives": {"surgeries": 40, "consultations": 120, "training_sessions": 10},
        "cost_bearers": [{"institution_id": "4f6b2a8e-3c1d-4e5f-9a7b-1c2d3e4f5a6b",
                          "covers": "travel and stay of the visiting team"}]}]})

    reference: str = Field(min_length=1, max_length=100, examples=["CNAS-GSD-2024-01"])
    title: str = Field(min_length=1, max_length=500, examples=["Paediatric cardiac surgery at CMCI Bousmail"])
    kind: ConventionKind = ConventionKind.twinning
    parties: list[PartyIn] = Field(min_length=2, max_length=MAX_PARTIES)
    effective_from: date
    effective_until: date
    specialties: list[Specialty] = Field(min_length=1, max_length=MAX_PARTIES,
                                         examples=[["paediatric cardiac surgery"]])
    objectives: ObjectivesIn = ObjectivesIn()
    cost_bearers: list[CostBearerIn] = Field(default=[], max_length=MAX_PARTIES)

    def terms(self) -> Terms:
        return Terms(
            title=self.title, kind=self.kind,
            parties=tuple(Party(p.institution_id, p.role) for p in self.parties),
            effective_from=self.effective_from, effective_until=self.effective_until,
            specialties=tuple(self.specialties), objectives=Objectives(**self.objectives.model_dump()),
            cost_bearers=tuple(CostBearer(c.institution_id, c.covers) for c in self.cost_bearers),
        )


class TermsChange(Patch):
    """The terms that change; absent ones stay as they are (``cost_bearers: []`` removes them all)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"title": "Paediatric cardiac surgery and training at CMCI Bousmail", "effective_until": "2025-12-31",
         "objectives": {"surgeries": 60}}]})

    title: str | None = Field(default=None, min_length=1, max_length=500)
    kind: ConventionKind | None = None
    parties: list[PartyIn] | None = Field(default=None, min_length=2, max_length=MAX_PARTIES)
    effective_from: date | None = None
    effective_until: date | None = None
    specialties: list[Specialty] | None = Field(default=None, min_length=1, max_length=MAX_PARTIES)
    objectives: ObjectivesChange | None = None
    cost_bearers: list[CostBearerIn] | None = Field(default=None, max_length=MAX_PARTIES)

    def changes(self) -> dict[str, Any]:
        given = super().changes()
        if self.parties is not None:
            given["parties"] = [Party(p.institution_id, p.role) for p in self.parties]
        if self.cost_bearers is not None:
            given["cost_bearers"] = [CostBearer(c.institution_id, c.covers) for c in self.cost_bearers]
        if self.objectives is not None:
            given["objectives"] = self.objectives.changes()
        return given


class SignIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"signed_on": "2024-05-20", "signed_at": "Alger"}]})

    signed_on: date
    signed_at: str = Field(min_length=1, max_length=200, examples=["Alger"], description="place of signature")


class ReasonIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "the host's operating block is closed"}]})

    reason: str = Field(min_length=1, max_length=2000)


class TerminateIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"on": "2024-12-31", "reason": "the programme ended"}]})

    on: date
    reason: str = Field(min_length=1, max_length=2000)


class AmendmentIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"signed_on": "2024-09-01", "summary": "Avenant n°1: ten more surgeries",
         "changes": {"objectives": {"surgeries": 50}}}]})

    signed_on: date = Field(description="when the amendment (avenant) was signed")
    summary: str = Field(default="", max_length=2000)
    changes: TermsChange


class AmendmentOut(BaseModel):
    number: int
    signed_on: date
    summary: str
    changes: dict[str, Any]
    recorded_at: datetime

    @classmethod
    def of(cls, a: Amendment) -> AmendmentOut:
        return cls(number=a.number, signed_on=a.signed_on, summary=a.summary, recorded_at=a.recorded_at,
                   changes={k: terms_json(k, v) for k, v in a.changes.items()})


class ConventionOut(BaseModel):
    id: uuid.UUID
    reference: str
    title: str
    kind: ConventionKind
    status: ConventionStatus
    parties: list[PartyIn]
    effective_from: date
    effective_until: date
    specialties: list[str]
    objectives: ObjectivesIn
    cost_bearers: list[CostBearerIn]
    signed_on: date | None
    signed_at: str | None
    status_reason: str | None
    ended_on: date | None
    amendments: int = Field(description="how many amendments (avenants) it has had")
    created_at: datetime
    version: int = Field(description="raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime = Field(description="when it last changed")

    @classmethod
    def of(cls, c: Convention) -> ConventionOut:
        t = c.terms
        return cls(
            id=c.id, reference=c.reference, title=t.title, kind=t.kind, status=c.status,
            parties=terms_json("parties", t.parties), effective_from=t.effective_from,
            effective_until=t.effective_until, specialties=list(t.specialties),
            objectives=terms_json("objectives", t.objectives), cost_bearers=terms_json("cost_bearers", t.cost_bearers),
            signed_on=c.signed_on, signed_at=c.signed_at, status_reason=c.status_reason, ended_on=c.ended_on,
            amendments=len(c.amendments), created_at=c.created_at, version=c.version, updated_at=c.updated_at,
        )


class ConventionPage(BaseModel):
    items: list[ConventionOut]
    total: int
    limit: int
    offset: int


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    details: dict[str, Any]
    event_id: uuid.UUID | None
    correlation_id: str | None


class CountOut(BaseModel):
    done: int
    target: int
    percent: float | None


class ProgressOut(BaseModel):
    convention_id: uuid.UUID
    reference: str
    status: ConventionStatus
    surgeries: CountOut
    consultations: CountOut
    training_sessions: CountOut
    surgery_outcomes: dict[str, int]
    treated_locally_instead_of_abroad: int = Field(
        description="patients who had been referred for treatment abroad and were operated under this convention")
    training_hours: float
    trainees: int = Field(description="trainee places over all sessions")
    missions_completed: int
    reported_by_missions: dict[str, int] = Field(description="totals the completed missions reported")
    last_activity_at: datetime | None

    @classmethod
    def of(cls, c: Convention, p: Progress) -> ProgressOut:
        def count(x: Any) -> CountOut:
            return CountOut(done=x.done, target=x.target, percent=x.percent)

        return cls(
            convention_id=c.id, reference=c.reference, status=c.status, surgeries=count(p.surgeries),
            consultations=count(p.consultations), training_sessions=count(p.training_sessions),
            surgery_outcomes=p.surgery_outcomes, treated_locally_instead_of_abroad=p.treated_locally_instead_of_abroad,
            training_hours=p.training_hours, trainees=p.trainees, missions_completed=p.missions_completed,
            reported_by_missions=p.reported_by_missions, last_activity_at=p.last_activity_at,
        )


@conventions.post("", status_code=201, response_model=ConventionOut, summary="Draft a convention",
                  dependencies=[require(Role.coordinator, to="draft a convention")], responses=read_responses(201))
async def draft_convention(body: ConventionIn, uow: UoW, caller: CallerDep, response: Response) -> ConventionOut:
    access.drafting(caller, {p.institution_id for p in body.parties})
    cmd = handlers.DraftConvention(reference=body.reference, terms=body.terms())
    return tagged(response, ConventionOut.of(await handlers.draft_convention(cmd, uow)))


@conventions.get("", response_model=ConventionPage, summary="List and filter conventions")
async def list_conventions(
    uow: UoW,
    caller: CallerDep,
    status: ConventionStatus | None = None,
    party: Annotated[uuid.UUID | None, Query(description="an institution that is party to it")] = None,
    specialty: Annotated[str | None, Query(max_length=200)] = None,
    active_on: Annotated[IsoDate | None, Query(description="signed, not suspended, and in its period that day")] = None,
    q: Annotated[str | None, Query(max_length=300, description="part of the reference or title")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ConventionPage:
    party = access.listing(caller, party)
    async with uow:
        items, total = await uow.conventions.search(
            status=status.value if status else None, party=party, specialty=specialty, active_on=active_on,
            reference=q, limit=limit, offset=offset,
        )
    return ConventionPage(items=[ConventionOut.of(c) for c in items], total=total, limit=limit, offset=offset)


@conventions.get("/{convention_id}", response_model=ConventionOut, responses=read_responses())
async def get_convention(convention: access.ReaderOfParty, response: Response) -> ConventionOut:
    return tagged(response, ConventionOut.of(convention))


# Every change below takes an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@conventions.patch("/{convention_id}", response_model=ConventionOut, summary="Edit a draft",
                   responses=change_responses())
async def edit_draft(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: TermsChange, uow: UoW, expected: IfMatchDep,
    response: Response,
) -> ConventionOut:
    cmd = handlers.EditDraft(convention_id=convention_id, changes=body.changes())
    return tagged(response, ConventionOut.of(await handlers.edit_draft(cmd, uow, expected=expected)))


@conventions.delete("/{convention_id}", status_code=204, summary="Discard a draft (never a signed convention)",
                    responses=change_responses(None))
async def discard_draft(convention_id: uuid.UUID, _: access.CoordinatorOfParty, uow: UoW,
                        expected: IfMatchDep) -> None:
    await handlers.discard_draft(handlers.DiscardDraft(convention_id), uow, expected=expected)


@conventions.post("/{convention_id}/sign", response_model=ConventionOut, responses=change_responses())
async def sign_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: SignIn, uow: UoW, now: Today,
    expected: IfMatchDep, response: Response,
) -> ConventionOut:
    cmd = handlers.SignConvention(convention_id, body.signed_on, body.signed_at, today=now.today())
    return tagged(response, ConventionOut.of(await handlers.sign_convention(cmd, uow, expected=expected)))


@conventions.post("/{convention_id}/suspend", response_model=ConventionOut, responses=change_responses())
async def suspend_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: ReasonIn, uow: UoW, expected: IfMatchDep,
    response: Response,
) -> ConventionOut:
    cmd = handlers.SuspendConvention(convention_id, body.reason)
    return tagged(response, ConventionOut.of(await handlers.suspend_convention(cmd, uow, expected=expected)))


@conventions.post("/{convention_id}/resume", response_model=ConventionOut, responses=change_responses())
async def resume_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: ReasonIn, uow: UoW, expected: IfMatchDep,
    response: Response,
) -> ConventionOut:
    cmd = handlers.ResumeConvention(convention_id, body.reason)
    return tagged(response, ConventionOut.of(await handlers.resume_convention(cmd, uow, expected=expected)))


@conventions.post("/{convention_id}/terminate", response_model=ConventionOut, responses=change_responses())
async def terminate_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: TerminateIn, uow: UoW, expected: IfMatchDep,
    response: Response,
) -> ConventionOut:
    cmd = handlers.TerminateConvention(convention_id, body.on, body.reason)
    return tagged(response, ConventionOut.of(await handlers.terminate_convention(cmd, uow, expected=expected)))


@conventions.post("/{convention_id}/amendments", status_code=201, response_model=AmendmentOut,
                  summary="Record an amendment (avenant); the convention's new ETag is in its GET",
                  responses=change_responses(None))
async def amend_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: AmendmentIn, uow: UoW, expected: IfMatchDep,
) -> AmendmentOut:
    cmd = handlers.AmendConvention(convention_id, body.signed_on, body.summary, body.changes.changes())
    return AmendmentOut.of(await handlers.amend_convention(cmd, uow, expected=expected))


@conventions.get("/{convention_id}/amendments", response_model=list[AmendmentOut])
async def list_amendments(convention: access.ReaderOfParty) -> list[AmendmentOut]:
    return [AmendmentOut.of(a) for a in convention.amendments]


@conventions.get("/{convention_id}/history", response_model=list[HistoryEntry],
                 summary="Everything that happened to the convention, oldest first")
async def convention_history(convention_id: uuid.UUID, _: access.ReaderOfParty, uow: UoW) -> list[HistoryEntry]:
    async with uow:
        return [HistoryEntry(at=r.at, action=r.action, details=r.details, event_id=r.event_id,
                             correlation_id=r.correlation_id) for r in await uow.conventions.history(convention_id)]


@conventions.get("/{convention_id}/progress", response_model=ProgressOut,
                 summary="What the convention achieved against its objectives")
async def convention_progress(convention_id: uuid.UUID, _: access.ProgressReader, uow: UoW) -> ProgressOut:
    convention, progress = await handlers.convention_progress(convention_id, uow)
    return ProgressOut.of(convention, progress)


routers = [institutions, conventions]
