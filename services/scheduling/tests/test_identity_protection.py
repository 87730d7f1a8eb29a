"""A patient's identity as a hospital's data-protection officer asks (issue 24), on SQLite and
PostgreSQL: sealed at rest and still found by name; every read written down and read back by the
host's privacy officer only; consent per purpose, the visiting team seeing the identity only with
the family's consent to share it; erased on the family's request (``PatientIdentityErased``, the
audit's row); pseudonymised once the retention period after closing is over; keys rotated with
the rows re-sealed."""

from __future__ import annotations

import base64

from sqlalchemy import text

from scheduling.domain.commands import ExpireIdentities
from scheduling_testkit import CMCI, GSD, PATIENT, TIARET, Scheduling
from jumelage import sealing
from jumelage.testkit.client import TEST_IDENTITY_KEYS, TEST_IDENTITY_SEARCH_KEY


async def raw_cases(s: Scheduling) -> str:
    async with s.client.runtime.sessions() as session:  # type: ignore[attr-defined]
        return " ".join(str(tuple(r)) for r in (await session.execute(text("SELECT * FROM patient_case"))).all())


async def access_rows(s: Scheduling, **params: str) -> list[dict]:
    with s.client.auth.acting("privacy_officer", institution=CMCI, subject="dpo-cmci"):
        return (await s.ok("GET", f"/institutions/{CMCI}/identity-access", params=params))["items"]


async def test_sealed_at_rest_found_by_name_and_every_read_written_down(programme: Scheduling) -> None:
    s = programme
    case = await s.case()
    await s.case(patient={**PATIENT, "full_name": "Amel Bouzid"})
    raw = await raw_cases(s)
    for secret in (PATIENT["full_name"], "Benali", PATIENT["date_of_birth"], "Amel Bouzid", "Bouzid"):
        assert secret not in raw, secret

    with s.client.auth.acting("clinician", institution=CMCI, subject="dr-host"):
        found = await s.ok("GET", f"/institutions/{CMCI}/cases", params={"name": "  yacine   BENALI "})
        assert [c["id"] for c in found] == [case["id"]] and found[0]["patient"]["full_name"] == PATIENT["full_name"]
        assert await s.ok("GET", f"/institutions/{CMCI}/cases", params={"name": "Yacine"}) == []
        detail = await s.ok("GET", f"/cases/{case['id']}")
        assert detail["identity"] == "shown"

    rows = await access_rows(s)
    assert [(r["what"], r["action"], r["patient_ref"], r["subject"]) for r in rows] == [
        ("case", "GET /cases/{case_id}", case["patient_ref"], "dr-host"),
        ("case_list", "GET /institutions/{institution_id}/cases", case["patient_ref"], "dr-host")]
    assert rows[0]["target"] == f"/cases/{case['id']}" and "clinician" in rows[0]["roles"]
    assert [r["what"] for r in await access_rows(s, patient_ref=case["patient_ref"], subject="dr-host")] == [
        "case", "case_list"]
    # The privacy officer reads that, of its own patients, and nothing else.
    with s.client.auth.acting("privacy_officer", institution=TIARET):
        await s.refused("GET", f"/institutions/{CMCI}/identity-access", 403, "only its own patients")
    with s.client.auth.acting("privacy_officer", institution=CMCI):
        await s.refused("GET", f"/cases/{case['id']}", 403)
        await s.refused("GET", f"/institutions/{CMCI}/cases", 403)
    with s.client.auth.acting("coordinator", "clinician", institution=CMCI):
        await s.refused("GET", f"/institutions/{CMCI}/identity-access", 403, "privacy_officer")


