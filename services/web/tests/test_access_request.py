"""The family's access request as one PDF, in the family's language: the web app composes the
scheduling service's export (the case) and the notification service's (the family's contact,
what was sent to it), with the person's token; each service decides who may."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from programmes import CASES, mission_programme, planned
from web_testkit import Stack

from jumelage.testkit.waiting import eventually
from web.adapters.pages import Pages
from web.api.privacy import access_request_html

EMAIL = "famille.benali@example.dz"


def text_of(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.asyncio
async def test_the_host_clinician_downloads_the_access_request_in_the_familys_language(mail: Any,
                                                                                      stack: Stack) -> None:
    ids = stack.ids
    programme = await mission_programme(stack, cases=CASES[:1])
    (case,) = programme.cases
    client = stack.services["notification"]

    async def family_registered() -> dict[str, Any] | None:  # once the notification service knows the clinic
        with client.auth.acting("clinician", institution=ids["cmci"]):
            r = await client.post("/contacts", json={"kind": "family", "patient_ref": case["patient_ref"],
                                                     "display_name": "Famille Benali", "email": EMAIL,
                                                     "language": "ar"})
            assert r.status_code in (201, 404, 422), r.text
            if r.status_code != 201:
                return None
            consent = await client.post(f"/contacts/{r.json()['id']}/consent", json={"given_by": "la mère"})
            assert consent.status_code == 200, consent.text
            return r.json()

    await eventually(family_registered)
    await planned(stack, programme)  # SurgeryScheduled: the family is told

    async def notified() -> bool:
        with client.auth.acting("clinician", institution=ids["cmci"]):
            r = await client.get(f"/families/{case['patient_ref']}/access-request")
        return r.status_code == 200 and any(n["cause_type"] == "SurgeryScheduled" for n in r.json()["notifications"])

    await eventually(notified)

    clara = stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{ids['cmci']}/cases?state=scheduled")
    assert f'action="/cases/{case["id"]}/access-request.pdf"' in listing
    path = f"/cases/{case['id']}/access-request.pdf"

    # No language asked: the family contact's (Arabic).
    r = await clara.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text[:500]
    assert r.headers["content-disposition"].startswith("attachment;")
    assert f"{case['patient_ref']}_ar.pdf" in r.headers["content-disposition"]
    assert "no-store" in r.headers["cache-control"]
    arabic = text_of(r.content)
    assert "طلب الاطلاع على البيانات" in arabic
    assert case["patient"]["full_name"] in arabic and EMAIL in arabic

    r = await clara.client.get(path, params={"language": "fr"})
    assert r.status_code == 200 and "_fr.pdf" in r.headers["content-disposition"]
    french = text_of(r.content)
    assert "Demande d'accès" in french and "Notifications envoyées" in french
    assert case["patient"]["full_name"] in french and EMAIL in french and "SurgeryScheduled" in french
    # The access history of both services: clara read the identity on the waiting list (scheduling),
    # and the exports themselves were written down, the notification service's included.
    joined = re.sub(r"\s+", "", french)  # a table cell wraps a long route
    assert "clara(clinician)listedesdossiersGET/institutions/{institution_id}/casesscheduling" in joined
    assert "clara(clinician)exportGET/families/{patient_ref}/access-requestnotification" in joined

    # The privacy officer may too; a clinician of another clinic is refused, on the refusal page.
    dalila = stack.browser()
    await dalila.sign_in("dalila")
    r = await dalila.client.get(path, params={"language": "en"})
    assert r.status_code == 200 and "Access request" in text_of(r.content)
    omar = stack.browser()
    await omar.sign_in("omar")
    refused = await omar.open(path, status=403)
    assert "scheduling" in refused and case["patient"]["full_name"] not in refused and EMAIL not in refused


@pytest.mark.asyncio
async def test_a_case_without_family_contact_prints_without_it(stack: Stack) -> None:
    ids = stack.ids
    client = stack.services["scheduling"]

    async def registered() -> dict[str, Any] | None:
        with client.auth.acting("clinician", institution=ids["cmci"]):
            r = await client.post(f"/institutions/{ids['cmci']}/cases", json={
                "patient": {"full_name": "Yacine Khelifi", "date_of_birth": "2019-05-02", "sex": "male",
                            "weight_kg": 18}, "diagnosis": "ASD", "planned_procedure": "ASD closure",
                "priority": 3, "expected_duration_minutes": 120, "referred_abroad": False})
        return r.json() if r.status_code == 201 else None

    case = await eventually(registered)
    clara = stack.browser("fr")
    await clara.sign_in("clara")
    r = await clara.client.get(f"/cases/{case['id']}/access-request.pdf")
    assert r.status_code == 200, r.text[:500]
    assert "_fr.pdf" in r.headers["content-disposition"], "no family language: the page's"
    text = text_of(r.content)
    assert "Yacine Khelifi" in text and "Le service de notification ne détient aucune coordonnée" in text


def document(language: str) -> str:
    values = {"language": language, "exported_at": "2026-12-04T02:00:00+00:00",
              "case": {"patient_ref": "P-1", "identity": "shown", "erased_at": None,
                       "patient": {"full_name": "Nour Mansouri", "date_of_birth": "2021-03-14", "sex": "female",
                                   "weight_kg": 11.5},
                       "diagnosis": "VSD", "planned_procedure": "VSD closure", "priority": 2, "risk_scheme": "none",
                       "risk_category": None, "referred_abroad": False, "status": "waiting", "status_reason": None,
                       "registered_at": "2026-11-01T09:00:00+01:00", "closed_at": None,
                       "consents": [{"purpose": "notifications", "recorded_by": "clara",
                                     "recorded_at": "2026-11-02T10:00:00+01:00"}]},
              "activities": [],
              "contact": {"display_name": "Famille Mansouri", "email": "nour@example.dz", "phone": None,
                          "language": "ar", "channels": ["email"],
                          "consent": {"given_by": "la mère", "given_at": "2026-11-02T10:00:00+01:00"}},
              "notifications": [{"created_at": "2026-11-03T08:00:00+01:00", "sent_at": None, "channel": "email",
                                 "cause_type": "SurgeryScheduled", "language": "ar", "status": "pending"}],
              "accesses": [{"at": "2026-11-03T09:00:00+01:00", "subject": "clara", "roles": ["clinician"],
                            "action": "GET /cases/{case_id}", "what": "identity", "service": "scheduling"}]}
    return access_request_html(Pages(), values)


def test_the_access_request_document_runs_right_to_left_in_arabic_with_its_numbers_left_to_right() -> None:
    arabic = document("ar")
    assert '<html lang="ar" dir="rtl">' in arabic and "طلب الاطلاع على البيانات" in arabic
    assert '<bdi dir="ltr">nour@example.dz</bdi>' in arabic and '<bdi dir="ltr">P-1</bdi>' in arabic
    assert '<bdi dir="ltr">GET /cases/{case_id}</bdi>' in arabic
    french = document("fr")
    assert '<html lang="fr" dir="ltr">' in french and "<h1 id=\"title\">Demande d'accès</h1>" in french
    assert "Nour Mansouri" in french and "SurgeryScheduled/ar/email" in french and "pending" in french
