"""A mission as FHIR R4 (the README's "FHIR export"). Pure.

- ``mission_bundle``: a ``CareTeam`` (each member with their role, their days on site and the
  Organization they work for, ``onBehalfOf``), a ``Practitioner`` per member, an ``Appointment``
  per surgery and per consultation, and the Organizations (host, visiting institution, members'
  home institutions).
- ``procedures_bundle``: a ``Procedure`` per surgery done, its performers (the lead surgeon and
  the anaesthetist, each with their function and the Organization they act for), its room, its
  outcome at discharge; ``followUp``: its 30-day follow-up as the host's clinicians recorded it
  (the outcome, the day, how many days after), or that none is recorded yet.

A patient is a ``Patient`` resource with name and birth date only in the host's clinicians'
export (``identities``); anyone else gets the case's pseudonymous reference and nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from scheduling.domain.activities import ActivityStatus, Consultation
from scheduling.domain.cases import PatientCase
from scheduling.domain.missions import Mission
from scheduling.domain.surgeries import Surgery
from scheduling.domain.values import MissionStatus, SurgeryStatus, TeamMember
import jumelage.fhir as fhir

CONSULTATION_MINUTES = 30
"""A consultation has a time, not a length: its Appointment is given this one (FHIR wants an end with a start)."""

CARE_TEAM_STATUS = {MissionStatus.scheduled: "proposed", MissionStatus.on_hold: "suspended",
                    MissionStatus.started: "active", MissionStatus.completed: "inactive",
                    MissionStatus.cancelled: "inactive"}
SURGERY_APPOINTMENT = {SurgeryStatus.scheduled: "booked", SurgeryStatus.started: "arrived",
                       SurgeryStatus.completed: "fulfilled", SurgeryStatus.cancelled: "cancelled"}
CONSULTATION_APPOINTMENT = {ActivityStatus.scheduled: "booked", ActivityStatus.held: "fulfilled",
                            ActivityStatus.cancelled: "cancelled"}


class Named(Protocol):
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str


class Patients:
    """How the export names the patients: their identity for the host's clinicians, else the
    pseudonymous reference; the Patient resources it adds."""

    def __init__(self, cases: Mapping[uuid.UUID, PatientCase], identities: bool) -> None:
        self.cases, self.identities = cases, identities
        self.resources: dict[uuid.UUID, fhir.Resource] = {}

    def subject(self, case_id: uuid.UUID, patient_ref: str) -> dict[str, Any]:
        case = self.cases.get(case_id)
        if not self.identities or case is None:
            return fhir.pseudonymous(patient_ref)
        if case_id not in self.resources:
            p = case.patient
            self.resources[case_id] = fhir.patient(case_id, patient_ref, full_name=p.full_name,
                                                   birth_date=p.date_of_birth, sex=p.sex.value)
        return fhir.reference("Patient", case_id, case.patient.full_name)


def _organizations(ids: Iterable[uuid.UUID], known: Mapping[uuid.UUID, Named | None]) -> list[fhir.Resource]:
    out = []
    for i in dict.fromkeys(ids):
        n = known.get(i)
        out.append(fhir.organization(i, n.name if n else None, kind=n.kind if n else None,
                                     city=n.city if n else None, country=n.country if n else None))
    return out


def _home(m: Mission, member: TeamMember) -> uuid.UUID:
    return member.home_institution_id or m.visiting_institution_id


def _practitioner(member: TeamMember) -> fhir.Resource:
    return {"resourceType": "Practitioner", "id": str(member.practitioner_id),
            "identifier": [{"system": fhir.system("practitioner"), "value": str(member.practitioner_id)}],
            "name": [{"text": member.full_name}]}


def _member_ref(m: Mission, practitioner_id: uuid.UUID) -> dict[str, Any]:
    member = m.member(practitioner_id)
    if member is None:  # no longer on the team: named by id only
        return {"identifier": {"system": fhir.system("practitioner"), "value": str(practitioner_id)},
                "type": "Practitioner"}
    return fhir.reference("Practitioner", practitioner_id, member.full_name)


def care_team(m: Mission) -> fhir.Resource:
    return {
        "resourceType": "CareTeam", "id": str(m.id),
        "identifier": [{"system": fhir.system("mission"), "value": str(m.id)}],
        "status": CARE_TEAM_STATUS[m.status],
        "category": [fhir.concept("mission", "care-team-kind", "a visiting team's mission")],
        "name": f"{m.specialty}, {m.starts_on} to {m.ends_on}",
        "period": {"start": fhir.day(m.starts_on), "end": fhir.day(m.ends_on)},
        "participant": [{
            "role": [fhir.concept(t.role.value, "practitioner-role")],
            "member": fhir.reference("Practitioner", t.practitioner_id, t.full_name),
            "onBehalfOf": fhir.reference("Organization", _home(m, t)),
            "period": {"start": fhir.day(t.arrives_on or m.starts_on), "end": fhir.day(t.leaves_on or m.ends_on)},
        } for t in m.team],
        "managingOrganization": [fhir.reference("Organization", m.host_institution_id),
                                 fhir.reference("Organization", m.visiting_institution_id)],
        "note": [{"text": f"under convention {m.convention_id}"}],
    }


def _accepted(actor: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"actor": actor, "required": "required", "status": "accepted"}
    if kind:
        p["type"] = [fhir.concept(kind, "participant-kind")]
    return p


def surgery_appointment(m: Mission, s: Surgery, patients: Patients) -> fhir.Resource:
    people = [_accepted(patients.subject(s.case_id, s.patient_ref)),
              _accepted(_member_ref(m, s.lead_surgeon_id), "lead_surgeon")]
    if s.anaesthetist_id:
        people.append(_accepted(_member_ref(m, s.anaesthetist_id), "anaesthetist"))
    people.append(_accepted({"display": s.operating_room, "type": "Location",
                             "identifier": {"system": fhir.system("operating-room"),
                                            "value": str(s.operating_room_id)}}))
    a: fhir.Resource = {
        "resourceType": "Appointment", "id": str(s.id),
        "identifier": [{"system": fhir.system("surgery"), "value": str(s.id)}],
        "status": "pending" if s.on_hold else SURGERY_APPOINTMENT[s.status],
        "appointmentType": fhir.concept("surgery", "activity"),
        "serviceType": [{"text": m.specialty}], "description": s.procedure,
        "start": fhir.instant(s.scheduled_start), "end": fhir.instant(s.scheduled_end),
        "minutesDuration": s.expected_duration_minutes, "participant": people,
    }
    if s.status is SurgeryStatus.cancelled and s.status_reason:
        a["cancelationReason"] = {"text": s.status_reason}
    if s.priority is not None:
        a["priority"] = s.priority
    return a


def consultation_appointment(m: Mission, c: Consultation, patients: Patients) -> fhir.Resource:
    at: datetime = c.held_at or c.scheduled_at
    return {
        "resourceType": "Appointment", "id": str(c.id),
        "identifier": [{"system": fhir.system("consultation"), "value": str(c.id)}],
        "status": "pending" if c.on_hold else CONSULTATION_APPOINTMENT[c.status],
        "appointmentType": fhir.concept("consultation", "activity"),
        "serviceType": [{"text": c.specialty}],
        "start": fhir.instant(at), "end": fhir.instant(at + timedelta(minutes=CONSULTATION_MINUTES)),
        "minutesDuration": CONSULTATION_MINUTES,
        "participant": [_accepted(patients.subject(c.case_id, c.patient_ref))],
    }


def mission_bundle(m: Mission, surgeries: list[Surgery], consultations: list[Consultation],
                   patients: Patients, known: Mapping[uuid.UUID, Named | None], at: datetime) -> fhir.Resource:
    appointments = [surgery_appointment(m, s, patients) for s in sorted(surgeries, key=lambda s: s.scheduled_start)]
    appointments += [consultation_appointment(m, c, patients)
                     for c in sorted(consultations, key=lambda c: c.scheduled_at)]
    orgs = _organizations([m.host_institution_id, m.visiting_institution_id, *(_home(m, t) for t in m.team)], known)
    return fhir.bundle(f"mission-{m.id}", [care_team(m), *orgs, *(_practitioner(t) for t in m.team),
                                            *appointments, *patients.resources.values()], at=at)


def procedure(m: Mission, s: Surgery, patients: Patients) -> fhir.Resource:
    performers = []
    for practitioner_id, function in ((s.lead_surgeon_id, "lead_surgeon"), (s.anaesthetist_id, "anaesthetist")):
        if practitioner_id is None:
            continue
        member = m.member(practitioner_id)
        performer: dict[str, Any] = {"function": fhir.concept(function, "performer-function",
                                                              function.replace("_", " ")),
                                     "actor": _member_ref(m, practitioner_id)}
        performer["onBehalfOf"] = fhir.reference("Organization", _home(m, member) if member
                                                 else m.visiting_institution_id)
        performers.append(performer)
    p: fhir.Resource = {
        "resourceType": "Procedure", "id": str(s.id),
        "identifier": [{"system": fhir.system("surgery"), "value": str(s.id)}],
        "status": "completed",
        "category": fhir.concept("surgery", "activity"),
        "code": {"text": s.procedure},
        "subject": patients.subject(s.case_id, s.patient_ref),
        "performer": performers,
        "location": {"display": s.operating_room, "type": "Location",
                     "identifier": {"system": fhir.system("operating-room"), "value": str(s.operating_room_id)}},
        "followUp": [{"text": _follow_up(s)}],
        "note": [{"text": f"mission {m.id}, {m.specialty}"}],
    }
    if s.started_at and s.completed_at:
        p["performedPeriod"] = {"start": fhir.instant(s.started_at), "end": fhir.instant(s.completed_at)}
    elif s.completed_at:
        p["performedDateTime"] = fhir.instant(s.completed_at)
    if s.outcome is not None:
        p["outcome"] = fhir.concept(s.outcome.value, "surgery-outcome", f"at discharge: {s.outcome.value.replace('_', ' ')}")
        if s.outcome.value == "with_complications":
            p["complication"] = [{"text": "complications recorded at discharge"}]
    return p


def _follow_up(s: Surgery) -> str:
    if s.follow_up_outcome is None:
        return "30-day follow-up: not recorded yet"
    return (f"30-day follow-up: {s.follow_up_outcome.value.replace('_', ' ')}, recorded on {s.followed_up_on} "
            f"({s.follow_up_days} days after the surgery)")


def procedures_bundle(m: Mission, surgeries: list[Surgery], patients: Patients,
                      known: Mapping[uuid.UUID, Named | None], at: datetime) -> fhir.Resource:
    done = sorted((s for s in surgeries if s.status is SurgeryStatus.completed),
                  key=lambda s: s.completed_at or s.scheduled_start)
    procedures = [procedure(m, s, patients) for s in done]
    members = {t.practitioner_id: t for t in m.team}
    acting = [members[pid] for s in done for pid in (s.lead_surgeon_id, s.anaesthetist_id) if pid in members]
    orgs = _organizations([m.host_institution_id, m.visiting_institution_id, *(_home(m, t) for t in acting)], known)
    return fhir.bundle(f"procedures-{m.id}", [*procedures, *orgs, *(_practitioner(t) for t in acting),
                                               *patients.resources.values()], at=at)
