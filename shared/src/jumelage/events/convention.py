"""Events produced by the convention service (source ``/services/convention``)."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from jumelage.events.envelope import EventData

SOURCE = "/services/convention"


class InstitutionKind(StrEnum):
    hospital_group = "hospital_group"
    university_hospital = "university_hospital"
    hospital = "hospital"
    clinic = "clinic"
    insurer = "insurer"
    health_directorate = "health_directorate"
    ministry = "ministry"


class PartyRole(StrEnum):
    provider = "provider"
    beneficiary = "beneficiary"
    funder = "funder"
    supervisor = "supervisor"


class Party(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    institution_id: uuid.UUID
    role: PartyRole


class Objectives(BaseModel):
    """Targets over the whole period of the convention."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    surgeries: int = Field(ge=0)
    consultations: int = Field(ge=0)
    training_sessions: int = Field(ge=0)


class YearObjectives(BaseModel):
    """Targets for one calendar year of the convention (added by the project), beside those over
    the whole period."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    year: int = Field(ge=1900, le=2200)
    surgeries: int = Field(ge=0)
    consultations: int = Field(ge=0)
    training_sessions: int = Field(ge=0)


class ConventionEvent(EventData, source=SOURCE, abstract=True):
    pass


class InstitutionRegistered(ConventionEvent):
    subject_of = ("institutions", "institution_id")

    institution_id: uuid.UUID
    name: str = Field(min_length=1)
    kind: InstitutionKind
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    city: str = Field(min_length=1)
    wilaya: str | None = Field(default=None, description="province (Algeria), when known")


class InstitutionUpdated(InstitutionRegistered):
    """An institution's details were corrected; ``data`` is its whole new state.

    A project addition: replicas treat it like ``InstitutionRegistered`` (upsert)."""


class CostBearer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    institution_id: uuid.UUID
    covers: str = Field(min_length=1, description="what this party pays for")


class Money(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    amount: str = Field(pattern=r"^\d{1,10}(\.\d{1,2})?$", description="a decimal, e.g. 30000.00")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")


class ReferenceCost(BaseModel):
    """What treating one case costs abroad and here, for a specialty or one of its procedures."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specialty: str = Field(min_length=1)
    procedure: str | None = Field(default=None, description="absent: the specialty's every other procedure")
    abroad: Money
    here: Money


class _AboutConvention(ConventionEvent, abstract=True):
    subject_of = ("conventions", "convention_id")

    convention_id: uuid.UUID


class ConventionSigned(_AboutConvention):
    reference: str = Field(min_length=1)
    title: str = Field(min_length=1)
    parties: list[Party] = Field(min_length=1)
    signed_on: date
    signed_at: str = Field(min_length=1, description="place of signature")
    effective_from: date
    effective_until: date
    specialties: list[str]
    objectives: Objectives
    # Project additions (optional): the kind of convention and who pays for what.
    kind: str | None = Field(default=None, description="twinning, international_cooperation, framework, other")
    cost_bearers: list[CostBearer] | None = None
    reference_costs: list[ReferenceCost] | None = None
    yearly_objectives: list[YearObjectives] | None = Field(
        default=None, description="targets per calendar year of the period, beside those over the whole period")

    @model_validator(mode="after")
    def _period_is_ordered(self) -> ConventionSigned:
        if self.effective_until < self.effective_from:
            raise ValueError("effective_until is before effective_from")
        return self


# What an amendment may change: every ConventionSigned field but the identity,
# each checked with that field's own type and constraints.
_AMENDABLE: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(Annotated[f.annotation, f])
    for name, f in ConventionSigned.model_fields.items()
    if name != "convention_id"
}


class ConventionAmended(_AboutConvention):
    amendment_number: int = Field(ge=1)
    signed_on: date | None = Field(default=None, description="when the amendment was signed (addition)")
    summary: str = Field(default="", description="what the amendment is about (addition)")
    effective_from: date | None = Field(
        default=None, description="the day its changes apply from (addition; absent: signed_on)")
    changes: dict[str, Any] = Field(
        min_length=1,
        description="the ConventionSigned fields that changed, with their new values",
        json_schema_extra={"propertyNames": {"enum": sorted(_AMENDABLE)}},
    )

    @field_validator("changes")
    @classmethod
    def _changes_are_convention_fields(cls, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(_AMENDABLE))
        if unknown:
            raise ValueError(f"not amendable ConventionSigned fields: {', '.join(unknown)}")
        typed = {}
        for name, value in changes.items():
            try:
                typed[name] = _AMENDABLE[name].validate_python(value)
            except ValidationError as exc:
                raise ValueError(f"{name}: {exc.errors()[0]['msg']}") from None
        return typed


class ConventionSuspended(_AboutConvention):
    reason: str = Field(min_length=1)


class ConventionResumed(_AboutConvention):
    reason: str = Field(min_length=1)


class ConventionTerminated(_AboutConvention):
    on: date
    reason: str = Field(min_length=1)


class ConventionExpired(_AboutConvention):
    on: date
    reason: str  # the contract allows it to be empty: expiry needs no explanation


__all__ = [
    "SOURCE",
    "ConventionAmended",
    "ConventionEvent",
    "ConventionExpired",
    "ConventionResumed",
    "ConventionSigned",
    "ConventionSuspended",
    "ConventionTerminated",
    "InstitutionKind",
    "CostBearer",
    "Money",
    "ReferenceCost",
    "InstitutionRegistered",
    "InstitutionUpdated",
    "Objectives",
    "Party",
    "PartyRole",
]
