"""/conventions: drafts, the lifecycle, amendments and history (body -> command -> bus -> response)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from convention import access
from convention.access import UoW
from convention.domain.commands import (
    AmendConvention,
    ConventionHistory,
    DiscardDraft,
    DraftConvention,
    EditDraft,
    ResumeConvention,
    SearchConventions,
    SignConvention,
    SuspendConvention,
    TerminateConvention,
)
from convention.domain.conventions import (
    Amendment,
    Convention,
    ConventionKind,
    ConventionStatus,
    CostBearer,
    Money,
    Objectives,
    Party,
    ReferenceCost,
    Terms,
    YearObjectives,
)
from convention.domain.events import amendment_changes, terms_json
from jumelage.api import Command as Body  # unknown fields refused, strings stripped, floats finite (README: Input rules)
from jumelage.api import Cursor, IsoDate, Limit, Offset, Patch
from jumelage.auth import CallerDep, Role, require
from jumelage.events.convention import PartyRole
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep

Specialty = Annotated[str, Field(min_length=1, max_length=200)]
MAX_PARTIES = 20  # a convention's parties, specialties and cost bearers each
MAX_REFERENCE_COSTS = 100  # its lines of reference costs (a specialty's procedures each)

router = APIRouter(prefix="/conventions", tags=["conventions"])


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


MAX_YEARS = 31  # a convention's years with objectives of their own


class YearObjectivesIn(Body):
    """Targets for one calendar year of the convention's period, beside those over the whole period."""

    year: int = Field(ge=1900, le=2200, description="a calendar year within the convention's period",
                      examples=[2026])
    surgeries: int = Field(default=0, ge=0, le=MAX_OBJECTIVE)
    consultations: int = Field(default=0, ge=0, le=MAX_OBJECTIVE)
    training_sessions: int = Field(default=0, ge=0, le=MAX_OBJECTIVE)

    def domain(self) -> YearObjectives:
        return YearObjectives(self.year, self.surgeries, self.consultations, self.training_sessions)


class CostBearerIn(Body):
    institution_id: uuid.UUID
    covers: str = Field(min_length=1, max_length=500, examples=["travel and stay of the visiting team"])


class MoneyIn(Body):
    amount: str = Field(pattern=r"^\d{1,10}(\.\d{1,2})?$", max_length=13, examples=["30000.00"],
                        description="a decimal of at most 10 digits and 2 decimals, as a string (no rounding)")
    currency: str = Field(pattern=r"^[A-Z]{3}$", min_length=3, max_length=3, examples=["EUR"], description="ISO 4217")


class ReferenceCostIn(Body):
    """What treating one case costs abroad and here: the basis of "money not spent abroad"."""

    specialty: Specialty = Field(description="one of the convention's specialties")
    procedure: str | None = Field(default=None, min_length=1, max_length=300,
                                  description="one procedure of it; absent: the specialty's every other procedure")
    abroad: MoneyIn
    here: MoneyIn

    def domain(self) -> ReferenceCost:
        return ReferenceCost(self.specialty, self.procedure, Money(Decimal(self.abroad.amount), self.abroad.currency),
                             Money(Decimal(self.here.amount), self.here.currency))


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
    reference_costs: list[ReferenceCostIn] = Field(default=[], max_length=MAX_REFERENCE_COSTS)
    yearly_objectives: list[YearObjectivesIn] = Field(
        default=[], max_length=MAX_YEARS, description="targets per calendar year (each year of the period at most "
                                                      "once), beside the objectives over the whole period")

    def terms(self) -> Terms:
        return Terms(
            title=self.title, kind=self.kind,
            parties=tuple(Party(p.institution_id, p.role) for p in self.parties),
            effective_from=self.effective_from, effective_until=self.effective_until,
            specialties=tuple(self.specialties), objectives=Objectives(**self.objectives.model_dump()),
            cost_bearers=tuple(CostBearer(c.institution_id, c.covers) for c in self.cost_bearers),
            reference_costs=tuple(c.domain() for c in self.reference_costs),
            yearly_objectives=tuple(y.domain() for y in self.yearly_objectives),
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
    reference_costs: list[ReferenceCostIn] | None = Field(default=None, max_length=MAX_REFERENCE_COSTS)
    yearly_objectives: list[YearObjectivesIn] | None = Field(
        default=None, max_length=MAX_YEARS, description="the whole new list of yearly objectives ([]: none)")

    def changes(self) -> dict[str, Any]:
        given = super().changes()
        if self.parties is not None:
            given["parties"] = [Party(p.institution_id, p.role) for p in self.parties]
        if self.cost_bearers is not None:
            given["cost_bearers"] = [CostBearer(c.institution_id, c.covers) for c in self.cost_bearers]
        if self.reference_costs is not None:
            given["reference_costs"] = [c.domain() for c in self.reference_costs]
        if self.objectives is not None:
            given["objectives"] = self.objectives.changes()
        if self.yearly_objectives is not None:
            given["yearly_objectives"] = [y.domain() for y in self.yearly_objectives]
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
    effective_from: date | None = Field(
        default=None, description="the day its changes apply from, within the convention's period (default: "
                                  "signed_on); the reference costs in force on a surgery's day go by it")
    summary: str = Field(default="", max_length=2000)
    changes: TermsChange


class AmendmentOut(BaseModel):
    number: int
    signed_on: date
    effective_from: date = Field(description="the day its changes apply from")
    summary: str
    changes: dict[str, Any]
    recorded_at: datetime

    @classmethod
    def of(cls, a: Amendment) -> AmendmentOut:
        return cls(number=a.number, signed_on=a.signed_on, effective_from=a.applies_from, summary=a.summary,
                   recorded_at=a.recorded_at, changes=amendment_changes(a))


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
    reference_costs: list[ReferenceCostIn]
    yearly_objectives: list[YearObjectivesIn] = Field(description="targets per calendar year, oldest first")
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
            reference_costs=terms_json("reference_costs", t.reference_costs),
            yearly_objectives=terms_json("yearly_objectives", t.yearly_objectives),
            signed_on=c.signed_on, signed_at=c.signed_at, status_reason=c.status_reason, ended_on=c.ended_on,
            amendments=len(c.amendments), created_at=c.created_at, version=c.version, updated_at=c.updated_at,
        )


