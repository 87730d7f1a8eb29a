"""Events produced by the convention service (source ``/services/convention``)."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import Field

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


class ConventionEvent(EventData, source=SOURCE, abstract=True):
    pass


class InstitutionRegistered(ConventionEvent):
    subject_of = ("institutions", "institution_id")

    institution_id: uuid.UUID
    name: str = Field(min_length=1)
    kind: InstitutionKind
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    city: str = Field(min_length=1)


__all__ = ["SOURCE", "InstitutionKind", "InstitutionRegistered"]
