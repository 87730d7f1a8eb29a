"""The one mapper per wire event the convention service emits: aggregate -> contract model.

The aggregates call them as they change (``self.happened(events.convention_signed(self))``);
the handlers hand the aggregate to ``uow.record_from``. Nothing else builds these events.
``terms_json`` is a term in the contract's shapes (``ConventionSigned``'s), as events,
amendment records and responses carry it.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import Enum
from typing import Any, Protocol

from jumelage.events import (
    ConventionAmended,
    ConventionExpired,
    ConventionResumed,
    ConventionSigned,
    ConventionSuspended,
    ConventionTerminated,
    InstitutionRegistered,
    InstitutionUpdated,
)

# What the mappers read of each aggregate. Protocols, not the aggregates' classes: the
# aggregates import this module to record what happened to them, and nothing here
# imports them back (no import circle).


class Institution(Protocol):
    id: uuid.UUID
    name: str
    kind: Any
    country: str
    city: str
    wilaya: str | None


class Convention(Protocol):
    id: uuid.UUID
    reference: str
    terms: Any
    signed_on: date | None
    signed_at: str | None  # where it was signed
    status_reason: str | None
    ended_on: date | None


class Amendment(Protocol):
    number: int
    changes: dict[str, Any]
    signed_on: date
    summary: str

# -- institutions -------------------------------------------------------------


def institution_registered(i: Institution) -> InstitutionRegistered:
    return InstitutionRegistered(institution_id=i.id, name=i.name, kind=i.kind, country=i.country, city=i.city,
                                 wilaya=i.wilaya)


def institution_updated(i: Institution) -> InstitutionUpdated:
    """The whole new state: replicas upsert it like a registration."""
    return InstitutionUpdated(institution_id=i.id, name=i.name, kind=i.kind, country=i.country, city=i.city,
                              wilaya=i.wilaya)


# -- conventions --------------------------------------------------------------


def convention_signed(c: Convention) -> ConventionSigned:
    t = c.terms
    return ConventionSigned(
        convention_id=c.id, reference=c.reference, title=t.title,
        parties=terms_json("parties", t.parties), signed_on=c.signed_on, signed_at=c.signed_at,
        effective_from=t.effective_from, effective_until=t.effective_until,
        specialties=list(t.specialties), objectives=terms_json("objectives", t.objectives),
        kind=t.kind.value, cost_bearers=terms_json("cost_bearers", t.cost_bearers),
        reference_costs=terms_json("reference_costs", t.reference_costs) or None,
        yearly_objectives=terms_json("yearly_objectives", t.yearly_objectives) or None,
    )


def convention_amended(c: Convention, a: Amendment) -> ConventionAmended:
    """Exactly the terms the amendment changed, in ``ConventionSigned``'s shapes."""
    return ConventionAmended(convention_id=c.id, amendment_number=a.number, changes=amendment_changes(a),
                             signed_on=a.signed_on, summary=a.summary, effective_from=a.effective_from)


def convention_suspended(c: Convention) -> ConventionSuspended:
    return ConventionSuspended(convention_id=c.id, reason=c.status_reason)


def convention_resumed(c: Convention) -> ConventionResumed:
    return ConventionResumed(convention_id=c.id, reason=c.status_reason)


def convention_terminated(c: Convention) -> ConventionTerminated:
    return ConventionTerminated(convention_id=c.id, on=c.ended_on, reason=c.status_reason)


def convention_expired(c: Convention) -> ConventionExpired:
    return ConventionExpired(convention_id=c.id, on=c.ended_on, reason="")  # expiry needs no explanation


# -- the contract's shapes of terms -------------------------------------------------


def amendment_changes(a: Amendment) -> dict[str, Any]:
    return {k: terms_json(k, v) for k, v in a.changes.items()}


def terms_json(name: str, value: Any) -> Any:
    """A term as it appears in events and amendment records (the contract's shapes)."""
    if name == "parties":
        return [{"institution_id": str(p.institution_id), "role": p.role.value} for p in value]
    if name == "cost_bearers":
        return [{"institution_id": str(c.institution_id), "covers": c.covers} for c in value]
    if name == "reference_costs":
        return [{"specialty": c.specialty, "procedure": c.procedure,
                 "abroad": {"amount": str(c.abroad.amount), "currency": c.abroad.currency},
                 "here": {"amount": str(c.here.amount), "currency": c.here.currency}} for c in value]
    if name == "objectives":
        return {"surgeries": value.surgeries, "consultations": value.consultations,
                "training_sessions": value.training_sessions}
    if name == "yearly_objectives":
        return [{"year": y.year, "surgeries": y.surgeries, "consultations": y.consultations,
                 "training_sessions": y.training_sessions} for y in value]
    if name == "specialties":
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):  # the convention's kind
        return value.value
    return value