class DoneOut(BaseModel):
    done: int
    target: int
    percent: float | None


class ListedProgressOut(BaseModel):
    """What a convention has done against its objectives over the whole period (the counters)."""

    surgeries: DoneOut
    consultations: DoneOut
    training_sessions: DoneOut

    @classmethod
    def of(cls, c: Convention, done: dict[str, int]) -> ListedProgressOut:
        o = c.terms.objectives

        def count(name: str) -> DoneOut:
            n, target = done.get(name, 0), getattr(o, name)
            return DoneOut(done=n, target=target, percent=round(100 * n / target, 1) if target else None)

        return cls(surgeries=count("surgeries"), consultations=count("consultations"),
                   training_sessions=count("training_sessions"))


class ListedConventionOut(ConventionOut):
    progress: ListedProgressOut = Field(description="done against the objectives over the whole period")


class ConventionPage(BaseModel):
    items: list[ListedConventionOut]
    total: int
    limit: int
    offset: int
    next: str | None = Field(None, description="the next page's `cursor` (keyset paging; null on the last page)")


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    details: dict[str, Any]
    event_id: uuid.UUID | None
    correlation_id: str | None


@router.post("", status_code=201, response_model=ConventionOut, summary="Draft a convention",
             dependencies=[require(Role.coordinator, to="draft a convention")], responses=read_responses(201))
async def draft_convention(body: ConventionIn, uow: UoW, caller: CallerDep, response: Response,
                           bus: BusDep) -> ConventionOut:
    access.drafting(caller, {p.institution_id for p in body.parties})
    cmd = DraftConvention(reference=body.reference, terms=body.terms())
    return tagged(response, ConventionOut.of(await bus.handle(cmd, uow)))


