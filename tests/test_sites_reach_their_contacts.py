"""A mission that adds a host site, through the three services on the real broker, on SQLite and
PostgreSQL (issue 19): the convention has two beneficiaries, CMCI Bousmail (the mission's host)
and EPH Tiaret; the scheduling service adds Tiaret as a site (``MissionSitesChanged``) and a
training session and a surgery take place there; the notification service follows the sites, and
the surgery's day-30 follow-up reminder goes to Tiaret's contact, not to the host's."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import convention.app
import notification.app
import scheduling.app
from jumelage.clock import write_scenario_instant
from jumelage.testkit.client import found, ok
from jumelage.testkit.mail import MailCatcher
from jumelage.testkit.servers import Database
from jumelage.testkit.services import on_a_scenario_clock
from jumelage.testkit.waiting import eventually

SERVICES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
TIARET_MAIL, CMCI_MAIL = "chirurgie@eph-tiaret.dz", "chirurgie@cmci-bousmail.dz"


@pytest.mark.cost(10)  # three services, a mission at two sites, a surgery completed and its day 30
async def test_a_surgery_at_an_added_site_has_its_follow_up_reminded_to_that_site(
        amqp_url: str, namespace: str, database: Database, tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    async with on_a_scenario_clock(SERVICES, amqp_url=amqp_url, namespace=namespace, database=database,
                                   clock_file=clock_file, start="2031-05-20T08:00:00Z") as (clients, mail):
        await _play(clients["convention"], clients["scheduling"], clients["notification"], mail, clock_file)


async def _play(conv: Any, sched: Any, notif: Any, mail: MailCatcher, clock_file: Path) -> None:
    with conv.auth.acting("administrator"):
        ids = [(await ok(conv, "POST", "/institutions", 201, json={
            "name": name, "kind": kind, "country": country, "city": city}))["id"]
            for name, kind, country, city in [("CNAS", "insurer", "DZ", "Alger"),
                                              ("Gruppo San Donato", "hospital_group", "IT", "Milano"),
                                              ("CMCI Bousmail", "clinic", "DZ", "Bou Ismail"),
                                              ("EPH Tiaret", "hospital", "DZ", "Tiaret")]]
    cnas, gsd, cmci, tiaret = ids
    with conv.auth.acting("coordinator", institution=gsd):
        drafted = await ok(conv, "POST", "/conventions", 201, json={
            "reference": f"CNAS-GSD-2031-{uuid.uuid4().hex[:4].upper()}", "title": "Chirurgie cardiaque pédiatrique",
            "kind": "international_cooperation",
            "parties": [{"institution_id": gsd, "role": "provider"}, {"institution_id": cmci, "role": "beneficiary"},
                        {"institution_id": tiaret, "role": "beneficiary"}, {"institution_id": cnas, "role": "funder"}],
            "effective_from": "2031-01-10", "effective_until": "2032-01-09", "specialties": ["cardiac surgery"],
            "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}})
        convention_id = drafted["id"]
        await ok(conv, "POST", f"/conventions/{convention_id}/sign", json={"signed_on": "2031-05-20",
                                                                             "signed_at": "Alger"})
    surgeon = {"practitioner_id": str(uuid.uuid4()), "full_name": "Alessandro Frigiola", "role": "surgeon"}
    with sched.auth.acting("coordinator", institution=cmci):
        await found(sched, f"/conventions/{convention_id}", lambda c: c["status"] == "signed")
        await found(sched, f"/institutions/{tiaret}")
        mission = await ok(sched, "POST", "/missions", 201, json={
            "convention_id": convention_id, "host_institution_id": cmci, "visiting_institution_id": gsd,
            "specialty": "cardiac surgery", "starts_on": "2031-05-26", "ends_on": "2031-05-30", "team": [surgeon]})
        # Tiaret joins for the last two days.
        await ok(sched, "PUT", f"/missions/{mission['id']}/sites/{tiaret}", json={"starts_on": "2031-05-29"})
        training = await ok(sched, "POST", f"/missions/{mission['id']}/training-sessions", 201, json={
            "topic": "Soins post-opératoires", "scheduled_at": "2031-05-29T15:00:00+01:00", "hours": 2,
            "site_institution_id": tiaret})
        assert training["site_institution_id"] == tiaret
    with sched.auth.acting("coordinator", institution=tiaret):
        await ok(sched, "PUT", f"/institutions/{tiaret}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 2})
        room = await ok(sched, "POST", f"/institutions/{tiaret}/operating-rooms", 201,
                        json={"name": "Bloc Tiaret", "opens_at": "08:00", "closes_at": "18:00"})
    with sched.auth.acting("clinician", institution=tiaret):
        case = await ok(sched, "POST", f"/institutions/{tiaret}/cases", 201, json={
            "patient": {"full_name": "Enfant Boudiaf", "date_of_birth": "2029-03-15", "sex": "male",
                        "weight_kg": 9.5}, "diagnosis": "Ventricular septal defect", "planned_procedure": "VSD closure",
            "priority": 1, "expected_duration_minutes": 180, "risk_scheme": "RACHS-1", "risk_category": 2,
            "referred_abroad": True})
    for institution, address in ((tiaret, TIARET_MAIL), (cmci, CMCI_MAIL)):
        with notif.auth.acting("coordinator", institution=institution):
            await ok(notif, "POST", "/contacts", 201, json={
                "kind": "institution", "institution_id": institution, "email": address, "language": "fr"})
    with sched.auth.acting("coordinator", institution=cmci):
        surgery = await ok(sched, "POST", f"/missions/{mission['id']}/surgeries", 201, json={
            "case_id": case["id"], "operating_room_id": room["id"], "scheduled_start": "2031-05-29T08:30:00+01:00",
            "lead_surgeon_id": surgeon["practitioner_id"]})
        assert surgery["site_institution_id"] == tiaret
    # Operated on the 29th, at Tiaret.
    write_scenario_instant(clock_file, "2031-05-29T13:00:00Z")
    with sched.auth.acting("coordinator", institution=cmci):
        await ok(sched, "POST", f"/missions/{mission['id']}/start")
    with sched.auth.acting("clinician", institution=tiaret):
        await ok(sched, "POST", f"/surgeries/{surgery['id']}/start", json={"started_at": "2031-05-29T08:40:00+01:00"})
        await ok(sched, "POST", f"/surgeries/{surgery['id']}/complete", json={
            "outcome": "successful", "duration_minutes": 170, "completed_at": "2031-05-29T11:30:00+01:00"})
    with notif.auth.acting("administrator"):
        planned = await found(notif, f"/reminders?subject_id={surgery['id']}&status=scheduled",
                              lambda page: any(r["kind"] == "follow_up" for r in page["items"]))
    (follow_up,) = [r for r in planned["items"] if r["kind"] == "follow_up"]
    assert follow_up["due_at"] == "2031-06-28T08:00:00Z"

    # Day 30: Tiaret's contact is reminded (in French), not the host's.
    write_scenario_instant(clock_file, "2031-06-28T08:00:01Z")
    await eventually(lambda: any("30 jours" in m["Subject"] for m in mail.messages(to=TIARET_MAIL)) or None)
    with notif.auth.acting("administrator"):
        sent = await ok(notif, "GET", "/notifications?cause_type=FollowUpReminder")
    assert sent["total"] == 1
    assert not [m for m in mail.messages(to=CMCI_MAIL) if "30 jours" in m["Subject"]]
