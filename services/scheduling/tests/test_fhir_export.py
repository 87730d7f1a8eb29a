"""A mission as FHIR R4 Bundles, on SQLite and PostgreSQL: each validated with fhir.resources'
R4B models; the care team's roles and home organisations, an appointment per surgery and
consultation, the procedures done with their performers and outcome; the patient named for the
host's clinicians only; who may export, and the audit row of each export."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from scheduling_testkit import ANAESTHETIST, CMCI, CNAS, GSD, PATIENT, PERFUSIONIST, SURGEON, TIARET, Scheduling


def _resources(bundle: Bundle) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for entry in bundle.entry:
        out.setdefault(entry.resource.get_resource_type(), []).append(entry)
    return out


async def _programme(s: Scheduling) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    room = await s.room()
    case = await s.case()
    # The perfusionist works at another hospital than the visiting one: the team says so.
    mission = await s.mission(team=[SURGEON, ANAESTHETIST, {**PERFUSIONIST, "home_institution_id": str(TIARET)}])
    surgery = await s.surgery(mission, case, room, anaesthetist_id=ANAESTHETIST["practitioner_id"])
    consultation = await s.ok("POST", f"/missions/{mission['id']}/consultations", 201, json={
        "case_id": case["id"], "scheduled_at": "2030-06-11T14:00:00+01:00"})
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/complete", json={"outcome": "with_complications",
                                                                      "duration_minutes": 230})
    return mission, case, surgery, consultation


async def test_the_mission_bundle_for_the_host_clinicians_names_the_patient(programme: Scheduling) -> None:
    s = programme
    mission, case, surgery, consultation = await _programme(s)
    with s.client.auth.acting("clinician", institution=CMCI):
        r = await s.client.get(f"/missions/{mission['id']}/fhir")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(r.content)
    found = _resources(bundle)
    names = {e.fullUrl: e.resource.name for e in found["Organization"]}
    assert sorted(names.values()) == ["CMCI Bousmail", "EPH Tiaret", "Gruppo San Donato"]
    (team,) = [e.resource for e in found["CareTeam"]]
    assert team.status == "active" and str(team.period.start) == "2030-06-10"
    members = {p.member.display: (p.role[0].coding[0].code, names[p.onBehalfOf.reference]) for p in team.participant}
    assert members == {"Marco Bellini": ("surgeon", "Gruppo San Donato"),
                       "Giulia Ferraro": ("anaesthetist", "Gruppo San Donato"),
                       "Luca Moretti": ("perfusionist", "EPH Tiaret")}
    appointments = {a.resource.id: a.resource for a in found["Appointment"]}
    assert set(appointments) == {surgery["id"], consultation["id"]}
    operation = appointments[surgery["id"]]
    assert operation.status == "fulfilled" and operation.appointmentType.coding[0].code == "surgery"
    assert operation.description == surgery["procedure"] and operation.minutesDuration == 240
    actors = [p.actor for p in operation.participant]
    assert {a.display for a in actors} >= {"Marco Bellini", "Giulia Ferraro", "Bloc B - salle 2", PATIENT["full_name"]}
    assert appointments[consultation["id"]].status == "booked"
    # The host's clinician: the patient's identity, as a Patient resource both appointments point at.
    (patient,) = [e for e in found["Patient"]]
    assert patient.resource.name[0].text == PATIENT["full_name"]
    assert str(patient.resource.birthDate) == PATIENT["date_of_birth"] and patient.resource.gender == "male"
    assert all(any(p.actor.reference == patient.fullUrl for p in a.participant) for a in appointments.values())
    # Every reference inside the bundle resolves to one of its entries.
    urls = {e.fullUrl for e in bundle.entry}
    text = r.content.decode()
    for ref in {part.split('"')[0] for part in text.split('"reference": "')[1:]}:
        assert ref in urls, ref


async def test_others_get_a_pseudonymous_reference_and_the_procedures_done(programme: Scheduling) -> None:
    s = programme
    mission, case, surgery, _ = await _programme(s)
    surgeon = {"roles": ("practitioner",), "institution": GSD, "practitioner": SURGEON["practitioner_id"]}
    for who in ({"roles": ("coordinator",), "institution": GSD}, {"roles": ("coordinator",), "institution": CMCI},
                surgeon, {"roles": ("clinician",), "institution": GSD}):
        roles, rest = who["roles"], {k: v for k, v in who.items() if k != "roles"}
        with s.client.auth.acting(*roles, **rest):
            for path in (f"/missions/{mission['id']}/fhir", f"/missions/{mission['id']}/fhir/procedures"):
                r = await s.client.get(path)
                if who == {"roles": ("clinician",), "institution": GSD}:
                    assert r.status_code == 403 and "may not" in r.json()["detail"]
                    continue
                assert r.status_code == 200, (who, r.text)
                found = _resources(Bundle.model_validate_json(r.content))
                assert "Patient" not in found, who
                for secret in (PATIENT["full_name"], "Benali", PATIENT["date_of_birth"]):
                    assert secret not in r.text, (who, secret)
                assert case["patient_ref"] in r.text

    with s.client.auth.acting("coordinator", institution=GSD):
        r = await s.client.get(f"/missions/{mission['id']}/fhir/procedures", headers={"X-Correlation-ID": "gsd-fhir"})
    found = _resources(Bundle.model_validate_json(r.content))
    (procedure,) = [e.resource for e in found["Procedure"]]
    assert procedure.id == surgery["id"] and procedure.status == "completed"
    assert procedure.subject.identifier.value == case["patient_ref"] and procedure.subject.reference is None
    assert procedure.outcome.coding[0].code == "with_complications" and procedure.complication
    assert procedure.followUp[0].text.startswith("30-day follow-up")
    names = {e.fullUrl: e.resource.name for e in found["Organization"]}
    performers = {p.actor.display: (p.function.coding[0].code, names[p.onBehalfOf.reference])
                  for p in procedure.performer}
    assert performers == {"Marco Bellini": ("lead_surgeon", "Gruppo San Donato"),
                          "Giulia Ferraro": ("anaesthetist", "Gruppo San Donato")}
    assert procedure.performedPeriod.start is not None and procedure.location.display == "Bloc B - salle 2"

    # Outside the mission: refused, never an empty bundle; an unknown mission is a 404.
    with s.client.auth.acting("funder", institution=CNAS):
        assert (await s.client.get(f"/missions/{mission['id']}/fhir")).status_code == 403
    with s.client.auth.acting("coordinator", institution=TIARET):
        assert (await s.client.get(f"/missions/{mission['id']}/fhir/procedures")).status_code == 403
    assert (await s.client.get(f"/missions/{uuid.uuid4()}/fhir")).status_code == 404
    with s.client.auth.acting("administrator"):
        audit = (await s.client.get("/audit", params={"correlation_id": "gsd-fhir"})).json()["items"]
        everything = (await s.client.get("/audit", params={"limit": 500})).json()["items"]
    assert [(a["action"], a["roles"], a["institution_id"]) for a in audit] == [
        ("GET /missions/{mission_id}/fhir/procedures", ["coordinator"], str(GSD))]
    exports = [a for a in everything if a["action"].startswith("GET /missions/{mission_id}/fhir")]
    assert len(exports) == 7  # the six answered above, and this one; none for the refusals
    assert json.loads(json.dumps(exports[0]["events"])) == []
