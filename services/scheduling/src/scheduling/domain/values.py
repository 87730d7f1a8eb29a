"""Value types that commands and aggregates both name (the aggregates' statuses
too, which queries filter by): a leaf of the domain.

Commands carry them and aggregates keep them; living here, neither module
imports the other to reach them. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from jumelage.events.scheduling import PractitionerRole


class Sex(StrEnum):
    female = "female"
    male = "male"


class RiskScheme(StrEnum):
    """Surgical risk scores for congenital heart surgery; ``none`` for non-cardiac cases."""

    stat = "STAT"  # STS-EACTS mortality categories 1-5
    rachs_1 = "RACHS-1"  # Risk Adjustment for Congenital Heart Surgery 1-6
    none = "none"


@dataclass(frozen=True)
class PatientIdentity:
    # repr=False: an identity printed by accident (a traceback, a debug line) shows nothing.
    full_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    sex: Sex = field(repr=False)
    weight_kg: float = field(repr=False)


@dataclass(frozen=True)
class TeamMember:
    practitioner_id: uuid.UUID
    full_name: str
    role: PractitionerRole


class CaseStatus(StrEnum):
    waiting = "waiting"
    scheduled = "scheduled"
    operated = "operated"
    cancelled = "cancelled"
    referred_elsewhere = "referred_elsewhere"


class MissionStatus(StrEnum):
    scheduled = "scheduled"
    on_hold = "on_hold"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"


class SurgeryStatus(StrEnum):
    scheduled = "scheduled"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"
