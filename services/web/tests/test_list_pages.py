"""The waiting list, a mission's consultations and training, and the notification
desk, over the real services (issue 18, pages 3, 5 and 6), and the convention's
progress over time as a funder sees it (page 1's charts)."""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from web_testkit import Stack

from jumelage.testkit.waiting import eventually

pytestmark = pytest.mark.asyncio
ALGIERS = ZoneInfo("Africa/Algiers")
SURGEON = str(uuid.uuid4())
ZONE = {"zone": "Africa/Algiers"}  # the hidden field the page gives each form: the host's clock


def case_fields(name: str, **over: Any) -> dict[str, Any]:
    fields = {"full_name": name, "date_of_birth": "2021-03-14", "sex": "male", "weight_kg": "11.5",
              "diagnosis": "Transposition of the great arteries", "planned_procedure": "Arterial switch",
              "priority": "1", "expected_duration_minutes": "300", "risk_scheme": "STAT", "risk_category": "4",
              "referred_abroad": "true"}
    return {**fields, **over}


def embedded(page: str, element_id: str) -> Any:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, flags=re.S)
    assert found, f"no {element_id} on the page"
    return json.loads(html.unescape(found.group(1)))


async def signed_convention(stack: Stack) -> dict[str, Any]:
    """CNAS funds, GSD provides, CMCI hosts: signed, and known to the scheduling service."""
    today = datetime.now(ALGIERS).date()
    ids = stack.ids
    draft = await stack.as_coordinator("cmci", "POST", "convention", "/conventions", json={
        "reference": "CNAS-GSD-LISTS", "title": "Paediatric cardiac surgery", "kind": "international_cooperation",
        "parties": [{"institution_id": ids["cnas"], "role": "funder"}, {"institution_id": ids["gsd"], "role": "provider"},
                    {"institution_id": ids["cmci"], "role": "beneficiary"}],
        "effective_from": today.isoformat(), "effective_until": (today + timedelta(days=365)).isoformat(),
        "specialties": ["paediatric cardiac surgery"],
        "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}})
    await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                               json={"signed_on": today.isoformat(), "signed_at": "Alger"})
    client = stack.services["scheduling"]

    async def replicated() -> bool:
        with client.auth.acting("coordinator", institution=ids["cmci"]):
            r = await client.get(f"/conventions/{draft['id']}")
        return r.status_code == 200 and r.json()["status"] == "signed"

    await eventually(replicated)
    return draft


async def mission(stack: Stack, convention_id: str) -> dict[str, Any]:
    today = datetime.now(ALGIERS).date()
    return await stack.as_coordinator("cmci", "POST", "scheduling", "/missions", json={
        "convention_id": convention_id, "host_institution_id": stack.ids["cmci"],
        "visiting_institution_id": stack.ids["gsd"], "specialty": "paediatric cardiac surgery",
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=3)).isoformat(),
        "team": [{"practitioner_id": SURGEON, "full_name": "Dr Marco Rossi", "role": "surgeon"}]})


# -- the waiting list ------------------------------------------------------------------------------


async def hosts_known(stack: Stack, *keys: str) -> None:
    """Until the scheduling service's replica knows these institutions (from their events)."""
    client = stack.services["scheduling"]

    async def known() -> bool:
        for key in keys:
            with client.auth.acting("clinician", institution=stack.ids[key]):
                if (await client.get(f"/institutions/{stack.ids[key]}/cases")).status_code != 200:
                    return False
        return True

    await eventually(known)


