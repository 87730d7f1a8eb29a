"""Conventions: who agreed with whom to do what, when, and how it stands.

Lifecycle::

    draft ──sign──> signed ──suspend──> suspended ──resume──> signed
                      │                     │
                      ├──terminate──────────┴──> terminated
                      └──(period over)──────────> expired   (also from suspended)

A draft is edited in place; once signed, a change is an amendment (avenant),
numbered and kept with what it changed. Each step the parties announce records
its event (``domain/events.py``). Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from convention.domain import events
from jumelage.domain import Aggregate
from jumelage.errors import Conflict, Invalid
from jumelage.events import convention as contract
from jumelage.events.convention import PartyRole


class ConventionStatus(StrEnum):
    draft = "draft"
    signed = "signed"
    suspended = "suspended"
    terminated = "terminated"
    expired = "expired"


class ConventionKind(StrEnum):
    twinning = "twinning"  # jumelage between hospitals of one country
    international_cooperation = "international_cooperation"
    framework = "framework"  # an umbrella agreement (ministry, insurer) others hang on
    other = "other"


class Party(contract.Party):
    """The contract's party (its fields, once); the domain builds it positionally."""

    def __init__(self, institution_id: uuid.UUID, role: PartyRole) -> None:
        super().__init__(institution_id=institution_id, role=role)


class Objectives(contract.Objectives):
    """The contract's targets over the whole effective period; one left out is 0."""

    def __init__(self, surgeries: int = 0, consultations: int = 0, training_sessions: int = 0) -> None:
        super().__init__(surgeries=surgeries, consultations=consultations, training_sessions=training_sessions)


class YearObjectives(contract.YearObjectives):
    """The contract's targets for one calendar year of the period; one left out is 0."""

    def __init__(self, year: int, surgeries: int = 0, consultations: int = 0, training_sessions: int = 0) -> None:
        super().__init__(year=year, surgeries=surgeries, consultations=consultations,
                         training_sessions=training_sessions)


@dataclass(frozen=True)
class CostBearer:
    """A party and what it pays for (travel, stay, consumables, fees ...)."""

    institution_id: uuid.UUID
    covers: str


MAX_AMOUNT = Decimal("1000000000")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217, e.g. EUR, DZD