@router.get("", response_model=ConventionPage, summary="List and filter conventions")
async def list_conventions(
    uow: UoW,
    caller: CallerDep,
    bus: BusDep,
    status: ConventionStatus | None = None,
    party: Annotated[uuid.UUID | None, Query(description="an institution that is party to it")] = None,
    specialty: Annotated[str | None, Query(max_length=200)] = None,
    active_on: Annotated[IsoDate | None, Query(description="signed, not suspended, and in its period that day")] = None,
    q: Annotated[str | None, Query(max_length=300, description="part of the reference or title")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> ConventionPage:
    """Newest first (by the first day in force, then reference). Paged by `offset`, or by
    keyset: each page's `next` is the `cursor` of the page after it, which costs the same
    however deep (give one or the other)."""
    query = SearchConventions(party=access.listing(caller, party), status=status, specialty=specialty,
                              active_on=active_on, reference=q, limit=limit, offset=offset, cursor=cursor)
    items, total, after, done = await bus.handle(query, uow)
    return ConventionPage(items=[ListedConventionOut(**ConventionOut.of(c).model_dump(),
                                                     progress=ListedProgressOut.of(c, done.get(c.id, {})))
                                 for c in items], total=total, limit=limit, offset=offset, next=after)


@router.get("/{convention_id}", response_model=ConventionOut, responses=read_responses())
async def get_convention(convention: access.ReaderOfParty, response: Response) -> ConventionOut:
    return tagged(response, ConventionOut.of(convention))  # the access check loaded exactly this


# Every change below takes an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@router.patch("/{convention_id}", response_model=ConventionOut, summary="Edit a draft",
              responses=change_responses())
async def edit_draft(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: TermsChange, uow: UoW, expected: IfMatchDep,
    response: Response, bus: BusDep,
) -> ConventionOut:
    cmd = EditDraft(convention_id=convention_id, changes=body.changes(), expected=expected)
    return tagged(response, ConventionOut.of(await bus.handle(cmd, uow)))


@router.delete("/{convention_id}", status_code=204, summary="Discard a draft (never a signed convention)",
               responses=change_responses(None))
async def discard_draft(convention_id: uuid.UUID, _: access.CoordinatorOfParty, uow: UoW,
                        expected: IfMatchDep, bus: BusDep) -> None:
    await bus.handle(DiscardDraft(convention_id, expected=expected), uow)


@router.post("/{convention_id}/sign", response_model=ConventionOut, responses=change_responses())
async def sign_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: SignIn, uow: UoW,
    expected: IfMatchDep, response: Response, bus: BusDep,
) -> ConventionOut:
    cmd = SignConvention(convention_id, body.signed_on, body.signed_at, expected=expected)
    return tagged(response, ConventionOut.of(await bus.handle(cmd, uow)))


@router.post("/{convention_id}/suspend", response_model=ConventionOut, responses=change_responses())
async def suspend_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: ReasonIn, uow: UoW, expected: IfMatchDep,
    response: Response, bus: BusDep,
) -> ConventionOut:
    cmd = SuspendConvention(convention_id, body.reason, expected=expected)
    return tagged(response, ConventionOut.of(await bus.handle(cmd, uow)))


@router.post("/{convention_id}/resume", response_model=ConventionOut, responses=change_responses())
async def resume_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: ReasonIn, uow: UoW, expected: IfMatchDep,
    response: Response, bus: BusDep,
) -> ConventionOut:
    cmd = ResumeConvention(convention_id, body.reason, expected=expected)
    return tagged(response, ConventionOut.of(await bus.handle(cmd, uow)))


@router.post("/{convention_id}/terminate", response_model=ConventionOut, responses=change_responses())
async def terminate_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: TerminateIn, uow: UoW, expected: IfMatchDep,
    response: Response, bus: BusDep,
) -> ConventionOut:
    cmd = TerminateConvention(convention_id, body.on, body.reason, expected=expected)
    return tagged(response, ConventionOut.of(await bus.handle(cmd, uow)))


@router.post("/{convention_id}/amendments", status_code=201, response_model=AmendmentOut,
             summary="Record an amendment (avenant); the convention's new ETag is in its GET",
             responses=change_responses(None))
async def amend_convention(
    convention_id: uuid.UUID, _: access.CoordinatorOfParty, body: AmendmentIn, uow: UoW, expected: IfMatchDep,
    bus: BusDep,
) -> AmendmentOut:
    cmd = AmendConvention(convention_id, body.signed_on, body.summary, body.changes.changes(), expected=expected,
                          effective_from=body.effective_from)
    return AmendmentOut.of(await bus.handle(cmd, uow))


@router.get("/{convention_id}/amendments", response_model=list[AmendmentOut])
async def list_amendments(convention: access.ReaderOfParty) -> list[AmendmentOut]:
    return [AmendmentOut.of(a) for a in convention.amendments]  # the access check loaded exactly this


@router.get("/{convention_id}/history", response_model=list[HistoryEntry],
            summary="Everything that happened to the convention, oldest first")
async def convention_history(convention_id: uuid.UUID, _: access.ReaderOfParty, uow: UoW,
                             bus: BusDep) -> list[HistoryEntry]:
    return [HistoryEntry(at=r.at, action=r.action, details=r.details, event_id=r.event_id,
                         correlation_id=r.correlation_id) for r in await bus.handle(ConventionHistory(convention_id), uow)]
