"""Training placements: local staff of a beneficiary trained at a provider's hospital during the
year, outside any mission (an observership or a fellowship, for some weeks).

Lifecycle::

    planned ──complete (days spent)──> completed
       └──cancel ──> cancelled

A placement names the people (practitioners, never patients), the specialty (one of the
convention's), the dates (within the convention's period) and, once completed, the days
spent. Only its completion is an event: the convention counts it in its progress. Pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

from scheduling.domain import events
from scheduling.domain.conventions import ConventionReplica, ConventionStatus, PartyRole
from jumelage.domain import Aggregate
from jumelage.errors import Conflict, Invalid
from jumelage.events.scheduling import PlacementKind

MAX_PLACEMENT_DAYS = 366
MAX_TRAINEES = 50


class PlacementStatus(StrEnum):
    planned = "planned"
    completed = "completed"
    cancelled = "cancelled"


@dataclass(frozen=True)
class Trainee:
    practitioner_id: uuid.UUID
    full_name: str


@dataclass
class TrainingPlacement(Aggregate):
    id: uuid.UUID
    convention_id: uuid.UUID
    kind: PlacementKind
    specialty: str
    provider_institution_id: uuid.UUID  # where they train: a provider of the convention
    beneficiary_institution_id: uuid.UUID  # where they work: a beneficiary of the convention
    starts_on: date
    ends_on: date
    trainees: list[Trainee]
    status: PlacementStatus = PlacementStatus.planned
    status_reason: str | None = None
    days_spent: int | None = None
    completed_on: date | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def span_days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    @classmethod
    def plan(cls, convention: ConventionReplica, *, kind: PlacementKind, specialty: str,
             provider_institution_id: uuid.UUID, beneficiary_institution_id: uuid.UUID, starts_on: date,
             ends_on: date, trainees: Iterable[Trainee]) -> TrainingPlacement:
        if not convention.signed or convention.status is not ConventionStatus.signed:
            state = convention.status.value if convention.signed and convention.status else "not signed"
            raise Conflict(f"convention {convention.label} is {state}: no placement can be planned under it")
        if ends_on < starts_on:
            raise Invalid(f"the placement would end ({ends_on}) before it starts ({starts_on})", field="ends_on")
        if (ends_on - starts_on).days + 1 > MAX_PLACEMENT_DAYS:
            raise Invalid(f"a placement lasts at most {MAX_PLACEMENT_DAYS} days", field="ends_on")
        assert convention.effective_from is not None and convention.effective_until is not None  # signed
        if starts_on < convention.effective_from:
            raise Invalid(f"the placement would start on {starts_on}, before convention {convention.label} is in "
                          f"effect ({convention.effective_from})", field="starts_on")
        if ends_on > convention.effective_until:
            raise Invalid(f"the placement would end on {ends_on}, after convention {convention.label} ends "
                          f"({convention.effective_until})", field="ends_on")
        if provider_institution_id not in convention.party_ids(PartyRole.provider):
            raise Invalid(f"institution {provider_institution_id} is not a provider of convention "
                          f"{convention.label}", field="provider_institution_id")
        if beneficiary_institution_id not in convention.party_ids(PartyRole.beneficiary):
            raise Invalid(f"institution {beneficiary_institution_id} is not a beneficiary of convention "
                          f"{convention.label}", field="beneficiary_institution_id")
        wanted = specialty.strip().casefold()
        known = next((s for s in convention.specialties if s.strip().casefold() == wanted), None)
        if known is None:
            raise Invalid(f"specialty {specialty!r} is not covered by convention {convention.label} "
                          f"(covers: {', '.join(convention.specialties) or 'none'})", field="specialty")
        placement = cls(id=uuid.uuid4(), convention_id=convention.id, kind=PlacementKind(kind), specialty=known,
                        provider_institution_id=provider_institution_id,
                        beneficiary_institution_id=beneficiary_institution_id, starts_on=starts_on, ends_on=ends_on,
                        trainees=_checked(trainees))
        return placement

    def complete(self, days_spent: int, today: date) -> None:
        self._require(PlacementStatus.planned, action="complete")
        if today < self.starts_on:
            raise Conflict(f"placement {self.id} starts on {self.starts_on}: it cannot be completed before")
        if not 1 <= days_spent <= self.span_days:
            raise Invalid(f"days spent: 1 to {self.span_days} (from {self.starts_on} to {self.ends_on})",
                          field="days_spent")
        self.status, self.days_spent, self.completed_on = PlacementStatus.completed, days_spent, today
        self.happened(events.training_placement_completed(self))

    def cancel(self, reason: str) -> None:
        self._require(PlacementStatus.planned, action="cancel")
        reason = reason.strip()
        if not reason:
            raise Invalid("give a reason", field="reason")
        self.status, self.status_reason = PlacementStatus.cancelled, reason

    def _require(self, *allowed: PlacementStatus, action: str) -> None:
        if self.status not in allowed:
            expected = " or ".join(s.value for s in allowed)
            raise Conflict(f"cannot {action} placement {self.id}: it is {self.status.value} (must be {expected})")


def _checked(trainees: Iterable[Trainee]) -> list[Trainee]:
    out: list[Trainee] = []
    seen: set[uuid.UUID] = set()
    for i, t in enumerate(trainees):
        name = " ".join(t.full_name.split())
        if not name:
            raise Invalid("a trainee needs a name", field=f"trainees.{i}.full_name")
        if t.practitioner_id in seen:
            raise Invalid(f"practitioner {t.practitioner_id} is listed twice", field=f"trainees.{i}.practitioner_id")
        seen.add(t.practitioner_id)
        out.append(Trainee(t.practitioner_id, name))
    if not out:
        raise Invalid("a placement needs at least one trainee", field="trainees")
    if len(out) > MAX_TRAINEES:
        raise Invalid(f"at most {MAX_TRAINEES} trainees", field="trainees")
    return out
