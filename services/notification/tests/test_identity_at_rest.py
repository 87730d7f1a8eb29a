"""A family's contact details, as a hospital's data-protection officer asks (issue 24), on SQLite
and PostgreSQL: sealed at rest (the stored bytes name nobody), every read by a person written to
the access history, which the host's privacy officer reads (and only its own patients'); and a
``PatientIdentityErased`` from the scheduling service forgets the family's contact details,
cancelling what was still pending for them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from jumelage.events import registry
from jumelage.testkit.client import bearer
from jumelage.testkit.waiting import eventually

EMAIL = "famille.benali@example.dz"
PHONE = "+213555987654"
NAME = "Famille Benali"


async def test_contact_details_are_sealed_read_down_and_forgotten_with_the_patient(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service() as h:
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled())
        family = await h.family(programme.patient_ref, email=EMAIL, phone=PHONE, display_name=NAME)

        # Sealed: the raw rows of the contact table hold none of it; the API opens it.
        async with h.runtime.sessions() as session:
            raw = " ".join(str(tuple(r)) for r in (await session.execute(text("SELECT * FROM contact"))).all())
        for detail in (EMAIL, "famille.benali", PHONE, "555987654", NAME, "Benali"):
            assert detail not in raw, detail
        assert "s1." in raw
        read = (await h.client.get(f"/contacts/{family['id']}")).json()
        assert (read["email"], read["phone"], read["display_name"]) == (EMAIL, PHONE, NAME)
        await h.client.get("/contacts", params={"kind": "family", "patient_ref": programme.patient_ref})

        # Who read it: the host's privacy officer sees both reads, the route of each.
        officer = bearer("privacy_officer", institution=h.keeper, subject="dpo")
        history = await h.client.get(f"/institutions/{h.keeper}/identity-access", headers=officer)
        assert history.status_code == 200, history.text
        rows = history.json()["items"]
        assert {r["action"] for r in rows} == {"GET /contacts/{contact_id}", "GET /contacts"}
        assert {(r["what"], r["patient_ref"], r["subject"]) for r in rows} == {
            ("family_contact", programme.patient_ref, "tester")}
        # Only its own institution's patients, and only the privacy officer.
        other = bearer("privacy_officer", institution=programme.san_donato)
        assert (await h.client.get(f"/institutions/{h.keeper}/identity-access", headers=other)).status_code == 403
        clinician = bearer("clinician", "administrator", institution=h.keeper)
        assert (await h.client.get(f"/institutions/{h.keeper}/identity-access",
                                   headers=clinician)).status_code == 403
        # The access history cannot be rewritten.
        async with h.runtime.sessions() as session:
            try:
                await session.execute(text("DELETE FROM identity_access"))
                await session.commit()
                raise AssertionError("the access history let a row be deleted")
            except Exception as exc:  # the trigger's refusal, on either database
                assert "append-only" in str(exc)

        # The scheduling service erased the patient's identity: the family's contact goes.
        erased = programme.envelope(registry.by_type("PatientIdentityErased")(
            patient_ref=programme.patient_ref, reason="request"))
        await h.given(erased)
        await eventually(lambda: _gone(h, family["id"]))


async def _gone(h: Any, contact_id: str) -> bool:
    return (await h.client.get(f"/contacts/{contact_id}")).status_code == 404


async def test_the_familys_access_request(notification_service: Any, programme: Any) -> None:
    async with notification_service() as h:
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled())
        family = await h.family(programme.patient_ref, email=EMAIL)
        await h.publish(programme.surgery_scheduled())
        await h.settled(1, recipient_ref=family["recipient_ref"])
        await h.client.get(f"/contacts/{family['id']}")
        path = f"/families/{programme.patient_ref}/access-request"
        other = bearer("privacy_officer", institution=programme.san_donato)
        assert (await h.client.get(path, headers=other)).status_code == 403
        assert (await h.client.get("/families/P-nobody/access-request")).status_code == 404
        officer = bearer("privacy_officer", institution=h.keeper, subject="dpo")
        export = await h.client.get(path, headers=officer)
        assert export.status_code == 200, export.text
        body = export.json()
        assert body["contact"]["email"] == EMAIL
        assert [(n["cause_type"], n["status"]) for n in body["notifications"]] == [("SurgeryScheduled", "sent")]
        assert [(a["subject"], a["what"]) for a in body["accesses"]] == [("tester", "family_contact")]
        history = (await h.client.get(f"/institutions/{h.keeper}/identity-access", headers=officer)).json()
        assert ("dpo", "export") in {(r["subject"], r["what"]) for r in history["items"]}