@dataclass(frozen=True)
class ReferenceCost:
    """What treating one case costs abroad and here, for a specialty or, more
    precisely, one of its procedures (``procedure`` None: every procedure of the
    specialty that has no line of its own). The basis of "money not spent abroad"."""

    specialty: str
    procedure: str | None
    abroad: Money
    here: Money

    def matches(self, specialty: str, procedure: str | None) -> bool:
        return self.specialty.casefold() == specialty.casefold() and (
            self.procedure is None or (procedure is not None and fold(self.procedure) == fold(procedure)))


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Terms:
    """What the parties agree on: the part of a convention a draft edit or an
    amendment changes."""

    title: str
    kind: ConventionKind
    parties: tuple[Party, ...]
    effective_from: date
    effective_until: date
    specialties: tuple[str, ...]
    objectives: Objectives
    cost_bearers: tuple[CostBearer, ...] = ()
    reference_costs: tuple[ReferenceCost, ...] = ()
    yearly_objectives: tuple[YearObjectives, ...] = ()  # per calendar year, beside the whole period's

    def objectives_of(self, year: int) -> YearObjectives | None:
        return next((y for y in self.yearly_objectives if y.year == year), None)

    def check(self, known_institutions: set[uuid.UUID]) -> Terms:
        """The terms normalised, or Invalid naming the first wrong field."""
        title = self.title.strip()
        if not title:
            raise Invalid("a convention needs a title", field="title")
        if self.effective_until < self.effective_from:
            raise Invalid(
                f"the effective period ends ({self.effective_until}) before it starts ({self.effective_from})",
                field="effective_until",
            )
        seen: set[uuid.UUID] = set()
        for i, party in enumerate(self.parties):
            if party.institution_id in seen:
                raise Invalid(f"institution {party.institution_id} is listed twice among the parties",
                              field=f"parties.{i}.institution_id")
            seen.add(party.institution_id)
            if party.institution_id not in known_institutions:
                raise Invalid(f"institution {party.institution_id} is not registered",
                              field=f"parties.{i}.institution_id")
        roles = {p.role for p in self.parties}
        for needed in (PartyRole.provider, PartyRole.beneficiary):
            if needed not in roles:
                raise Invalid(f"a convention needs at least one {needed.value} among its parties", field="parties")
        specialties = tuple(dict.fromkeys(s.strip() for s in self.specialties if s.strip()))
        if not specialties:
            raise Invalid("a convention covers at least one specialty", field="specialties")
        for name in ("surgeries", "consultations", "training_sessions"):
            if getattr(self.objectives, name) < 0:
                raise Invalid(f"objective {name} cannot be negative", field=f"objectives.{name}")
        for i, bearer in enumerate(self.cost_bearers):
            if bearer.institution_id not in seen:
                raise Invalid(f"cost bearer {bearer.institution_id} is not a party to the convention",
                              field=f"cost_bearers.{i}.institution_id")
            if not bearer.covers.strip():
                raise Invalid("say what the cost bearer covers", field=f"cost_bearers.{i}.covers")
        years = tuple(sorted(self.yearly_objectives, key=lambda y: y.year))
        for i, y in enumerate(self.yearly_objectives):
            if not (self.effective_from.year <= y.year <= self.effective_until.year):
                raise Invalid(f"objectives for {y.year}, outside the convention's period ({self.effective_from} to "
                              f"{self.effective_until})", field=f"yearly_objectives.{i}.year")
            if any(other.year == y.year for other in self.yearly_objectives[:i]):
                raise Invalid(f"two sets of objectives for {y.year}", field=f"yearly_objectives.{i}.year")
        return replace(self, title=title, specialties=specialties,
                       reference_costs=_checked_costs(self.reference_costs, specialties), yearly_objectives=years)

    def with_changes(self, changes: dict[str, Any]) -> Terms:
        """These terms with some replaced; ``objectives`` may name only the targets that change."""
        changes = dict(_only_amendable(changes))
        if isinstance(changes.get("objectives"), dict):
            # Not validated here: a negative target is refused by ``check``, naming its field.
            changes["objectives"] = self.objectives.model_copy(update=changes["objectives"])
        for name in ("parties", "specialties", "cost_bearers", "reference_costs", "yearly_objectives"):
            if name in changes:
                changes[name] = tuple(changes[name])
        return replace(self, **changes)

    def party_ids(self, *roles: PartyRole) -> set[uuid.UUID]:
        return {p.institution_id for p in self.parties if not roles or p.role in roles}


AMENDABLE = ("title", "kind", "parties", "effective_from", "effective_until", "specialties", "objectives",
             "cost_bearers", "reference_costs", "yearly_objectives")
"""What an amendment may change. Not the reference (the convention's identity)
nor where and when it was signed (facts of the signature)."""


@dataclass(frozen=True)
class Amendment:
    number: int
    signed_on: date
    summary: str
    changes: dict[str, Any]
    recorded_at: datetime
    # The day its changes apply from (None: the day it was signed), and what they replaced
    # (the terms' values before it): the reference costs in force on a surgery's day go by both.
    effective_from: date | None = None
    replaced: dict[str, Any] = field(default_factory=dict)

    @property
    def applies_from(self) -> date:
        return self.effective_from or self.signed_on


@dataclass(frozen=True)
class Step:
    """One entry of a convention's history: what happened, when, and the event it published (if any)."""

    at: datetime
    action: str
    details: dict[str, Any]
    event_id: uuid.UUID | None
    correlation_id: str | None


