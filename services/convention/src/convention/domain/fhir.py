"""A convention as FHIR R4: a ``Contract`` and an ``Organization`` per party, in one Bundle.

Mapping (the README's "FHIR export"): our status to ``Contract.status`` (draft: negotiable;
signed and suspended: executed, suspended said by ``legalState``; terminated and expired:
terminated), its period to ``applies``, its signature day to ``issued``, its kind to ``type``,
its specialties to ``subType``, each party as an ``offer.party`` of the first term with its role,
each objective and each reference cost line as a term of its own (a cost as ``valuedItem``:
abroad its ``net``, here its ``unitPrice``), and the funder as ``authority``. Pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from convention.domain.conventions import Convention, ConventionStatus
from convention.domain.institutions import Institution
import jumelage.fhir as fhir
from jumelage.events.convention import PartyRole

STATUS = {
    ConventionStatus.draft: "negotiable",
    ConventionStatus.signed: "executed",
    ConventionStatus.suspended: "executed",
    ConventionStatus.terminated: "terminated",
    ConventionStatus.expired: "terminated",
}


def _money(amount: Any, currency: str) -> dict[str, Any]:
    return {"value": float(amount), "currency": currency}


def contract(c: Convention) -> fhir.Resource:
    t = c.terms
    parties = [{"reference": [fhir.reference("Organization", p.institution_id)],
                "role": fhir.concept(p.role.value, "party-role")} for p in t.parties]
    terms: list[dict[str, Any]] = [{
        "identifier": {"system": fhir.system("convention-term"), "value": f"{c.reference}/parties"},
        "text": t.title, "offer": {"party": parties, "text": "the parties and their roles"}}]
    objectives = t.objectives
    for name in ("surgeries", "consultations", "training_sessions"):
        target = getattr(objectives, name)
        if target:
            terms.append({"type": fhir.concept(name, "objective"), "text": f"objective: {target} {name.replace('_', ' ')}",
                          "offer": {"text": f"{target}"}})
    for cost in t.reference_costs:
        what = cost.procedure or cost.specialty
        terms.append({
            "type": fhir.concept("reference_cost", "term-kind", "reference cost of one case"),
            "subType": {"text": cost.specialty},
            "text": f"{what}: {cost.abroad.amount} {cost.abroad.currency} abroad, "
                    f"{cost.here.amount} {cost.here.currency} here",
            "offer": {"text": "the cost abroad (net) and here (unitPrice) of treating one case"},
            "asset": [{"valuedItem": [{"entityCodeableConcept": {"text": what},
                                       "net": _money(cost.abroad.amount, cost.abroad.currency),
                                       "unitPrice": _money(cost.here.amount, cost.here.currency)}]}],
        })
    resource: fhir.Resource = {
        "resourceType": "Contract", "id": str(c.id),
        "identifier": [{"system": fhir.system("convention"), "value": c.reference}],
        "status": STATUS[c.status],
        "legalState": fhir.concept(c.status.value, "convention-status"),
        "name": c.reference, "title": t.title,
        "type": fhir.concept(t.kind.value, "convention-kind"),
        "subType": [{"text": s} for s in t.specialties],
        "applies": {"start": fhir.day(t.effective_from), "end": fhir.day(t.effective_until)},
        "authority": [fhir.reference("Organization", p.institution_id) for p in t.parties
                      if p.role in (PartyRole.funder, PartyRole.supervisor)],
        "term": terms,
    }
    if c.signed_on is not None:
        resource["issued"] = f"{c.signed_on.isoformat()}T00:00:00+00:00"
    if c.status is ConventionStatus.expired:
        resource["expirationType"] = fhir.concept("expired", "convention-status", "its period is over")
    if not resource["authority"]:
        del resource["authority"]
    return resource


def convention_bundle(c: Convention, institutions: Mapping[uuid.UUID, Institution | None], at: datetime
                      ) -> fhir.Resource:
    orgs = []
    for p in c.terms.parties:
        i = institutions.get(p.institution_id)
        orgs.append(fhir.organization(p.institution_id, i.name if i else None, kind=i.kind.value if i else None,
                                      city=i.city if i else None, country=i.country if i else None,
                                      district=i.wilaya if i else None))
    return fhir.bundle(f"convention-{c.id}"[:64], [contract(c), *orgs], at=at)
