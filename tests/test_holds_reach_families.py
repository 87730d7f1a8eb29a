"""A mission held, released and cancelled, through the three services on the real broker,
on SQLite and PostgreSQL (issue 19): the convention is suspended at the convention service,
the scheduling service holds the mission and its surgery in its slot, and the notification
service tells the family (in Arabic) and the surgeon (in English), sends no reminder while
the mission waits, arms it again on release and tells the family its date stands; the
mission cancelled, the family learns the surgery is cancelled and the case stays on the
waiting list."""

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
from jumelage.testkit.mail import MailCatcher, subjects
from jumelage.testkit.servers import Database
from jumelage.testkit.services import on_a_scenario_clock
from jumelage.testkit.waiting import eventually

SERVICES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
FAMILY = "famille.benali@example.dz"
SURGEON_MAIL = "a.frigiola@example.it"


def body_of(mail: MailCatcher, to: str, subject_start: str) -> str:
    (message,) = [m for m in mail.messages(to=to) if m["Subject"].strip().startswith(subject_start)]
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.mark.cost(12)  # three services, a mission held, released and cancelled
async def test_a_mission_held_released_and_cancelled_reaches_the_family(
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
                                              ("CMCI Bousmail", "clinic", "DZ", "Bou Ismail")]]
    cnas, gsd, cmci = ids
    with conv.auth.acting("coordinator", institution=gsd):
        drafted = await ok(conv, "POST", "/conventions", 201, json={
            "reference": f"CNAS-GSD-2031-{uuid.uuid4().hex[:4].upper()}", "title": "Chirurgie cardiaque pédiatrique",
            "kind": "international_cooperation",
            "parties": [{"institution_id": gsd, "role": "provider"}, {"institution_id": cmci, "role": "beneficiary"},
                        {"institution_id": cnas, "role": "funder"}],
            "effective_from": "2031-01-10", "effective_until": "2032-01-09", "specialties": ["cardiac surgery"],
            "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}})
        convention_id = drafted["id"]
        await ok(conv, "POST", f"/conventions/{convention_id}/sign", json={"signed_on": "2031-05-20",
                                                                             "signed_at": "Alger"})
    surgeon = {"practitioner_id": str(uuid.uuid4()), "full_name": "Alessandro Frigiola", "role": "surgeon"}
    with sched.auth.acting("coordinator", institution=cmci):
        await found(sched, f"/conventions/{convention_id}", lambda c: c["status"] == "signed")
        await found(sched, f"/institutions/{cmci}")
        await ok(sched, "PUT", f"/institutions/{cmci}/resources", json={"timezone": "Africa/Algiers", "icu_beds": 4})
        room = await ok(sched, "POST", f"/institutions/{cmci}/operating-rooms", 201,
                        json={"name": "Bloc cardiaque 1", "opens_at": "08:00", "closes_at": "18:00"})
        mission = await ok(sched, "POST", "/missions", 201, json={
            "convention_id": convention_id, "host_institution_id": cmci, "visiting_institution_id": gsd,
            "specialty": "cardiac surgery", "starts_on": "2031-05-26", "ends_on": "2031-05-30", "team": [surgeon]})
    with sched.auth.acting("clinician", institution=cmci):
        case = await ok(sched, "POST", f"/institutions/{cmci}/cases", 201, json={
            "patient": {"full_name": "Enfant Benali", "date_of_birth": "2029-03-15", "sex": "male", "weight_kg": 9.5},
            "diagnosis": "Ventricular septal defect", "planned_procedure": "VSD closure", "priority": 1,
            "expected_duration_minutes": 180, "risk_scheme": "RACHS-1", "risk_category": 2, "referred_abroad": True})
    with notif.auth.acting("clinician", institution=cmci):
        family = await ok(notif, "POST", "/contacts", 201, json={
            "kind": "family", "patient_ref": case["patient_ref"], "email": FAMILY, "language": "ar"})
        await ok(notif, "POST", f"/contacts/{family['id']}/consent", json={"given_by": "la mère"})
    with notif.auth.acting("coordinator", institution=gsd):
        await ok(notif, "POST", "/contacts", 201, json={
            "kind": "practitioner", "practitioner_id": surgeon["practitioner_id"], "email": SURGEON_MAIL,
            "language": "en"})
    with sched.auth.acting("coordinator", institution=cmci):
        surgery = await ok(sched, "POST", f"/missions/{mission['id']}/surgeries", 201, json={
            "case_id": case["id"], "operating_room_id": room["id"], "scheduled_start": "2031-05-27T08:30:00+01:00",
            "lead_surgeon_id": surgeon["practitioner_id"]})
    await eventually(lambda: ("برمجة عملية جراحية يوم 27 ماي 2031" in subjects(mail, FAMILY)) or None)

    async def surgery_reminders(status: str) -> Any:
        with notif.auth.acting("administrator"):
            return await found(notif, f"/reminders?subject_id={surgery['id']}&status={status}",
                               lambda page: page["total"] > 0)

    await surgery_reminders("scheduled")

    # Held: the convention suspended at the convention service.
    with conv.auth.acting("coordinator", institution=gsd):
        await ok(conv, "POST", f"/conventions/{convention_id}/suspend", json={"reason": "audit financier"})
    with sched.auth.acting("coordinator", institution=cmci):
        held = await found(sched, f"/surgeries/{surgery['id']}", lambda s: s["on_hold"])
        assert (held["status"], held["scheduled_start"]) == ("scheduled", surgery["scheduled_start"]), "slot kept"
        assert (await ok(sched, "GET", f"/missions/{mission['id']}"))["status"] == "on_hold"
    await eventually(lambda: ("عملية جراحية معلّقة: VSD closure" in subjects(mail, FAMILY)) or None)
    assert "الموعد محفوظ" in body_of(mail, FAMILY, "عملية جراحية معلّقة")
    await eventually(lambda: ("Surgery on hold: VSD closure" in subjects(mail, SURGEON_MAIL)) or None)
    await surgery_reminders("cancelled")
    with notif.auth.acting("administrator"):
        assert (await ok(notif, "GET", f"/reminders?subject_id={surgery['id']}&status=scheduled"))["total"] == 0

    # Released: the reminder is armed again and the family told its date stands.
    with conv.auth.acting("coordinator", institution=gsd):
        await ok(conv, "POST", f"/conventions/{convention_id}/resume", json={"reason": "audit clos"})
    await eventually(lambda: ("تأكيد العملية يوم 27 ماي 2031" in subjects(mail, FAMILY)) or None)
    assert "موعدها ثابت" in body_of(mail, FAMILY, "تأكيد العملية")
    (armed,) = (await surgery_reminders("scheduled"))["items"]
    assert armed["due_at"] == "2031-05-26T08:00:00Z"
    with sched.auth.acting("coordinator", institution=cmci):
        assert (await ok(sched, "GET", f"/surgeries/{surgery['id']}"))["on_hold"] is False

    # The day before, at the reminder's hour: it goes out, now that the mission is scheduled again.
    write_scenario_instant(clock_file, "2031-05-26T08:00:01Z")
    await eventually(lambda: any(s.startswith("تذكير") for s in subjects(mail, FAMILY)) or None)
    with notif.auth.acting("administrator"):
        reminded = await ok(notif, "GET", "/notifications?cause_type=SurgeryReminder")
    assert reminded["total"] >= 1

    # Cancelled: the family learns the surgery is cancelled and the case stays on the waiting list.
    with sched.auth.acting("coordinator", institution=cmci):
        await ok(sched, "POST", f"/missions/{mission['id']}/cancel", json={"reason": "équipe indisponible"})
    with sched.auth.acting("clinician", institution=cmci):
        assert (await ok(sched, "GET", f"/cases/{case['id']}"))["status"] == "waiting"
    await eventually(lambda: ("إلغاء عملية جراحية" in subjects(mail, FAMILY)) or None)
    assert "يبقى الملف في قائمة الانتظار" in body_of(mail, FAMILY, "إلغاء عملية جراحية")
    for message in mail.messages(to=FAMILY):  # a family's mail never names the patient's reference
        assert case["patient_ref"] not in message.get_body(preferencelist=("plain",)).get_content()