@dataclass
class Convention(Aggregate):
    id: uuid.UUID
    reference: str
    terms: Terms
    status: ConventionStatus = ConventionStatus.draft
    signed_on: date | None = None
    signed_at: str | None = None
    status_reason: str | None = None
    ended_on: date | None = None
    amendments: list[Amendment] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Kept by the store: raised on every change (its terms, status, amendments), and when.
    version: int = 0
    updated_at: datetime | None = None

    # -- creation and drafts --------------------------------------------------

    @classmethod
    def draft(cls, reference: str, terms: Terms, known_institutions: set[uuid.UUID]) -> Convention:
        reference = reference.strip()
        if not reference:
            raise Invalid("a convention needs a reference", field="reference")
        return cls(id=uuid.uuid4(), reference=reference, terms=terms.check(known_institutions))

    def edit_draft(self, changes: dict[str, Any], known_institutions: set[uuid.UUID]) -> None:
        if self.status is not ConventionStatus.draft:
            raise Conflict(f"convention {self.reference} is {self.status.value}: change it by an amendment")
        self.terms = self.terms.with_changes(changes).check(known_institutions)

    def discard(self) -> None:
        """A draft drawn up by mistake goes away; a signed convention never does (it ends)."""
        if self.status is not ConventionStatus.draft:
            raise Conflict(f"convention {self.reference} is {self.status.value}: only a draft can be discarded "
                           "(terminate a signed one)")

    # -- lifecycle ------------------------------------------------------------

    def sign(self, signed_on: date, signed_at: str, today: date) -> None:
        self._require(ConventionStatus.draft, action="sign")
        if not signed_at.strip():
            raise Invalid("say where the convention was signed", field="signed_at")
        if signed_on > today:
            raise Invalid(f"signed_on {signed_on} is in the future", field="signed_on")
        # A convention signed after its period (recorded late) is allowed: the
        # expiry check then marks it expired, as it would have been.
        self.status = ConventionStatus.signed
        self.signed_on, self.signed_at = signed_on, signed_at.strip()
        self.happened(events.convention_signed(self))

    def suspend(self, reason: str) -> None:
        self._require(ConventionStatus.signed, action="suspend")
        self.status, self.status_reason = ConventionStatus.suspended, _reason(reason)
        self.happened(events.convention_suspended(self))

    def resume(self, reason: str) -> None:
        self._require(ConventionStatus.suspended, action="resume")
        self.status, self.status_reason = ConventionStatus.signed, _reason(reason)
        self.happened(events.convention_resumed(self))

    def terminate(self, on: date, reason: str) -> None:
        self._require(ConventionStatus.signed, ConventionStatus.suspended, action="terminate")
        if self.signed_on and on < self.signed_on:
            raise Invalid(f"termination date {on} is before the signature ({self.signed_on})", field="on")
        self.status, self.status_reason, self.ended_on = ConventionStatus.terminated, _reason(reason), on
        self.happened(events.convention_terminated(self))

    def is_due_to_expire(self, today: date) -> bool:
        return self.status in (ConventionStatus.signed, ConventionStatus.suspended) and \
            self.terms.effective_until < today

    def expire(self, today: date) -> date:
        """The period is over: expired as of the day after its last day."""
        if not self.is_due_to_expire(today):
            raise Conflict(f"convention {self.reference} is {self.status.value} and runs until "
                           f"{self.terms.effective_until}: it does not expire on {today}")
        self.status, self.status_reason = ConventionStatus.expired, ""
        self.ended_on = self.terms.effective_until
        self.happened(events.convention_expired(self))
        return self.ended_on

    # -- amendments -----------------------------------------------------------

    def amend(self, signed_on: date, summary: str, changes: dict[str, Any],
              known_institutions: set[uuid.UUID], effective_from: date | None = None) -> Amendment:
        if self.status is ConventionStatus.draft:
            raise Conflict(f"convention {self.reference} is a draft: edit it instead of amending it")
        self._require(ConventionStatus.signed, ConventionStatus.suspended, action="amend")
        if not changes:
            raise Invalid("an amendment changes at least one term", field="changes")
        if self.signed_on and signed_on < self.signed_on:
            raise Invalid(f"the amendment ({signed_on}) cannot precede the convention's signature "
                          f"({self.signed_on})", field="signed_on")
        new_terms = self.terms.with_changes(changes).check(known_institutions)
        changed = {name: getattr(new_terms, name) for name in AMENDABLE
                   if getattr(new_terms, name) != getattr(self.terms, name)}
        if not changed:
            raise Invalid("the amendment changes nothing: every value is the current one", field="changes")
        if effective_from is not None and not (
                new_terms.effective_from <= effective_from <= new_terms.effective_until):
            raise Invalid(f"the amendment's effective date {effective_from} is outside the convention's period "
                          f"({new_terms.effective_from} to {new_terms.effective_until})", field="effective_from")
        amendment = Amendment(number=len(self.amendments) + 1, signed_on=signed_on, summary=summary.strip(),
                              changes=changed, recorded_at=datetime.now(UTC), effective_from=effective_from,
                              replaced={name: getattr(self.terms, name) for name in changed})
        self.terms = new_terms
        self.amendments.append(amendment)
        self.happened(events.convention_amended(self, amendment))
        return amendment

    # -- queries --------------------------------------------------------------

    def cost_schedule(self) -> tuple[tuple[date, tuple[ReferenceCost, ...]], ...]:
        """The reference costs over time: those of the signature from the start, then each
        amendment's that changed them, from its effective date (oldest first; of two from the
        same day, the later amendment's)."""
        changing = [a for a in self.amendments if "reference_costs" in a.changes]
        if not changing:
            return ((date.min, self.terms.reference_costs),)
        first = tuple(changing[0].replaced.get("reference_costs", ()))
        steps = sorted(((a.applies_from, a.number, tuple(a.changes["reference_costs"])) for a in changing))
        return ((date.min, first), *((day, costs) for day, _, costs in steps))

    def is_active_on(self, day: date) -> bool:
        """In force that day: signed (not suspended) and within the effective period."""
        if self.status is not ConventionStatus.signed:
            return False
        return self.terms.effective_from <= day <= self.terms.effective_until

    def _require(self, *allowed: ConventionStatus, action: str) -> None:
        if self.status not in allowed:
            expected = " or ".join(s.value for s in allowed)
            raise Conflict(f"cannot {action} convention {self.reference}: it is {self.status.value} "
                           f"(must be {expected})")


