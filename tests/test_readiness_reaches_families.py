"""A case booked for surgery that is no longer fit (its host withdraws an item of its readiness
checklist) is taken off the plan, and its family is told: the three services in this process
over the real broker, on SQLite and PostgreSQL, from the withdrawal in the scheduling service to
the family's notification in the notification service."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

import convention.app
import notification.app
import scheduling.app
from scheduling.domain.values import UNFIT_REASON
from jumelage.testkit.client import bearer
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running_services
from jumelage.testkit.waiting import eventually

MODULES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
READY = ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged")


@pytest.mark.cost(15)  # three services in process, a plan and its cancellation
async def test_a_family_is_told_when_its_child_s_booked_surgery_is_cancelled_for_readiness(
        amqp_url: str, declared_namespace: str, database: Database) -> None:
    async with running_services(MODULES, amqp_url=amqp_url, namespace=declared_namespace,
                                database=database) as clients:
        ids: dict[str, str] = {}

        async def call(who: tuple[str, str | None], service: str, method: str, path: str, status: int = 200,
                       **kw: Any) -> Any:
            role, institution = who
            r: httpx.Response = await clients[service].request(
                method, path, headers=bearer(role, institution=institution, subject=f"{role}-{institution}"), **kw)
            assert r.status_code == status, f"{method} {service}{path}: {r.status_code} {r.text}"
            return r.json() if r.content else None

        admin = ("administrator", None)
        for key, kind in (("host", "clinic"), ("visiting", "hospital_group")):
            ids[key] = (await call(admin, "convention", "POST", "/institutions", 201, json={
                "name": f"{key.title()} {uuid.uuid4().hex[:6]}", "kind": kind, "country": "DZ",
                "city": "Alger"}))["id"]
        coordinator, clinician = ("coordinator", ids["host"]), ("clinician", ids["host"])
        today = date.today()
        draft = await call(coordinator, "convention", "POST", "/conventions", 201, json={
            "reference": f"READY-{uuid.uuid4().hex[:6]}", "title": "Chirurgie cardiaque", "kind": "twinning",
            "parties": [{"institution_id": ids["visiting"], "role": "provider"},
                        {"institution_id": ids["host"], "role": "beneficiary"}],
            "effective_from": str(today), "effective_until": str(today + timedelta(days=365)),
            "specialties": ["paediatric cardiac surgery"]})
        await call(coordinator, "convention", "POST", f"/conventions/{draft['id']}/sign",
                   json={"signed_on": str(today), "signed_at": "Alger"})

        async def signed() -> bool:
            r = await clients["scheduling"].get(f"/conventions/{draft['id']}",
                                                headers=bearer("coordinator", institution=ids["host"]))
            return r.status_code == 200 and r.json()["status"] == "signed"

        await eventually(signed)
        room = await call(coordinator, "scheduling", "POST", f"/institutions/{ids['host']}/operating-rooms", 201,
                          json={"name": "Bloc 1", "opens_at": "08:00", "closes_at": "18:00"})
        surgeon = str(uuid.uuid4())
        starts = today + timedelta(days=10)
        mission = await call(coordinator, "scheduling", "POST", "/missions", 201, json={
            "convention_id": draft["id"], "host_institution_id": ids["host"],
            "visiting_institution_id": ids["visiting"], "specialty": "paediatric cardiac surgery",
            "starts_on": str(starts), "ends_on": str(starts + timedelta(days=2)),
            "team": [{"practitioner_id": surgeon, "full_name": "Dr Rossi", "role": "surgeon"},
                     {"practitioner_id": str(uuid.uuid4()), "full_name": "Dr Conti", "role": "anaesthetist"}]})
        case = await call(clinician, "scheduling", "POST", f"/institutions/{ids['host']}/cases", 201, json={
            "patient": {"full_name": "Enfant Prêt", "date_of_birth": "2021-01-01", "sex": "male", "weight_kg": 14},
            "diagnosis": "CIV", "planned_procedure": "Fermeture de CIV", "priority": 2,
            "expected_duration_minutes": 180, "risk_scheme": "none"})
        for item in READY:
            await call(clinician, "scheduling", "PUT", f"/cases/{case['id']}/readiness/{item}")
        family = await call(clinician, "notification", "POST", "/contacts", 201, json={
            "kind": "family", "patient_ref": case["patient_ref"], "email": "famille@example.dz", "language": "ar"})
        await call(clinician, "notification", "POST", f"/contacts/{family['id']}/consent",
                   json={"given_by": "la mère, formulaire signé"})
        plan = await call(coordinator, "scheduling", "POST", f"/missions/{mission['id']}/plan",
                          json={"time_limit_seconds": 2})
        (line,) = plan["assignments"]
        await call(coordinator, "scheduling", "POST", f"/missions/{mission['id']}/plan/apply",
                   json={"assignments": [line]})

        async def told(cause: str) -> list[dict[str, Any]]:
            page = await call(admin, "notification", "GET", "/notifications",
                              params={"recipient_ref": family["recipient_ref"], "cause_type": cause})
            return page["items"]

        await eventually(lambda: told("SurgeryScheduled"))
        # Fit for anaesthesia withdrawn: the surgery is cancelled, the family told.
        unfit = await call(clinician, "scheduling", "DELETE", f"/cases/{case['id']}/readiness/fit_for_anaesthesia")
        assert unfit["cancelled_surgery_id"] and unfit["status"] == "waiting"
        surgery = await call(coordinator, "scheduling", "GET", f"/surgeries/{unfit['cancelled_surgery_id']}")
        assert (surgery["status"], surgery["status_reason"]) == ("cancelled", UNFIT_REASON)
        await eventually(lambda: told("SurgeryCancelled"))
        (notice,) = await told("SurgeryCancelled")
        assert notice["template"] == "SurgeryCancelled/ar/email" and notice["channel"] == "email"
