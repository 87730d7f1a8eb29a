"""The local teams' autonomy and the 30-day outcomes through the three services on the real
broker, on SQLite and PostgreSQL (issue 21): the scheduling service records who led each
surgery (from the lead's home institution) and the host's practitioners' parts in it; the
convention service's progress shows the share led locally and each local practitioner's steps;
the notification service reminds the host's contacts on day 30; the host's clinicians record
the follow-ups (a death before day 30 cancels that surgery's reminder) and the convention's
progress shows the 30-day mortality and complications per risk category."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import convention.app
import notification.app
import scheduling.app
from jumelage.clock import write_scenario_instant
from jumelage.testkit.client import found, ok
from jumelage.testkit.mail import MailCatcher, subjects
from jumelage.testkit.servers import Database
from jumelage.testkit.services import on_a_scenario_clock
from jumelage.testkit.waiting import eventually

SERVICES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
HOST_MAIL = "chirurgie@cmci-bousmail.dz"


async def test_autonomy_and_thirty_day_outcomes_across_the_services(
        amqp_url: str, namespace: str, database: Database, tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    async with on_a_scenario_clock(SERVICES, amqp_url=amqp_url, namespace=namespace, database=database,
                                   clock_file=clock_file, start="2031-05-20T08:00:00Z") as (clients, mail):
        await _play(clients["convention"], clients["scheduling"], clients["notification"], mail, clock_file)


async def _play(conv: Any, sched: Any, notif: Any, mail: MailCatcher, clock_file: Path) -> None:
    with conv.auth.acting("administrator"):
        cnas, gsd, cmci = [(await ok(conv, "POST", "/institutions", 201, json={
            "name": name, "kind": kind, "country": country, "city": city}))["id"]
            for name, kind, country, city in [("CNAS", "insurer", "DZ", "Alger"),
                                              ("Gruppo San Donato", "hospital_group", "IT", "Milano"),
                                              ("CMCI Bousmail", "clinic", "DZ", "Bou Ismail")]]
    with conv.auth.acting("coordinator", institution=gsd):
        convention_id = (await ok(conv, "POST", "/conventions", 201, json={
            "reference": f"CNAS-GSD-2031-{uuid.uuid4().hex[:4].upper()}", "title": "Chirurgie cardiaque pédiatrique",
            "kind": "international_cooperation",
            "parties": [{"institution_id": gsd, "role": "provider"}, {"institution_id": cmci, "role": "beneficiary"},
                        {"institution_id": cnas, "role": "funder"}],
            "effective_from": "2031-01-10", "effective_until": "2032-01-09", "specialties": ["cardiac surgery"],
            "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}}))["id"]
        await ok(conv, "POST", f"/conventions/{convention_id}/sign", json={"signed_on": "2031-05-20",
                                                                             "signed_at": "Alger"})
    visiting = {"practitioner_id": str(uuid.uuid4()), "full_name": "Alessandro Frigiola", "role": "surgeon"}
    local = {"practitioner_id": str(uuid.uuid4()), "full_name": "Karim Haddad", "role": "surgeon",
             "home_institution_id": cmci}
    resident = {"practitioner_id": str(uuid.uuid4()), "full_name": "Nadia Saidi", "role": "resident",
                "home_institution_id": cmci}
    with sched.auth.acting("coordinator", institution=cmci):
        await found(sched, f"/conventions/{convention_id}", lambda c: c["status"] == "signed")
        await found(sched, f"/institutions/{cmci}")
        await ok(sched, "PUT", f"/institutions/{cmci}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 4})
        rooms = [await ok(sched, "POST", f"/institutions/{cmci}/operating-rooms", 201,
                          json={"name": name, "opens_at": "08:00", "closes_at": "18:00"})
                 for name in ("Bloc cardiaque 1", "Bloc cardiaque 2")]
        mission = await ok(sched, "POST", "/missions", 201, json={
            "convention_id": convention_id, "host_institution_id": cmci, "visiting_institution_id": gsd,
            "specialty": "cardiac surgery", "starts_on": "2031-05-26", "ends_on": "2031-05-30",
            "team": [visiting, local, resident]})
    with sched.auth.acting("clinician", institution=cmci):
        cases = [await ok(sched, "POST", f"/institutions/{cmci}/cases", 201, json={
            "patient": {"full_name": name, "date_of_birth": "2029-03-15", "sex": "male", "weight_kg": 9.5},
            "diagnosis": "Ventricular septal defect", "planned_procedure": "VSD closure", "priority": 1,
            "expected_duration_minutes": 180, "risk_scheme": "RACHS-1", "risk_category": category,
            "referred_abroad": True}) for name, category in (("Enfant Benali", 2), ("Enfant Saadi", 3))]
    with notif.auth.acting("coordinator", institution=cmci):
        await ok(notif, "POST", "/contacts", 201, json={
            "kind": "institution", "institution_id": cmci, "email": HOST_MAIL, "language": "fr"})
    with sched.auth.acting("coordinator", institution=cmci):
        led_by_visitor, led_locally = [await ok(sched, "POST", f"/missions/{mission['id']}/surgeries", 201, json={
            "case_id": case["id"], "operating_room_id": room["id"], "scheduled_start": "2031-05-27T08:30:00+01:00",
            "lead_surgeon_id": lead["practitioner_id"]})
            for case, room, lead in zip(cases, rooms, (visiting, local), strict=True)]
        # Before the day: the host's practitioners' parts in the visitor's surgery.
        await ok(sched, "PUT", f"/surgeries/{led_by_visitor['id']}/local-roles", json={"local_roles": [
            {"practitioner_id": local["practitioner_id"], "role": "assistant"},
            {"practitioner_id": resident["practitioner_id"], "role": "observer"}]})

    write_scenario_instant(clock_file, "2031-05-27T16:00:00Z")
    with sched.auth.acting("coordinator", institution=cmci):
        await ok(sched, "POST", f"/missions/{mission['id']}/start")
    with sched.auth.acting("clinician", institution=cmci):
        for surgery in (led_by_visitor, led_locally):
            await ok(sched, "POST", f"/surgeries/{surgery['id']}/start", json={"started_at": "2031-05-27T07:35:00Z"})
        await ok(sched, "POST", f"/surgeries/{led_by_visitor['id']}/complete", json={
            "outcome": "successful", "duration_minutes": 170, "completed_at": "2031-05-27T10:30:00Z"})
        await ok(sched, "POST", f"/surgeries/{led_locally['id']}/complete", json={
            "outcome": "with_complications", "duration_minutes": 175, "completed_at": "2031-05-27T10:35:00Z",
            "local_roles": [{"practitioner_id": local["practitioner_id"], "role": "primary_under_supervision"},
                            {"practitioner_id": resident["practitioner_id"], "role": "assistant"}]})

    # The convention's progress: one surgery of two led locally, and each practitioner's steps.
    with conv.auth.acting("funder", institution=cnas):
        autonomy = await found(conv, f"/conventions/{convention_id}/progress/autonomy",
                               lambda a: a["surgeries"] == 2)
    assert (autonomy["led_locally"], autonomy["share_led_locally"]) == (1, 50.0)
    assert [(r["risk_category"], r["surgeries"], r["led_locally"]) for r in autonomy["by_risk"]] == [(2, 1, 0),
                                                                                                    (3, 1, 1)]
    assert [(p["period"], p["led_locally"]) for p in autonomy["periods"]] == [("2031-05", 1)]
    steps = {c["full_name"]: (c["highest_role"], [s["role"] for s in c["steps"]]) for c in autonomy["practitioners"]}
    assert steps == {"Karim Haddad": ("primary_under_supervision", ["assistant", "primary_under_supervision"]),
                     "Nadia Saidi": ("assistant", ["observer", "assistant"])}

    async def follow_up_reminders(surgery: dict[str, Any], status: str) -> Any:
        with notif.auth.acting("administrator"):
            return await found(notif, f"/reminders?subject_id={surgery['id']}&status={status}",
                               lambda page: any(r["kind"] == "follow_up" for r in page["items"]))

    (due,) = [r for r in (await follow_up_reminders(led_by_visitor, "scheduled"))["items"] if r["kind"] == "follow_up"]
    assert due["due_at"] == "2031-06-26T08:00:00Z"  # day 30, at 09:00 in Algiers
    await follow_up_reminders(led_locally, "scheduled")

    # Day 14: the host's clinicians record a death; that surgery's reminder is cancelled.
    write_scenario_instant(clock_file, "2031-06-10T09:00:00Z")
    with sched.auth.acting("clinician", institution=cmci):
        await ok(sched, "POST", f"/surgeries/{led_by_visitor['id']}/follow-up", 409, json={"outcome": "alive"})
        died = await ok(sched, "POST", f"/surgeries/{led_locally['id']}/follow-up", json={"outcome": "deceased"})
    assert died["follow_up_days"] == 14
    await follow_up_reminders(led_locally, "cancelled")

    # Day 30: the host is reminded of the other one, and its clinicians record it.
    write_scenario_instant(clock_file, "2031-06-26T08:00:01Z")
    await eventually(lambda: ("Suivi à 30 jours à enregistrer : VSD closure" in subjects(mail, HOST_MAIL)) or None)
    assert len([s for s in subjects(mail, HOST_MAIL) if s.startswith("Suivi à 30 jours")]) == 1
    with sched.auth.acting("clinician", institution=cmci):
        await ok(sched, "POST", f"/surgeries/{led_by_visitor['id']}/follow-up", json={"outcome": "readmitted"})

    with conv.auth.acting("funder", institution=cnas):
        outcomes = await found(conv, f"/conventions/{convention_id}/progress/outcomes",
                               lambda o: o["total"]["followed_up"] == 2)
    by_category = {r["risk_category"]: r for r in outcomes["by_risk"]}
    assert (by_category[2]["complications"], by_category[2]["mortality_30_days"]) == (1, 0.0)
    assert (by_category[3]["deaths_within_30_days"], by_category[3]["mortality_30_days"]) == (1, 100.0)
    assert (outcomes["total"]["followed_up_share"], outcomes["total"]["mortality_30_days"]) == (100.0, 50.0)
