"""This service's replica of conventions, built from the convention service's events.

The scheduling service never asks the convention service anything: it keeps
what the events told it, in whatever order they arrived. Two clocks keep the
replica from moving backwards:

* the **status** (signed, suspended, terminated, expired) moves only for an
  event whose envelope ``time`` is not older than the one that set the current
  status, and never out of terminated or expired (both are final);
* each **term** (parties, period, specialties, ...) remembers which amendment
  set it (0 = the signature), so a late ``ConventionSigned`` does not undo an
  amendment that overtook it.

A status change tells the caller what it means for the missions not yet
started (:class:`MissionEffect`). Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from jumelage.errors import Conflict, Invalid
# A party and the objectives are the contract's own types: the replica keeps them as the events state them.
from jumelage.events.convention import Objectives, Party, PartyRole


class ConventionStatus(StrEnum):
    signed = "signed"
    suspended = "suspended"
    terminated = "terminated"
    expired = "expired"


FINAL = frozenset({ConventionStatus.terminated, ConventionStatus.expired})


class MissionEffect(StrEnum):
    """What a status change means for the convention's missions not yet started."""

    none = "none"
    hold = "hold"  # suspended: wait, keep the plans
    release = "release"  # resumed: back to scheduled
    cancel = "cancel"  # terminated or expired: the missions will not happen


TERMS = ("reference", "title", "parties", "effective_from", "effective_until", "specialties", "objectives")
"""The terms this service keeps (the others in an event are of no use to scheduling)."""


@dataclass
class ConventionReplica:
    id: uuid.UUID
    reference: str | None = None
    title: str | None = None
    parties: tuple[Party, ...] = ()
    effective_from: date | None = None
    effective_until: date | None = None
    specialties: tuple[str, ...] = ()
    objectives: Objectives | None = None
    signed: bool = False
    """``ConventionSigned`` has arrived: the terms are known."""
    status: ConventionStatus | None = None
    status_changed_at: datetime | None = None
    """Envelope time of the event that set ``status``."""
    status_reason: str | None = None
    ended_on: date | None = None
    term_versions: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.reference or str(self.id)

    # -- events --------------------------------------------------------------------

    def record_signature(self, terms: dict[str, Any], at: datetime) -> MissionEffect:
        self._apply_terms(terms, version=0)
        self.signed = True
        return self._move(ConventionStatus.signed, at, reason=None)

    def record_amendment(self, number: int, changes: dict[str, Any]) -> None:
        # Amendments change terms, not status; missions already planned stay as
        # they are (the rules apply again when a mission is rescheduled).
        self._apply_terms(changes, version=number)

    def record_suspension(self, reason: str, at: datetime) -> MissionEffect:
        return self._move(ConventionStatus.suspended, at, reason)

    def record_resumption(self, reason: str, at: datetime) -> MissionEffect:
        return self._move(ConventionStatus.signed, at, reason)

    def record_termination(self, on: date, reason: str, at: datetime) -> MissionEffect:
        effect = self._move(ConventionStatus.terminated, at, reason)
        if effect is not MissionEffect.none:
            self.ended_on = on
        return effect

    def record_expiry(self, on: date, reason: str, at: datetime) -> MissionEffect:
        effect = self._move(ConventionStatus.expired, at, reason)
        if effect is not MissionEffect.none:
            self.ended_on = on
        return effect

    def _move(self, to: ConventionStatus, at: datetime, reason: str | None) -> MissionEffect:
        if self.status in FINAL:
            return MissionEffect.none  # nothing comes after the end
        if self.status_changed_at is not None and at < self.status_changed_at:
            return MissionEffect.none  # an older event: what we know is newer
        before = self.status
        self.status, self.status_changed_at, self.status_reason = to, at, reason
        if to in FINAL:
            return MissionEffect.cancel
        if to is ConventionStatus.suspended and before is not ConventionStatus.suspended:
            return MissionEffect.hold
        if to is ConventionStatus.signed and before is ConventionStatus.suspended:
            return MissionEffect.release
        return MissionEffect.none

    def _apply_terms(self, values: dict[str, Any], *, version: int) -> None:
        for name in TERMS:
            if name not in values or self.term_versions.get(name, -1) > version:
                continue
            value = values[name]
            if name == "parties":
                value = tuple(Party(institution_id=p.institution_id, role=PartyRole(p.role)) for p in value)
            elif name == "specialties":
                value = tuple(value)
            elif name == "objectives":
                value = Objectives(surgeries=value.surgeries, consultations=value.consultations,
                                   training_sessions=value.training_sessions)
            setattr(self, name, value)
            self.term_versions[name] = version

    # -- rules ---------------------------------------------------------------------

    def require_open_for_missions(self) -> None:
        """Signed, and not suspended, terminated or expired."""
        if not self.signed:
            known = f" (known here only as {self.status.value})" if self.status else ""
            raise Conflict(f"convention {self.label} is not signed{known}: no mission can be planned under it")
        if self.status is not ConventionStatus.signed:
            raise Conflict(f"convention {self.label} is {self.status.value if self.status else 'unknown'}: "
                           "no mission can be planned under it")

    def admit_mission(
        self,
        *,
        host_institution_id: uuid.UUID,
        visiting_institution_id: uuid.UUID,
        specialty: str,
        starts_on: date,
        ends_on: date,
    ) -> str:
        """Check a mission against the convention; return the specialty as the convention spells it."""
        self.require_open_for_missions()
        self.admit_dates(starts_on, ends_on)
        if host_institution_id not in self.party_ids(PartyRole.beneficiary):
            raise Invalid(f"institution {host_institution_id} is not a beneficiary of convention {self.label}",
                          field="host_institution_id")
        if visiting_institution_id not in self.party_ids(PartyRole.provider):
            raise Invalid(f"institution {visiting_institution_id} is not a provider of convention {self.label}",
                          field="visiting_institution_id")
        wanted = specialty.strip().casefold()
        for known in self.specialties:
            if known.strip().casefold() == wanted:
                return known
        raise Invalid(f"specialty {specialty!r} is not covered by convention {self.label} "
                      f"(covers: {', '.join(self.specialties) or 'none'})", field="specialty")

    def admit_dates(self, starts_on: date, ends_on: date) -> None:
        assert self.effective_from is not None and self.effective_until is not None  # signed
        period = f"{self.effective_from} to {self.effective_until}"
        if starts_on < self.effective_from:
            raise Invalid(f"the mission would start on {starts_on}, before convention {self.label} is in "
                          f"effect ({period})", field="starts_on")
        if ends_on > self.effective_until:
            raise Invalid(f"the mission would end on {ends_on}, after convention {self.label} ends ({period})",
                          field="ends_on")

    def party_ids(self, role: PartyRole) -> set[uuid.UUID]:
        return {p.institution_id for p in self.parties if p.role is role}
