"""The conventions' pages over the real convention and scheduling services."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from web_testkit import Stack, programme

pytestmark = pytest.mark.asyncio


async def test_a_coordinator_finds_signs_and_sees_the_convention(stack: Stack) -> None:
    draft = await programme(stack)
    amina = stack.browser()
    await amina.sign_in("amina")
    listing = await amina.open("/conventions")
    assert "CNAS-GSD-2026" in listing and "Gruppo San Donato" in listing
    page = await amina.open(f"/conventions/{draft['id']}")
    assert 'action="/conventions/' + draft["id"] + '/sign"' in page
    fields = {"signed_on": date.today().isoformat(), "signed_at": "Alger"}
    first = await amina.submit(page, f"/conventions/{draft['id']}/sign", fields)
    # The same form sent again (a double click, a retry) acts once: the service replays its answer.
    again = await amina.submit(page, f"/conventions/{draft['id']}/sign", fields)
    assert first.headers["location"] == again.headers["location"] == f"/conventions/{draft['id']}"
    signed = await amina.open(f"/conventions/{draft['id']}")
    assert "status-signed" in signed and "Alger" in signed
    # Placements at the provider's hospital are counted beside the sessions (none yet).
    assert "Training placements at the provider's hospital</dt><dd>0 placements, 0 days" in signed
    history = await stack.as_coordinator("cmci", "GET", "convention", f"/conventions/{draft['id']}/history")
    assert [h["action"] for h in history].count("signed") == 1


async def test_a_refusal_is_shown_in_the_service_words_next_to_the_form(stack: Stack) -> None:
    draft = await programme(stack)
    amina = stack.browser()
    await amina.sign_in("amina")
    page = await amina.open(f"/conventions/{draft['id']}")
    # Signed in the future: the service refuses, and says why, next to the sign form.
    r = await amina.submit(page, f"/conventions/{draft['id']}/sign",
                           {"signed_on": (date.today() + timedelta(days=400)).isoformat(), "signed_at": "Alger"},
                           status=422)
    assert 'id="problem-sign"' in r.text and "convention service refused" in r.text


async def test_a_form_without_its_csrf_token_is_refused(stack: Stack) -> None:
    draft = await programme(stack)
    amina = stack.browser()
    await amina.sign_in("amina")
    r = await amina.client.post(f"/conventions/{draft['id']}/suspend",
                                data={"reason": "x", "form_key": str(uuid.uuid4())})
    assert r.status_code == 403 and "another site" in r.text
    convention = await stack.as_coordinator("cmci", "GET", "convention", f"/conventions/{draft['id']}")
    assert convention["status"] == "draft"


async def test_another_institution_is_refused_in_the_service_words(stack: Stack) -> None:
    draft = await programme(stack)
    outsider = stack.browser()
    await outsider.sign_in("outsider")
    page = await outsider.open(f"/conventions/{draft['id']}", status=403)
    assert "convention service answered" in page
    assert "CNAS-GSD-2026" not in (await outsider.open("/conventions"))


async def test_signed_out_people_go_to_the_sign_in_page_and_back(stack: Stack) -> None:
    draft = await programme(stack)
    someone = stack.browser()
    r = await someone.client.get(f"/conventions/{draft['id']}")
    assert r.status_code == 303 and r.headers["location"] == f"/signin?next=/conventions/{draft['id']}"
    page = await someone.open(r.headers["location"])
    assert "local secret" in page and "Amina (coordinator, CMCI)" in page
    r = await someone.submit(page, "/signin/local", {"subject": "amina"})
    assert r.headers["location"] == f"/conventions/{draft['id']}"


async def test_the_session_cookie_is_http_only_and_holds_no_readable_token(stack: Stack) -> None:
    someone = stack.browser()
    page = await someone.open("/signin")
    r = await someone.submit(page, "/signin/local", {"subject": "amina"})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    # No JWT in clear: a JWT's header and claims both start "eyJ" (base64 of '{"'),
    # which a Fernet ciphertext holds by chance once in some thousand cookies.
    assert not re.search(r"eyJ[\w-]*\.eyJ[\w-]*\.", cookie), cookie
    assert cookie.split("=", 1)[1].startswith("gAAAAA"), "a Fernet token (version 0x80, then its time)"


async def test_a_service_that_is_down_is_a_banner(stack: Stack) -> None:
    draft = await programme(stack)
    amina = stack.browser()
    await amina.sign_in("amina")
    stack.web_app.state.web.services._clients["convention"]._transport = _Unreachable()
    page = await amina.open(f"/conventions/{draft['id']}", status=503)
    assert "A service is not answering" in page and "Traceback" not in page


class _Unreachable(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:  # the service is gone
        raise httpx.ConnectError("connection refused", request=request)


async def test_a_coordinator_drafts_then_edits_a_convention_from_the_pages(stack: Stack) -> None:
    ids = stack.ids
    amina = stack.browser()
    await amina.sign_in("amina")
    form = await amina.open("/conventions/new")
    start = date.today()
    fields = {"reference": "ORAN-TIARET-2027", "title": "Jumelage en chirurgie générale", "kind": "twinning",
              "effective_from": start.isoformat(), "effective_until": (start + timedelta(days=300)).isoformat(),
              "specialties": "general surgery, urology",
              "party_0": ids["gsd"], "role_0": "provider", "party_1": ids["cmci"], "role_1": "beneficiary",
              "surgeries": "12", "consultations": "30", "training_sessions": "4"}
    r = await amina.submit(form, "/conventions", fields)
    convention_id = r.headers["location"].rsplit("/", 1)[1]
    # Sent again (a double click): one draft, not two.
    await amina.submit(form, "/conventions", fields)
    found = await stack.as_coordinator("cmci", "GET", "convention", "/conventions", params={"q": "ORAN-TIARET-2027"})
    assert found["total"] == 1
    page = await amina.open(f"/conventions/{convention_id}")
    await amina.submit(page, f"/conventions/{convention_id}/edit",
                       {"title": "Jumelage CHU – EPH", "surgeries": "20", "party_0": ids["gsd"], "role_0": "provider",
                        "party_1": ids["cmci"], "role_1": "beneficiary"})
    edited = await stack.as_coordinator("cmci", "GET", "convention", f"/conventions/{convention_id}")
    assert edited["title"] == "Jumelage CHU – EPH" and edited["objectives"]["surgeries"] == 20
    assert edited["specialties"] == ["general surgery", "urology"]


async def test_a_draft_the_service_refuses_is_shown_with_what_was_typed(stack: Stack) -> None:
    amina = stack.browser()
    await amina.sign_in("amina")
    form = await amina.open("/conventions/new")
    r = await amina.submit(form, "/conventions", {
        "reference": "LONE-2027", "title": "Without a provider", "kind": "other",
        "effective_from": date.today().isoformat(), "effective_until": date.today().isoformat(),
        "party_0": stack.ids["cmci"], "role_0": "beneficiary"}, status=422)
    assert 'id="problem-draft"' in r.text and 'value="LONE-2027"' in r.text
    r = await amina.submit(form, "/conventions", {"reference": "X", "surgeries": "lots"}, status=422)
    assert "surgeries: a whole number is expected" in r.text


async def test_pages_speak_the_reader_language_and_arabic_is_right_to_left(stack: Stack) -> None:
    draft = await programme(stack)
    for language, title, direction in (("fr", "Avancement", "ltr"), ("ar", "التقدم", "rtl"),
                                       ("en", "Progress", "ltr")):
        reader = stack.browser(language)
        await reader.sign_in("amina")
        page = await reader.open(f"/conventions/{draft['id']}")
        assert f'<html lang="{language}" dir="{direction}">' in page and title in page
    # The person's own choice outlasts the browser's.
    reader = stack.browser("fr")
    await reader.sign_in("amina")
    page = await reader.open("/conventions")
    await reader.submit(page, "/language", {"lang": "ar", "next": "/conventions"})
    assert 'dir="rtl"' in await reader.open("/conventions")


async def test_the_funder_sees_the_money_not_spent_abroad_in_their_language(stack: Stack) -> None:
    from convention import handlers as convention_handlers
    from jumelage.events import SurgeryCompleted, new_envelope

    draft = await programme(stack)
    costs = [{"specialty": "paediatric cardiac surgery", "abroad": {"amount": "30000", "currency": "EUR"},
              "here": {"amount": "150000", "currency": "DZD"}}]
    etag = f'"{draft["version"]}"'
    await stack.as_coordinator("cmci", "PATCH", "convention", f"/conventions/{draft['id']}",
                               json={"reference_costs": costs}, headers={"If-Match": etag})
    await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                               json={"signed_on": date.today().isoformat(), "signed_at": "Alger"})
    runtime = stack.services["convention"].runtime
    for referred in (True, True, False):
        fact = SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=uuid.uuid4(), convention_id=draft["id"],
                                patient_ref=f"P-{uuid.uuid4().hex[:8]}", procedure="VSD closure",
                                completed_at=datetime.now(UTC), duration_minutes=120, outcome="successful",
                                previously_referred_abroad=referred, specialty="paediatric cardiac surgery")
        async with runtime.unit_of_work() as uow:
            await convention_handlers.surgery_completed(new_envelope(fact, correlation_id="t", causation_id=None),
                                                        uow, clock=runtime.clock)
            await uow.commit()

    karim = stack.browser("fr")
    await karim.sign_in("karim")
    page = await karim.open(f"/conventions/{draft['id']}")
    assert "Argent non dépensé à l'étranger" in page or "Argent non dépensé à l&#39;étranger" in page
    assert re.search(r"60\s000,00\s€", page), "EUR 60,000 in French: two cases at EUR 30,000"
    assert re.search(r"300\s000,00\s(DZD|DA)", page), "DZD 300,000 here, in its own currency"


async def test_the_funder_sees_the_local_teams_autonomy_and_the_30_day_outcomes_in_their_language(
    stack: Stack
) -> None:
    from convention import handlers as convention_handlers
    from convention.handlers import progress as convention_progress
    from jumelage.events import SurgeryCompleted, SurgeryFollowedUp, new_envelope

    draft = await programme(stack)
    await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                               json={"signed_on": date.today().isoformat(), "signed_at": "Alger"})
    runtime = stack.services["convention"].runtime
    local = "8b2c3d4e-5f60-4a7b-9c8d-0e1f2a3b4c5d"
    at = datetime.now(UTC) - timedelta(days=31)
    ids = [uuid.uuid4() for _ in range(3)]
    facts: list = [SurgeryCompleted(
        surgery_id=sid, mission_id=uuid.uuid4(), convention_id=draft["id"], patient_ref=f"P-{n}",
        procedure="VSD closure", completed_at=at, duration_minutes=120, outcome="successful",
        previously_referred_abroad=False, lead_side=lead, risk_scheme="RACHS-1", risk_category=2,
        local_roles=[{"practitioner_ref": local, "role": role, "full_name": "Karim Haddad"}])
        for n, (sid, lead, role) in enumerate(zip(ids, ("visiting", "visiting", "local"),
                                                  ("observer", "assistant", "primary_under_supervision"),
                                                  strict=True))]
    facts += [SurgeryFollowedUp(surgery_id=sid, mission_id=uuid.uuid4(), convention_id=draft["id"], outcome=o,
                                completed_at=at, followed_up_on=date.today(), days_after_surgery=31,
                                risk_scheme="RACHS-1", risk_category=2)
              for sid, o in zip(ids, ("alive", "readmitted"), strict=False)]
    for fact in facts:
        envelope = new_envelope(fact, correlation_id="t", causation_id=None)
        async with runtime.unit_of_work() as uow:
            if isinstance(fact, SurgeryCompleted):
                await convention_handlers.surgery_completed(envelope, uow, clock=runtime.clock)
            else:
                await convention_progress.surgery_followed_up(envelope, uow)
            await uow.commit()

    karim = stack.browser("fr")
    await karim.sign_in("karim")
    page = await karim.open(f"/conventions/{draft['id']}")
    assert "autonomie des équipes locales" in page.replace("&#39;", "'")
    assert "Interventions menées par l'équipe locale : 1 sur 3" in page.replace("&#39;", "'")
    assert "Karim Haddad" in page and "opérateur principal sous supervision" in page
    assert "Résultats à 30 jours" in page and "Mortalité à 30 jours" in page
    assert re.search(r"2 \(66,7\s?%\)", page), "two of three followed up"
    arabic = stack.browser("ar")
    await arabic.sign_in("karim")
    page = await arabic.open(f"/conventions/{draft['id']}")
    assert "استقلالية الفرق المحلية" in page and "النتائج بعد 30 يومًا" in page


async def test_the_funder_downloads_the_report_and_its_figures_from_the_convention_page(stack: Stack) -> None:
    import io
    import zipfile

    draft = await programme(stack)
    await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                               json={"signed_on": date.today().isoformat(), "signed_at": "Alger"})
    karim = stack.browser("ar")
    await karim.sign_in("karim")
    page = await karim.open(f"/conventions/{draft['id']}")
    assert f'action="/conventions/{draft["id"]}/report"' in page and "تنزيل التقرير" in page
    year = str(date.today().year)
    r = await karim.client.get(f"/conventions/{draft['id']}/report",
                               params={"format": "pdf", "language": "ar", "period": year})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text[:300]
    assert r.content.startswith(b"%PDF") and f"_{year}_ar.pdf" in r.headers["content-disposition"]
    r = await karim.client.get(f"/conventions/{draft['id']}/report", params={"format": "zip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any(n.endswith("/objectives.csv") for n in names) and any(n.endswith("/months.csv") for n in names)
    # A period the service refuses: its words next to the report form.
    r = await karim.client.get(f"/conventions/{draft['id']}/report", params={"format": "pdf", "period": "2024-13"})
    assert r.status_code == 422 and 'id="problem-report"' in r.text and "<li>period: " in r.text
    # Each download is in the convention service's audit trail, as the funder's.
    audit = await stack.as_admin("GET", "convention", "/audit", params={"limit": 500})
    downloads = [a for a in audit["items"] if a["action"].startswith("GET /conventions/{convention_id}/report")]
    assert len(downloads) == 2 and {a["roles"][0] for a in downloads} == {"funder"}


async def test_a_coordinator_sets_the_reference_costs_on_the_draft_and_changes_them_by_amendment(stack: Stack) -> None:
    draft = await programme(stack)
    amina = stack.browser("fr")
    await amina.sign_in("amina")
    page = await amina.open(f"/conventions/{draft['id']}")
    assert 'name="cost_abroad_amount_0"' in page and "Coûts de référence (un cas)" in page
    edit = f"/conventions/{draft['id']}/edit"
    await amina.submit(page, edit, {
        "cost_rows": "6", "cost_specialty_0": "paediatric cardiac surgery", "cost_abroad_amount_0": "30 000",
        "cost_abroad_currency_0": "eur", "cost_here_amount_0": "150000", "cost_here_currency_0": "DZD",
        "cost_specialty_1": "paediatric cardiac surgery", "cost_procedure_1": "arterial switch",
        "cost_abroad_amount_1": "42000,50", "cost_abroad_currency_1": "EUR", "cost_here_amount_1": "400000",
        "cost_here_currency_1": "DZD"})
    edited = await stack.as_coordinator("cmci", "GET", "convention", f"/conventions/{draft['id']}")
    lines = {(c["procedure"], c["abroad"]["currency"]): (c["abroad"]["amount"], c["here"]["amount"])
             for c in edited["reference_costs"]}
    assert {k: (float(a), float(h)) for k, (a, h) in lines.items()} == {
        (None, "EUR"): (30000.0, 150000.0), ("arterial switch", "EUR"): (42000.5, 400000.0)}
    # The page shows the lines back in the form; a row begun and not finished is named next to the form.
    page = await amina.open(f"/conventions/{draft['id']}")
    assert 'name="cost_procedure_1" maxlength="300" value="arterial switch"' in page
    r = await amina.submit(page, edit, {"cost_rows": "6", "cost_specialty_0": "paediatric cardiac surgery",
                                        "cost_abroad_amount_0": "30000"}, status=422)
    assert 'id="problem-edit"' in r.text and "cost_abroad_currency_0" in r.text

    # Signed, the costs change by amendment only: the lines typed replace the current ones.
    await amina.submit(page, f"/conventions/{draft['id']}/sign",
                       {"signed_on": date.today().isoformat(), "signed_at": "Alger"})
    page = await amina.open(f"/conventions/{draft['id']}")
    amend = f"/conventions/{draft['id']}/amend"
    await amina.submit(page, amend, {
        "signed_on": date.today().isoformat(), "summary": "Coûts 2026", "change_costs": "yes", "cost_rows": "6",
        "cost_specialty_0": "paediatric cardiac surgery", "cost_abroad_amount_0": "35000",
        "cost_abroad_currency_0": "EUR", "cost_here_amount_0": "200000", "cost_here_currency_0": "DZD"})
    amended = await stack.as_coordinator("cmci", "GET", "convention", f"/conventions/{draft['id']}")
    assert [(float(c["abroad"]["amount"]), c["procedure"]) for c in amended["reference_costs"]] == [(35000.0, None)]
    (amendment,) = await stack.as_coordinator("cmci", "GET", "convention", f"/conventions/{draft['id']}/amendments")
    assert float(amendment["changes"]["reference_costs"][0]["here"]["amount"]) == 200000.0
    # An amount the service refuses: its words next to the amendment form, nothing amended.
    r = await amina.submit(page, amend, {
        "signed_on": date.today().isoformat(), "summary": "Erreur", "change_costs": "yes", "cost_rows": "6",
        "cost_specialty_0": "paediatric cardiac surgery", "cost_abroad_amount_0": "beaucoup",
        "cost_abroad_currency_0": "EUR", "cost_here_amount_0": "1", "cost_here_currency_0": "DZD"}, status=422)
    assert 'id="problem-amend"' in r.text
    assert len(await stack.as_coordinator("cmci", "GET", "convention",
                                          f"/conventions/{draft['id']}/amendments")) == 1


async def test_the_page_shows_each_year_against_its_objectives_and_the_list_the_progress(stack: Stack) -> None:
    from convention import handlers as convention_handlers
    from jumelage.events import SurgeryCompleted, new_envelope

    draft = await programme(stack)
    this_year = date.today().year
    etag = f'"{draft["version"]}"'
    await stack.as_coordinator("cmci", "PATCH", "convention", f"/conventions/{draft['id']}",
                               json={"yearly_objectives": [{"year": this_year, "surgeries": 8, "consultations": 20}]},
                               headers={"If-Match": etag})
    await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                               json={"signed_on": date.today().isoformat(), "signed_at": "Alger"})
    runtime = stack.services["convention"].runtime
    for _ in range(2):
        fact = SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=uuid.uuid4(), convention_id=draft["id"],
                                patient_ref=f"P-{uuid.uuid4().hex[:8]}", procedure="VSD closure",
                                completed_at=datetime.now(UTC), duration_minutes=120, outcome="successful",
                                previously_referred_abroad=False, specialty="paediatric cardiac surgery")
        async with runtime.unit_of_work() as uow:
            await convention_handlers.surgery_completed(new_envelope(fact, correlation_id="t", causation_id=None),
                                                        uow, clock=runtime.clock)
            await uow.commit()

    for language, caption, column in (("fr", "Objectifs par année", "Interventions réalisées / objectif"),
                                      ("ar", "الأهداف حسب السنة", "العمليات المنجزة / الهدف")):
        karim = stack.browser(language)
        await karim.sign_in("karim")
        page = await karim.open(f"/conventions/{draft['id']}")
        row = re.search(rf'<tr data-year="{this_year}">(.*?)</tr>', page)
        assert caption in page and row is not None, page
        assert re.search(r"<td>2 / 8 \(25[.,٫]0 %\)</td>", row.group(1)), row.group(1)
        listing = await karim.open("/conventions")
        assert column in listing and '<td class="progress">2 / 40</td>' in listing
