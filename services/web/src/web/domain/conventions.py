"""A convention's page: which actions its status allows, its progress as chart
series, its history as lines a person reads. Pure functions of the services' answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jumelage.errors import Invalid

# What each status allows (the convention service has the last word, and its refusal is shown).
ACTIONS: dict[str, tuple[str, ...]] = {
    "draft": ("edit", "sign"),
    "signed": ("amend", "suspend", "terminate"),
    "suspended": ("resume", "amend", "terminate"),
    "terminated": (),
    "expired": (),
}
STATUSES = ("draft", "signed", "suspended", "terminated", "expired")
PARTY_ROLES = ("funder", "provider", "beneficiary", "supervisor")


def actions(convention: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> tuple[str, ...]:
    """The actions to offer: a coordinator of a party, in the status's list."""
    party = institution_id is not None and any(p.get("institution_id") == institution_id
                                               for p in convention.get("parties", []))
    if "coordinator" not in set(roles) or not party:
        return ()
    return ACTIONS.get(str(convention.get("status")), ())


def parties(convention: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, str]]:
    """Each party with its institution's name (its id when the name is unknown) and role."""
    return [{"institution_id": p["institution_id"], "name": names.get(p["institution_id"], p["institution_id"]),
             "role": p["role"]} for p in convention.get("parties", [])]


def objectives_chart(progress: Mapping[str, Any]) -> dict[str, Any]:
    """Done against target for surgeries, consultations and training sessions."""
    kinds = ("surgeries", "consultations", "training_sessions")
    return {"kinds": list(kinds),
            "done": [int(progress.get(k, {}).get("done", 0)) for k in kinds],
            "target": [int(progress.get(k, {}).get("target", 0)) for k in kinds]}


def history_lines(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, each with what changed (the details the service recorded)."""
    return [{"at": e.get("at"), "action": e.get("action"), "details": e.get("details") or {}}
            for e in sorted(history, key=lambda e: str(e.get("at", "")), reverse=True)]


KINDS = ("twinning", "international_cooperation", "framework", "other")
PARTY_ROWS = 6  # rows of the parties' table on the draft form (empty rows are left out)


def terms_from_form(form: Mapping[str, str], *, draft: bool) -> dict[str, Any]:
    """The terms a person typed, in the convention service's shapes. Numbers that
    are not numbers are an ``Invalid`` naming the field; everything else is the
    service's to judge (it names what is wrong)."""
    def text(name: str) -> str | None:
        value = (form.get(name) or "").strip()
        return value or None

    def count(name: str) -> int | None:
        value = text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise Invalid(f"{name}: a whole number is expected, not {value[:30]!r}", field=name) from None

    terms: dict[str, Any] = {}
    for name in ("title", "kind", "effective_from", "effective_until"):
        if text(name) is not None:
            terms[name] = text(name)
    parties = [{"institution_id": text(f"party_{i}"), "role": text(f"role_{i}")}
               for i in range(PARTY_ROWS) if text(f"party_{i}")]
    if parties:
        terms["parties"] = parties
    specialties = [s.strip() for s in (form.get("specialties") or "").split(",") if s.strip()]
    if specialties:
        terms["specialties"] = specialties
    objectives = {k: count(k) for k in ("surgeries", "consultations", "training_sessions")}
    if draft:
        terms["reference"] = text("reference")
        terms["objectives"] = {k: v or 0 for k, v in objectives.items()}
        terms.setdefault("specialties", [])
    elif any(v is not None for v in objectives.values()):
        terms["objectives"] = {k: v for k, v in objectives.items() if v is not None}
    costs = reference_costs_from_form(form)
    if costs is not None and (costs or not draft):  # an edit may clear the lines; a new draft need not name them
        terms["reference_costs"] = costs
    return terms

COST_ROWS = 6  # rows of reference-cost lines on the draft, edit and amendment forms (empty rows left out)
COST_FIELDS = ("specialty", "procedure", "abroad_amount", "abroad_currency", "here_amount", "here_currency")


def reference_costs_from_form(form: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """The reference-cost lines typed (``cost_<field>_<row>``), in the convention service's shape:
    per specialty, or a procedure of it, the cost of one case abroad and here, each an amount and a
    currency. ``None`` when the form has no cost rows at all (``cost_rows`` absent): the lines are
    not changed. A row without a specialty is left out; a row begun and not finished is an
    ``Invalid`` naming its first missing field. Amounts and currencies are the service's to judge."""
    if "cost_rows" not in form:
        return None
    lines = []
    for i in range(COST_ROWS):
        row = {f: (form.get(f"cost_{f}_{i}") or "").strip() for f in COST_FIELDS}
        if not any(row.values()):
            continue
        for f in ("specialty", "abroad_amount", "abroad_currency", "here_amount", "here_currency"):
            if not row[f]:
                raise Invalid(f"reference cost line {i + 1}: {f.replace('_', ' ')} is missing",
                              field=f"cost_{f}_{i}")
        line: dict[str, Any] = {"specialty": row["specialty"],
                                "abroad": {"amount": row["abroad_amount"].replace(" ", "").replace(",", "."),
                                           "currency": row["abroad_currency"].upper()},
                                "here": {"amount": row["here_amount"].replace(" ", "").replace(",", "."),
                                         "currency": row["here_currency"].upper()}}
        if row["procedure"]:
            line["procedure"] = row["procedure"]
        lines.append(line)
    return lines
