"""A convention's page: which actions its status allows, its progress as chart
series, its history as lines a person reads. Pure functions of the services' answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# What each status allows (the convention service has the last word, and its refusal is shown).
ACTIONS: dict[str, tuple[str, ...]] = {
    "draft": ("sign",),
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


def cumulative(history: Iterable[Mapping[str, Any]], actions_counted: Mapping[str, str]) -> dict[str, Any]:
    """Progress over time, from the convention's history: for each kind of fact
    (``actions_counted``: history action -> kind), the running total at each day
    a fact was recorded."""
    days: list[str] = []
    totals: dict[str, int] = {kind: 0 for kind in actions_counted.values()}
    series: dict[str, list[int]] = {kind: [] for kind in totals}
    for entry in sorted(history, key=lambda e: str(e.get("at", ""))):
        kind = actions_counted.get(str(entry.get("action")))
        if kind is None:
            continue
        totals[kind] += 1
        day = str(entry.get("at", ""))[:10]
        if days and days[-1] == day:
            for k in totals:
                series[k][-1] = totals[k]
        else:
            days.append(day)
            for k in totals:
                series[k].append(totals[k])
    return {"days": days, "series": series}


def history_lines(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, each with what changed (the details the service recorded)."""
    return [{"at": e.get("at"), "action": e.get("action"), "details": e.get("details") or {}}
            for e in sorted(history, key=lambda e: str(e.get("at", "")), reverse=True)]
