"""A host's waiting list: its cases by state, with the days each has waited and
the forms' bodies. Pure functions of the scheduling service's answers (what it
returned, exactly: the identity is there only if the service gave it)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, tzinfo
from typing import Any

from jumelage.errors import Invalid
from jumelage.versions import etag

# The tabs, in the order a clinician works through them: (tab, the service's status).
TABS: tuple[tuple[str, str], ...] = (("waiting", "waiting"), ("planned", "scheduled"), ("operated", "operated"),
                                     ("referred elsewhere", "referred_elsewhere"), ("cancelled", "cancelled"))
STATUSES = tuple(status for _, status in TABS)
STILL_WAITING = {"waiting", "scheduled"}  # a planned case is still waiting for its operation
RISK_SCHEMES = ("none", "STAT", "RACHS-1")
RISK_MAX = {"STAT": 5, "RACHS-1": 6}
SEXES = ("female", "male")
# What an edit may change, by the case's status (the scheduling service's rule, which has the
# last word): the patient's identity always; while planned, not what its surgery was booked
# with (procedure, duration, risk); once operated or off the list, the identity only.
IDENTITY = ("full_name", "date_of_birth", "sex", "weight_kg")
EDITABLE: dict[str, tuple[str, ...]] = {
    "waiting": (*IDENTITY, "diagnosis", "planned_procedure", "priority", "expected_duration_minutes",
                "risk_scheme", "risk_category", "referred_abroad"),
    "scheduled": (*IDENTITY, "diagnosis", "priority", "referred_abroad"),
}

# The readiness checklist's items, as the scheduling service names them; the first four make a case ready.
READINESS_ITEMS = ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged", "other")
READY_TABS = {"waiting", "scheduled"}  # the states whose checklist still changes


def local_day(value: Any, zone: tzinfo) -> date | None:
    """The host's calendar day of an instant the service sent (ISO text, UTC)."""
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(zone).date()


def days_waited(case: Mapping[str, Any], today: date, zone: tzinfo) -> int | None:
    """Days on the list: up to today while the case waits (planned included), up to
    the day it left the list (its last change) once operated, referred or cancelled."""
    registered = local_day(case.get("registered_at"), zone)
    if registered is None:
        return None
    end = today if case.get("status") in STILL_WAITING else (local_day(case.get("updated_at"), zone) or today)
    return max(0, (end - registered).days)


def risk(case: Mapping[str, Any]) -> str:
    """``STAT 4``, ``RACHS-1 3``; ``none`` for a non-cardiac case."""
    scheme, category = case.get("risk_scheme") or "none", case.get("risk_category")
    return "none" if scheme == "none" or category is None else f"{scheme} {category}"


def waiting_list(cases: Iterable[Mapping[str, Any]], today: date, zone: tzinfo) -> dict[str, Any]:
    """The cases by state, each with its days waited, risk and ETag; counts per state.
    The service's order (most urgent first) is kept within a state."""
    by_state: dict[str, list[dict[str, Any]]] = {status: [] for status in STATUSES}
    for case in cases:
        row = {**case, "days_waited": days_waited(case, today, zone), "risk": risk(case),
               "etag": etag(int(case["version"])) if case.get("version") is not None else None}
        by_state.setdefault(str(case.get("status")), []).append(row)
    counts = Counter({status: len(rows) for status, rows in by_state.items()})
    return {"by_state": by_state, "counts": dict(counts)}


def case_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The scheduling service's case body from the form's fields (it checks them again);
    a risk category needs a scheme, and stays in the scheme's range."""
    scheme = str(fields.get("risk_scheme") or "none")
    if scheme not in RISK_SCHEMES:
        raise Invalid(f"risk scheme must be one of {', '.join(RISK_SCHEMES)}", field="risk_scheme")
    raw = fields.get("risk_category")
    category = None if raw in (None, "") else _whole(raw, "risk_category")
    if scheme == "none":
        category = None
    elif category is None:
        raise Invalid(f"a {scheme} case needs its risk category", field="risk_category")
    elif not 1 <= category <= RISK_MAX[scheme]:
        raise Invalid(f"{scheme} categories run from 1 to {RISK_MAX[scheme]}", field="risk_category")
    given = {name: _required(fields, name) for name in ("full_name", "date_of_birth", "sex", "weight_kg",
                                                        "diagnosis", "planned_procedure", "priority",
                                                        "expected_duration_minutes")}
    try:
        weight = float(str(given["weight_kg"]).replace(",", "."))
    except ValueError:
        raise Invalid(f"{given['weight_kg']!r} is not a weight in kg", field="weight_kg") from None
    return {
        "patient": {"full_name": str(given["full_name"]), "date_of_birth": str(given["date_of_birth"]),
                    "sex": str(given["sex"]), "weight_kg": weight},
        "diagnosis": str(given["diagnosis"]), "planned_procedure": str(given["planned_procedure"]),
        "priority": _whole(given["priority"], "priority"),
        "expected_duration_minutes": _whole(given["expected_duration_minutes"], "expected_duration_minutes"),
        "risk_scheme": scheme, "risk_category": category,
        "referred_abroad": bool(fields.get("referred_abroad")),
    }


def editable(status: str) -> tuple[str, ...]:
    return EDITABLE.get(status, IDENTITY)


def edit_body(fields: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The service's PATCH body from the edit form of a case in ``status``: the fields that
    status lets change, as the form holds them (unchanged ones are no change to the service)."""
    if status == "waiting":
        return case_body(fields)  # every field, checked as a new case's
    given = {name: _required(fields, name) for name in IDENTITY}
    body: dict[str, Any] = {"patient": {"full_name": str(given["full_name"]),
                                        "date_of_birth": str(given["date_of_birth"]),
                                        "sex": str(given["sex"]), "weight_kg": _weight(given["weight_kg"])}}
    if status == "scheduled":
        body.update(diagnosis=str(_required(fields, "diagnosis")),
                    priority=_whole(_required(fields, "priority"), "priority"),
                    referred_abroad=bool(fields.get("referred_abroad")))
    return body


def _weight(value: Any) -> float:
    try:
        return float(str(value).replace(",", "."))
    except ValueError:
        raise Invalid(f"{value!r} is not a weight in kg", field="weight_kg") from None


def _whole(value: Any, field: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise Invalid(f"{value!r} is not a whole number", field=field) from None


def _required(fields: Mapping[str, Any], name: str) -> Any:
    value = fields.get(name)
    if value is None or str(value).strip() == "":
        raise Invalid("this field is required", field=name)
    return value