async def test_a_clinician_of_the_host_adds_a_case_and_sees_its_identity(stack: Stack) -> None:
    cmci = stack.ids["cmci"]
    await hosts_known(stack, "cmci")
    clara = stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{cmci}/cases")
    assert f'href="/hosts/{cmci}/cases"' in listing, "the nav leads a person with an institution to its waiting list"
    assert 'href="/desk"' not in listing, "the desk is for administrators only"
    r = await clara.submit(listing, f"/hosts/{cmci}/cases", case_fields("Yacine Benali"))
    assert r.headers["location"] == f"/hosts/{cmci}/cases?state=waiting"
    r = await clara.client.get(r.headers["location"])
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"] and "private" in r.headers["cache-control"]
    shown = r.text
    assert "Yacine Benali" in shown and "STAT 4" in shown
    (case,) = await stack.call("GET", "scheduling", f"/institutions/{cmci}/cases", ("clinician",), cmci)
    assert case["patient_ref"] in shown and case["referred_abroad"] is True
    row = shown[shown.index(f'data-case="{case["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert re.search(r"<td>0</td>", row), "registered today: 0 days waited"
    # Referred elsewhere from the page (with the case's ETag): it moves to its tab.
    await clara.submit(shown, f"/hosts/{cmci}/cases/{case['id']}/refer-elsewhere", {"reason": "operated in Algiers"})
    waiting = await clara.open(f"/hosts/{cmci}/cases?state=waiting")
    assert "Yacine Benali" not in waiting
    elsewhere = await clara.open(f"/hosts/{cmci}/cases?state=referred_elsewhere")
    assert "Yacine Benali" in elsewhere
    # The priority filter is the service's: priority 2 has none of these; empty means all.
    assert "Yacine Benali" not in await clara.open(f"/hosts/{cmci}/cases?state=referred_elsewhere&priority=2")
    assert "Yacine Benali" in await clara.open(f"/hosts/{cmci}/cases?state=referred_elsewhere&priority=")


async def test_a_clinician_corrects_a_case_from_the_waiting_list(stack: Stack) -> None:
    cmci = stack.ids["cmci"]
    await hosts_known(stack, "cmci")
    clara = stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{cmci}/cases")
    await clara.submit(listing, f"/hosts/{cmci}/cases", case_fields("Yacine Benali"))
    (case,) = await stack.call("GET", "scheduling", f"/institutions/{cmci}/cases", ("clinician",), cmci)
    shown = await clara.open(f"/hosts/{cmci}/cases?state=waiting")
    other_tab = await clara.open(f"/hosts/{cmci}/cases?state=waiting")  # the same case, its own form keys
    edit = f"/hosts/{cmci}/cases/{case['id']}/edit"
    assert clara.field(shown, edit, "full_name") == "Yacine Benali" and clara.field(shown, edit, "priority") == "1"
    r = await clara.submit(shown, edit, {**case_fields("Yacine Benali-Saidi", priority="2", risk_scheme="RACHS-1",
                                                       risk_category="5", referred_abroad=""), "status": "waiting"})
    assert r.headers["location"] == f"/hosts/{cmci}/cases?state=waiting"
    edited = await stack.call("GET", "scheduling", f"/cases/{case['id']}", ("clinician",), cmci)
    assert (edited["patient"]["full_name"], edited["priority"], edited["risk_scheme"], edited["risk_category"],
            edited["referred_abroad"]) == ("Yacine Benali-Saidi", 2, "RACHS-1", 5, False)
    assert edited["version"] == case["version"] + 1
    page = await clara.open(f"/hosts/{cmci}/cases?state=waiting")
    assert "Yacine Benali-Saidi" in page and "RACHS-1 5" in page
    # The page read before the edit is stale: the service refuses (412), next to that case's form.
    r = await clara.submit(other_tab, edit, {**case_fields("Yacine B."), "status": "waiting"}, status=412)
    assert f'id="problem-edit-{case["id"]}"' in r.text and "scheduling service refused" in r.text
    # Off the list, only the identity can be corrected: the form holds no more.
    await clara.submit(page, f"/hosts/{cmci}/cases/{case['id']}/cancel", {"reason": "family's decision"})
    cancelled = await clara.open(f"/hosts/{cmci}/cases?state=cancelled")
    form = cancelled[cancelled.index(f'action="{edit}"'):]
    form = form[:form.index("</form>")]
    assert 'name="full_name"' in form and 'name="priority"' not in form and 'name="diagnosis"' not in form
    await clara.submit(cancelled, edit, {"full_name": "Yacine Saidi", "date_of_birth": "2021-03-14", "sex": "male",
                                         "weight_kg": "11.8", "status": "cancelled"})
    fixed = await stack.call("GET", "scheduling", f"/cases/{case['id']}", ("clinician",), cmci)
    assert (fixed["patient"]["full_name"], fixed["patient"]["weight_kg"], fixed["status"]) == \
        ("Yacine Saidi", 11.8, "cancelled")


async def test_a_clinician_checks_and_withdraws_readiness_from_the_waiting_list(stack: Stack) -> None:
    cmci = stack.ids["cmci"]
    await hosts_known(stack, "cmci")
    clara = stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{cmci}/cases")
    await clara.submit(listing, f"/hosts/{cmci}/cases", case_fields("Rania Belkacem"))
    (case,) = await stack.call("GET", "scheduling", f"/institutions/{cmci}/cases", ("clinician",), cmci)
    action = f"/hosts/{cmci}/cases/{case['id']}/readiness"

    def cell(page: str) -> str:
        row = page[page.index(f'data-case="{case["id"]}"'):]
        row = row[:row.index("</tr>")]
        return row[row.index('class="readiness"'):]

    shown = await clara.open(f"/hosts/{cmci}/cases?state=waiting")
    assert "Missing:" in cell(shown) and "fit_for_anaesthesia" in cell(shown)
    for item in ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged"):
        r = await clara.submit(shown, action, {"item": item, "action": "check", "checked_on": "2026-01-05",
                                               "state": "waiting"})
        assert r.headers["location"] == f"/hosts/{cmci}/cases?state=waiting"
        shown = await clara.open(r.headers["location"])  # a fresh ETag for the next form
    assert "Ready" in cell(shown) and "Missing:" not in cell(shown) and "(clara)" in cell(shown)
    checked = await stack.call("GET", "scheduling", f"/cases/{case['id']}/readiness", ("clinician",), cmci)
    assert checked["ready"] and {i["checked_by"] for i in checked["items"]} == {"clara"}
    # Withdrawn from the page: missing again. A stale form (its ETag from before) is refused next to it.
    stale = await clara.open(f"/hosts/{cmci}/cases?state=waiting")  # the same ETag, forms of its own
    await clara.submit(shown, action, {"item": "travel_arranged", "action": "withdraw", "state": "waiting"})
    assert "Missing:" in cell(await clara.open(f"/hosts/{cmci}/cases?state=waiting"))
    r = await clara.submit(stale, action, {"item": "consent_signed", "action": "withdraw"}, status=412)
    assert f'id="problem-readiness-{case["id"]}"' in r.text
    # In French and in Arabic.
    for language, words in (("fr", ("Préparation", "voyage de la famille organisé")),
                            ("ar", ("الجاهزية", "سفر العائلة منظم"))):
        reader = stack.browser(language)
        await reader.sign_in("clara")
        page = await reader.open(f"/hosts/{cmci}/cases?state=waiting")
        assert words[0] in page and words[1] in cell(page)


async def test_consent_erasure_and_who_read_a_patient_from_the_pages(stack: Stack) -> None:
    cmci = stack.ids["cmci"]
    await hosts_known(stack, "cmci")
    clara, dalila = stack.browser(), stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{cmci}/cases")
    await clara.submit(listing, f"/hosts/{cmci}/cases", case_fields("Nour Mansouri"))
    (case,) = await stack.call("GET", "scheduling", f"/institutions/{cmci}/cases", ("clinician",), cmci)
    base = f"/hosts/{cmci}/cases/{case['id']}"
    shown = await clara.open(f"/hosts/{cmci}/cases?state=waiting")
    r = await clara.submit(shown, f"{base}/consent", {"purpose": "sharing", "action": "give", "state": "waiting"})
    assert r.headers["location"] == f"/hosts/{cmci}/cases?state=waiting"
    shown = await clara.open(r.headers["location"])
    consents = await stack.call("GET", "scheduling", f"/cases/{case['id']}", ("clinician",), cmci)
    assert [c["purpose"] for c in consents["consents"]] == ["sharing"]
    assert "Sharing with the visiting team: <strong>given</strong>" in shown
    await clara.submit(shown, f"{base}/erase", {"confirm": "erase", "state": "waiting"})
    erased = await clara.open(f"/hosts/{cmci}/cases?state=waiting")
    assert "Identity erased" in erased and "Nour Mansouri" not in erased
    # The privacy officer's page: who read the identity (clara, through the waiting list).
    await dalila.sign_in("dalila")
    history = await dalila.open(f"/hosts/{cmci}/access-history")
    assert "clara" in history and case["patient_ref"] in history and "case_list" in history
    await clara.open(f"/hosts/{cmci}/access-history", status=403)
    for language, words in (("fr", ("identité de nos patients", "liste des dossiers")),
                            ("ar", ("من اطّلع على هوية مرضانا", "قائمة الملفات"))):
        reader = stack.browser(language)
        await reader.sign_in("dalila")
        page = await reader.open(f"/hosts/{cmci}/access-history")
        assert words[0] in page and words[1] in page


async def test_a_clinician_of_another_institution_sees_no_identity(stack: Stack) -> None:
    cmci = stack.ids["cmci"]
    await hosts_known(stack, "cmci", "other")
    clara, omar = stack.browser(), stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{cmci}/cases")
    await clara.submit(listing, f"/hosts/{cmci}/cases", case_fields("Lina Haddad", risk_scheme="none",
                                                                      risk_category=""))
    assert "Lina Haddad" in await clara.open(f"/hosts/{cmci}/cases")
    # The same address, just after, for a clinician of another clinic: the service refuses, the page says so.
    await omar.sign_in("omar")
    refused = await omar.open(f"/hosts/{cmci}/cases", status=403)
    assert 'id="cases-refused"' in refused and "scheduling service refused" in refused
    assert "Lina Haddad" not in refused and "P-" not in refused
    assert "no-store" in (await omar.client.get(f"/hosts/{cmci}/cases")).headers["cache-control"]
    own = await omar.open(f"/hosts/{stack.ids['other']}/cases")
    assert "Lina Haddad" not in own and "No case in this state." in own


async def test_a_case_the_page_cannot_accept_is_shown_next_to_the_form(stack: Stack) -> None:
    cmci = stack.ids["cmci"]
    await hosts_known(stack, "cmci")
    clara = stack.browser()
    await clara.sign_in("clara")
    listing = await clara.open(f"/hosts/{cmci}/cases")
    r = await clara.submit(listing, f"/hosts/{cmci}/cases", case_fields("Sami K.", risk_category="9"), status=422)
    assert 'id="problem-register"' in r.text and "risk_category" in r.text
    cases = await stack.call("GET", "scheduling", f"/institutions/{cmci}/cases", ("clinician",), cmci)
    assert cases == []


# -- consultations and training ----------------------------------------------------------------------


async def test_consultations_and_training_scheduled_and_held_from_the_page_reach_the_progress(stack: Stack) -> None:
    ids = stack.ids
    convention = await signed_convention(stack)
    m = await mission(stack, convention["id"])
    case = await stack.call("POST", "scheduling", f"/institutions/{ids['cmci']}/cases", ("clinician",), ids["cmci"],
                            json={"patient": {"full_name": "Amine Saidi", "date_of_birth": "2020-01-02",
                                              "sex": "male", "weight_kg": 14},
                                  "diagnosis": "VSD", "planned_procedure": "VSD closure", "priority": 2,
                                  "expected_duration_minutes": 180, "referred_abroad": True})
    tomorrow = (datetime.now(ALGIERS).date() + timedelta(days=1)).isoformat()
    where = f"/missions/{m['id']}/activities"

    clara, amina = stack.browser(), stack.browser()
    await clara.sign_in("clara")
    page = await clara.open(where)
    assert f'href="/missions/{m["id"]}"' in page, "back to the mission's page"
    assert "Amine Saidi" in page, "the host's clinician picks the patient by name"
    assert f'action="{where}/training-sessions"' not in page, "training is the coordinators' to plan"
    await clara.submit(page, f"{where}/consultations", {"scheduled_at": f"{tomorrow}T10:00", "case_id": case["id"], **ZONE})
    # A new patient, from the same form: the service puts them on the host's waiting list.
    page = await clara.open(where)
    await clara.submit(page, f"{where}/consultations", {
        "scheduled_at": f"{tomorrow}T11:00", "case_id": "", **ZONE,
        **case_fields("Nour Mansouri", risk_scheme="none", risk_category="", referred_abroad="")})
    assert "Nour Mansouri" in await clara.open(f"/hosts/{ids['cmci']}/cases")

    await amina.sign_in("amina")
    page = await amina.open(where)
    assert "Amine Saidi" not in page and case["patient_ref"] in page, "a coordinator sees the patient's ref only"
    # Outside the mission's days: the service refuses, next to the form.
    late = (datetime.now(ALGIERS).date() + timedelta(days=30)).isoformat()
    r = await amina.submit(page, f"{where}/training-sessions",
                           {"topic": "Perfusion", "scheduled_at": f"{late}T16:00", "hours": "2", **ZONE}, status=409)
    assert 'id="problem-training"' in r.text and "scheduling service refused" in r.text
    page = r.text  # the page shown with the refusal: its forms have fresh keys
    await amina.submit(page, f"{where}/training-sessions",
                       {"topic": "Post-operative care", "scheduled_at": f"{tomorrow}T16:00", "hours": "2.5", **ZONE})
    page = await amina.open(where)
    assert "Post-operative care" in page

    # Held before the mission started: refused in the service's words.
    consultation, _new_patient = sorted(
        await stack.as_coordinator("cmci", "GET", "scheduling", f"/missions/{m['id']}/consultations"),
        key=lambda c: c["scheduled_at"])
    page = await clara.open(where)
    r = await clara.submit(page, f"{where}/consultations/{consultation['id']}/hold", ZONE, status=409)
    assert f'id="problem-hold-{consultation["id"]}"' in r.text

    await stack.as_coordinator("cmci", "POST", "scheduling", f"/missions/{m['id']}/start")
    page = await clara.open(where)
    await clara.submit(page, f"{where}/consultations/{consultation['id']}/hold", ZONE)
    (training,) = await stack.as_coordinator("cmci", "GET", "scheduling", f"/missions/{m['id']}/training-sessions")
    page = await amina.open(where)
    await amina.submit(page, f"{where}/training-sessions/{training['id']}/hold", {"trainee_count": "7", **ZONE})
    page = await amina.open(where)
    assert "1 / 1" in page and ">7<" in page.replace(" ", "")

    # The funder sees both in the convention's progress, with both charts' data.
    karim = stack.browser()
    await karim.sign_in("karim")

    async def counted() -> bool:
        shown = await karim.open(f"/conventions/{convention['id']}")
        return embedded(shown, "objectives-data")["done"] == [0, 1, 1]

    await eventually(counted)
    shown = await karim.open(f"/conventions/{convention['id']}")
    assert 'id="progress"' in shown and 'id="objectives-chart"' in shown and 'id="periods-chart"' in shown
    objectives = embedded(shown, "objectives-data")
    assert objectives["target"] == [40, 100, 10]
    periods = embedded(shown, "periods-data")["periods"]
    month = datetime.now(ALGIERS).strftime("%Y-%m")
    assert [p["period"] for p in periods] == [month]
    assert periods[0]["cumulative"] == {"surgeries": 0, "consultations": 1, "training_sessions": 1,
                                        "treated_locally_instead_of_abroad": 0}


# -- the notification desk ------------------------------------------------------------------------------


async def test_an_administrator_opens_the_desk_and_sees_a_notification_that_was_sent(mail: Any,
                                                                                     stack: Stack) -> None:
    ids = stack.ids
    client = stack.services["notification"]

    async def registered() -> bool:  # once the notification service knows the institution
        with client.auth.acting("administrator"):
            r = await client.post("/contacts", json={"kind": "institution", "institution_id": ids["cmci"],
                                                     "display_name": "Secrétariat CMCI",
                                                     "email": "secretariat@cmci.example", "language": "fr"})
        assert r.status_code in (201, 404, 422), r.text
        return r.status_code == 201

    await eventually(registered)
    convention = await signed_convention(stack)
    await mission(stack, convention["id"])  # MissionScheduled: the host is told
    await eventually(lambda: len(mail.messages("secretariat@cmci.example")) >= 1)

    async def sent() -> bool:
        with client.auth.acting("administrator"):
            page = (await client.get("/notifications", params={"status": "sent"})).json()
        return page["total"] >= 1

    await eventually(sent)
    admin = stack.browser()
    await admin.sign_in("admin")
    desk = await admin.open("/desk")
    assert 'href="/desk"' in desk
    assert "MissionScheduled" in desk and "status-sent" in desk and "MissionScheduled/fr/email" in desk
    assert "Secrétariat CMCI" in desk and "secretariat@cmci.example" not in desk, "the desk names, never addresses"
    assert 'id="reminders"' in desk and 'id="failures"' in desk
    assert 'href="/desk/templates/SurgeryScheduled/ar/email"' in desk
    preview = await admin.open("/desk/templates/SurgeryScheduled/ar/email")
    assert 'dir="rtl"' in preview and "2031" in preview and "<iframe" in preview

    # Paged as the service pages: one contact a page, the next page holds the next one.
    with client.auth.acting("administrator"):
        for name in ("Dr Paging A", "Dr Paging B"):
            r = await client.post("/contacts", json={"kind": "practitioner", "practitioner_id": str(uuid.uuid4()),
                                                     "display_name": name, "email": "dr@example.org"})
            assert r.status_code == 201, r.text
        total = (await client.get("/contacts", params={"limit": 1})).json()["total"]
    first = await admin.open("/desk?limit=1")
    assert len(re.findall(r"<tr data-contact=", first)) == 1 and 'id="pager-contacts"' in first
    assert f"1–1 of {total}" in html.unescape(first) and 'rel="prev"' not in first.split('id="pager-contacts"')[1]
    after = html.unescape(re.search(r'id="pager-contacts".*?href="([^"]+)" rel="next"', first, re.S).group(1))
    assert "contacts_offset=1" in after and "limit=1" in after
    second = await admin.open(after)
    names = lambda page: re.findall(r'<tr data-contact="([^"]+)"', page)  # noqa: E731
    assert names(second) != names(first) and len(names(second)) == 1
    assert 'rel="prev"' in second.split('id="pager-contacts"')[1]
    # Past the end: the service's empty page, the total still said.
    assert "No contact." in await admin.open(f"/desk?limit=1&contacts_offset={total}")
    await admin.open("/desk?offset=-1", status=422)

    # Anyone else: the service refuses the desk, and says so.
    amina = stack.browser()
    await amina.sign_in("amina")
    refused = await amina.open("/desk", status=403)
    assert "notification service answered" in refused or "refused" in refused
    assert 'href="/desk"' not in await amina.open("/conventions")