async def test_visiting_clinicians_see_the_identity_only_with_the_familys_consent(programme: Scheduling) -> None:
    s = programme
    room, case, mission = await s.room(), await s.case(), await s.mission()
    await s.surgery(mission, case, room)
    with s.client.auth.acting("clinician", institution=GSD, subject="dr-visiting"):
        withheld = await s.ok("GET", f"/cases/{case['id']}")
    assert withheld["identity"] == "withheld" and withheld["patient"]["full_name"] is None
    assert withheld["patient"]["date_of_birth"] is None and withheld["diagnosis"] == "Tétralogie de Fallot"
    assert withheld["consents"] == []

    with s.client.auth.acting("clinician", institution=CMCI, subject="dr-host"):
        given = await s.ok("POST", f"/cases/{case['id']}/consents", json={"purpose": "sharing"})
        await s.ok("POST", f"/cases/{case['id']}/consents", json={"purpose": "care"})
        again = await s.ok("POST", f"/cases/{case['id']}/consents", json={"purpose": "care"})
        assert [c["purpose"] for c in again["consents"]] == ["care", "sharing"]
        assert given["consents"][0]["recorded_by"] == "dr-host"
        await s.refused("POST", f"/cases/{case['id']}/consents", 422, json={"purpose": "marketing"})
    with s.client.auth.acting("clinician", institution=GSD, subject="dr-visiting"):
        shown = await s.ok("GET", f"/cases/{case['id']}")
    assert shown["identity"] == "shown" and shown["patient"]["full_name"] == PATIENT["full_name"]
    assert [(r["subject"], r["institution_id"]) for r in await access_rows(s)] == [("dr-visiting", str(GSD))]

    with s.client.auth.acting("clinician", institution=CMCI):
        await s.ok("DELETE", f"/cases/{case['id']}/consents/sharing")
    with s.client.auth.acting("clinician", institution=GSD):
        assert (await s.ok("GET", f"/cases/{case['id']}"))["identity"] == "withheld"
    with s.client.auth.acting("clinician", institution=TIARET):  # in none of its missions
        await s.refused("GET", f"/cases/{case['id']}", 403)
    with s.client.auth.acting("coordinator", institution=GSD):
        await s.refused("POST", f"/cases/{case['id']}/consents", 403, json={"purpose": "sharing"})


async def test_erased_on_the_familys_request(programme: Scheduling) -> None:
    s = programme
    case = await s.case()
    with s.client.auth.acting("clinician", institution=CMCI):
        await s.ok("POST", f"/cases/{case['id']}/consents", json={"purpose": "notifications"})
    with s.client.auth.acting("coordinator", institution=CMCI):
        await s.refused("POST", f"/cases/{case['id']}/erase", 403, "privacy_officer")
    with s.client.auth.acting("privacy_officer", institution=TIARET):
        await s.refused("POST", f"/cases/{case['id']}/erase", 403, "another institution")
    with s.client.auth.acting("privacy_officer", institution=CMCI, subject="dpo-cmci"):
        erased = await s.ok("POST", f"/cases/{case['id']}/erase")
        await s.refused("POST", f"/cases/{case['id']}/erase", 409, "already erased")
    assert erased["identity"] == "erased" and erased["patient"]["full_name"] is None
    assert erased["erased_at"] and erased["consents"] == [] and erased["diagnosis"] == "Tétralogie de Fallot"
    [event] = await s.wait("PatientIdentityErased")
    assert event == {"patient_ref": case["patient_ref"], "reason": "request"}
    raw = await raw_cases(s)
    assert "Benali" not in raw and "2026-02-14" not in raw
    with s.client.auth.acting("clinician", institution=CMCI):
        await s.refused("PATCH", f"/cases/{case['id']}", 409, "erased", json={"patient": {"full_name": "Y. B."}})
        assert await s.ok("GET", f"/institutions/{CMCI}/cases", params={"name": PATIENT["full_name"]}) == []
    with s.client.auth.acting("administrator"):
        audit = (await s.ok("GET", "/audit", params={"subject": "dpo-cmci"}))["items"]
    assert [(a["action"], [e["type"] for e in a["events"]]) for a in audit] == [
        ("POST /cases/{case_id}/erase", ["PatientIdentityErased"])]