def _checked_costs(costs: tuple[ReferenceCost, ...], specialties: tuple[str, ...]) -> tuple[ReferenceCost, ...]:
    """The reference costs normalised (each line's specialty spelt as the convention
    spells it), or Invalid naming the first wrong field."""
    by_fold = {s.casefold(): s for s in specialties}
    seen: set[tuple[str, str | None]] = set()
    out = []
    for i, line in enumerate(costs):
        specialty = by_fold.get(line.specialty.strip().casefold())
        if specialty is None:
            raise Invalid(f"reference cost for {line.specialty!r}, which is not one of the convention's specialties "
                          f"({', '.join(specialties)})", field=f"reference_costs.{i}.specialty")
        procedure = line.procedure.strip() if line.procedure and line.procedure.strip() else None
        key = (specialty.casefold(), fold(procedure) if procedure else None)
        if key in seen:
            what = f"procedure {procedure!r} of {specialty}" if procedure else f"{specialty} as a whole"
            raise Invalid(f"two reference costs for {what}", field=f"reference_costs.{i}")
        seen.add(key)
        for side in ("abroad", "here"):
            money: Money = getattr(line, side)
            if not (0 <= money.amount <= MAX_AMOUNT):
                raise Invalid(f"the cost {side} must be between 0 and {MAX_AMOUNT}",
                              field=f"reference_costs.{i}.{side}.amount")
            if not (len(money.currency) == 3 and money.currency.isascii() and money.currency.isupper()):
                raise Invalid(f"currency {money.currency!r}: three capital letters (ISO 4217, e.g. EUR, DZD)",
                              field=f"reference_costs.{i}.{side}.currency")
        out.append(ReferenceCost(specialty, procedure, line.abroad, line.here))
    return tuple(out)


def _only_amendable(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(AMENDABLE))
    if unknown:
        raise Invalid(f"cannot change {', '.join(unknown)}; changeable: {', '.join(AMENDABLE)}",
                      field=f"changes.{unknown[0]}")
    return changes


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise Invalid("give a reason", field="reason")
    return reason
