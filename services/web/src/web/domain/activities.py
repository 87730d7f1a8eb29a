"""A mission's consultations and training sessions: the lists in order, what the
reader may do (the scheduling service has the last word), and the wall-clock
times of the forms as instants. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jumelage.errors import Invalid


def instant(local: str, zone: str, *, field: str) -> str:
    """A form's ``YYYY-MM-DDTHH:MM`` (the host's wall clock) as an ISO instant with its offset."""
    try:
        wall = datetime.fromisoformat(local)
    except ValueError:
        raise Invalid(f"{local!r} is not a date and time (YYYY-MM-DDTHH:MM)", field=field) from None
    if wall.tzinfo is not None:
        return wall.isoformat()
    try:
        return wall.replace(tzinfo=ZoneInfo(zone)).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {zone!r}", field="zone") from None


def in_order(activities: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(activities, key=lambda a: str(a.get("scheduled_at", "")))


def summary(consultations: list[Mapping[str, Any]], trainings: list[Mapping[str, Any]]) -> dict[str, Any]:
    held = [t for t in trainings if t.get("status") == "held"]
    return {"consultations_held": sum(1 for c in consultations if c.get("status") == "held"),
            "consultations": len(consultations), "training_held": len(held), "training": len(trainings),
            "trainees": sum(int(t.get("trainee_count") or 0) for t in held),
            "training_hours": round(sum(float(t.get("hours") or 0) for t in held), 2)}


def offered(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> set[str]:
    """The forms to show, per the scheduling service's rules: coordinators of the host or
    the visiting institution plan and hold both; the host's clinicians consultations."""
    roles = set(roles)
    parties = {mission.get("host_institution_id"), mission.get("visiting_institution_id")}
    out: set[str] = set()
    if "coordinator" in roles and institution_id in parties:
        out |= {"consultation", "training"}
    if "clinician" in roles and institution_id == mission.get("host_institution_id"):
        out.add("consultation")
    return out


def consultation_body(scheduled_at: str, case_id: str | None, new_patient: dict[str, Any] | None) -> dict[str, Any]:
    """A consultation for a case of the waiting list, or for a new patient (registered as a
    case by the service): one of the two, never both."""
    if case_id and new_patient:
        raise Invalid("choose a patient of the waiting list or a new patient, not both", field="case_id")
    if not case_id and not new_patient:
        raise Invalid("choose a patient of the waiting list, or give a new patient", field="case_id")
    body: dict[str, Any] = {"scheduled_at": scheduled_at}
    if case_id:
        body["case_id"] = case_id
    else:
        body["new_patient"] = new_patient
    return body