async def test_retention_pseudonymises_closed_cases_and_keys_rotate(programme: Scheduling) -> None:
    s = programme
    closed, waiting = await s.case(), await s.case(patient={**PATIENT, "full_name": "Amel Bouzid"})
    with s.client.auth.acting("clinician", institution=CMCI):
        await s.ok("POST", f"/cases/{closed['id']}/cancel", json={"reason": "famille a renoncé"})
    runtime = s.client.runtime  # type: ignore[attr-defined]
    assert await runtime.bus.handle(ExpireIdentities(keep_days=30), runtime.unit_of_work()) == 0
    s.clock.advance(days=31)
    assert await runtime.bus.handle(ExpireIdentities(keep_days=30), runtime.unit_of_work()) == 1
    [event] = await s.wait("PatientIdentityErased")
    assert event == {"patient_ref": closed["patient_ref"], "reason": "retention"}
    with s.client.auth.acting("clinician", institution=CMCI):
        assert (await s.ok("GET", f"/cases/{closed['id']}"))["identity"] == "erased"
        assert (await s.ok("GET", f"/cases/{waiting['id']}"))["patient"] == {**PATIENT, "full_name": "Amel Bouzid"}

    # Rotation: a new key first, the old one kept; the re-seal job moves every row to the new key.
    new = base64.urlsafe_b64encode(bytes([7]) * 32).decode()
    sealing.install(sealing.KeyRing.parse(f"n2:{new},{TEST_IDENTITY_KEYS}", TEST_IDENTITY_SEARCH_KEY))
    try:
        assert "s1.n2." not in await raw_cases(s)
        with s.client.auth.acting("clinician", institution=CMCI):  # old rows still open
            assert (await s.ok("GET", f"/cases/{waiting['id']}"))["patient"]["full_name"] == "Amel Bouzid"
        await runtime._reseal(runtime.unit_of_work())
        raw = await raw_cases(s)
        assert "s1.t1." not in raw and "s1.n2." in raw
        sealing.install(sealing.KeyRing.parse(f"n2:{new}", TEST_IDENTITY_SEARCH_KEY))  # the old key dropped
        with s.client.auth.acting("clinician", institution=CMCI):
            assert (await s.ok("GET", f"/cases/{waiting['id']}"))["patient"]["full_name"] == "Amel Bouzid"
            found = await s.ok("GET", f"/institutions/{CMCI}/cases", params={"name": "amel bouzid"})
            assert [c["id"] for c in found] == [waiting["id"]]
    finally:
        sealing.install(sealing.KeyRing.parse(TEST_IDENTITY_KEYS, TEST_IDENTITY_SEARCH_KEY))


async def test_the_familys_access_request_exports_what_is_held_and_who_read_it(programme: Scheduling) -> None:
    s = programme
    room, case, mission = await s.room(), await s.case(), await s.mission()
    surgery = await s.surgery(mission, case, room)
    with s.client.auth.acting("clinician", institution=CMCI, subject="dr-host"):
        await s.ok("GET", f"/cases/{case['id']}")
    with s.client.auth.acting("coordinator", institution=CMCI):
        await s.refused("GET", f"/cases/{case['id']}/access-request", 403)
    with s.client.auth.acting("privacy_officer", institution=CMCI, subject="dpo-cmci"):
        export = await s.ok("GET", f"/cases/{case['id']}/access-request")
        await s.refused("GET", f"/cases/{surgery['id']}/access-request", 404)
    assert export["case"]["patient"]["full_name"] == PATIENT["full_name"]
    assert [(a["kind"], a["id"]) for a in export["activities"]] == [("surgery", surgery["id"])]
    assert [(a["subject"], a["what"]) for a in export["accesses"]] == [("dr-host", "case")]
    assert ("dpo-cmci", "export") in {(r["subject"], r["what"]) for r in await access_rows(s)}


async def test_the_privacy_officer_requests_the_export_by_the_patients_reference(programme: Scheduling) -> None:
    """The privacy officer's page names patients by reference: the export by it, to the host's
    privacy officer (and clinicians), refused to another institution's and to other roles, and
    written down in the access history as the export by the case's id is."""
    s = programme
    case = await s.case()
    path = f"/patients/{case['patient_ref']}/access-request"
    with s.client.auth.acting("privacy_officer", institution=TIARET):
        await s.refused("GET", path, 403, "another institution's")
    with s.client.auth.acting("coordinator", institution=CMCI):
        await s.refused("GET", path, 403, "privacy_officer")
    with s.client.auth.acting("privacy_officer", institution=CMCI, subject="dpo-cmci"):
        await s.refused("GET", "/patients/P-NOSUCHONE/access-request", 404)
        export = await s.ok("GET", path)
    assert export["case"]["id"] == case["id"] and export["case"]["patient"]["full_name"] == PATIENT["full_name"]
    rows = await access_rows(s, patient_ref=case["patient_ref"])
    assert [(r["subject"], r["what"], r["action"]) for r in rows] == [
        ("dpo-cmci", "export", "GET /patients/{patient_ref}/access-request")]
