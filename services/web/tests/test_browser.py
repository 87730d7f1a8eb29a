"""The web app in a real browser: Debian's headless Chromium (Playwright) against
the three services and the web app, each its own process as deployed, on SQLite,
over the real broker, signed in on the local sign-in page.

The stack starts once for the module; each test makes its own data (a convention
of its own) through the services' HTTP APIs. The run saves screenshots of the
main pages to docs/screenshots/ (services/web/README.md shows them).

To add a scenario (a mission's plan, the waiting list): draft what it needs with
``stack.call(...)``, sign in with ``sign_in(page, stack, "amina")``, and drive the
page; ``expect`` waits for what must appear (never a sleep)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import BrowserContext, Page, expect

from jumelage.testkit.browser import axe_violations, canvas_is_drawn
from jumelage.testkit.client import TEST_AUTH_SECRET, token
from jumelage.testkit.ports import free_port
from jumelage.testkit.processes import ServiceProcess
from jumelage.testkit.servers import delete_namespace
from jumelage.testkit.waiting import eventually

# Four processes and a browser; the browser lives on pytest-asyncio's session loop (jumelage.testkit.plugin).
pytestmark = [pytest.mark.system, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[3]
WEB = Path(__file__).resolve().parents[1]
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"  # scripts/assets.sh installs it (npm ci)
SCREENSHOTS = ROOT / "docs" / "screenshots"
SERVICES = ("convention", "scheduling", "notification")

INSTITUTIONS = {  # key: (name, kind, country)
    "cmci": ("CMCI Bousmail", "clinic", "DZ"),
    "gsd": ("Gruppo San Donato", "hospital_group", "IT"),
    "cnas": ("CNAS", "insurer", "DZ"),
    "other": ("Clinique des Oasis", "clinic", "DZ"),
}
PEOPLE = {  # subject: (name on the sign-in page, institution key, roles)
    "amina": ("Amina (coordinator, CMCI)", "cmci", ("coordinator",)),
    "giulia": ("Giulia (coordinator, GSD)", "gsd", ("coordinator",)),
    "karim": ("Karim (funder, CNAS)", "cnas", ("funder",)),
    "outsider": ("Coordinator of another clinic", "other", ("coordinator",)),
    "clara": ("Clara (clinician, CMCI)", "cmci", ("clinician",)),
    "omar": ("Omar (clinician, Clinique des Oasis)", "other", ("clinician",)),
    "nadia": ("Nadia (administrator)", "cnas", ("administrator",)),
    "paolo": ("Paolo (supervisor, GSD)", "gsd", ("supervisor",)),
    "dalila": ("Dalila (privacy officer, CMCI)", "cmci", ("privacy_officer",)),
}
# The waiting list of the plan's scenarios: (patient's name, date of birth, procedure, minutes, priority,
# risk scheme, risk category). The names and dates are the identity no one but the host's clinicians sees.
CASES = [
    ("Yacine Testnom", "2022-03-14", "Arterial switch", 300, 1, "RACHS-1", 4),
    ("Lina Testnom", "2021-07-02", "Complete repair of Fallot", 240, 2, "STAT", 3),
    ("Sami Testnom", "2020-11-23", "VSD closure", 180, 3, "RACHS-1", 2),
    ("Nour Testnom", "2019-05-08", "Herniotomy", 60, 4, "none", None),
]


@dataclass
class BrowserStack:
    """The running stack: the web app's URL, the services' URLs, the institutions' ids."""

    web: str
    urls: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    namespace: str = ""
    amqp_url: str = ""

    def call(self, method: str, service: str, path: str, *, roles: tuple[str, ...] = ("administrator",),
             institution: str | None = None, json: Any = None, headers: dict[str, str] | None = None) -> Any:
        """A call to a service's API as someone (``institution``: a key of INSTITUTIONS)."""
        minted = token(*roles, institution=self.ids[institution] if institution else None, subject="browser-tests")
        r = httpx.request(method, self.urls[service] + path, json=json, timeout=30,
                          headers={"Authorization": f"Bearer {minted}", **(headers or {})})
        assert r.status_code < 300, f"{method} {service}{path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.content else None

    def as_coordinator(self, key: str, method: str, service: str, path: str, **kw: Any) -> Any:
        return self.call(method, service, path, roles=("coordinator",), institution=key, **kw)


@pytest.fixture(scope="module")
def stack(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    """The three services and the web app as processes (``python -m <name> serve``) on free
    ports, in a topology namespace of their own, on SQLite in a temporary folder, with the
    tests' local secret; the web app's sign-in page lists PEOPLE."""
    data = tmp_path_factory.mktemp("browser-stack")
    namespace = f"t{uuid.uuid4().hex[:10]}."
    people_file = data / "people.json"
    base = {**os.environ, "AMQP_URL": amqp_url, "TOPOLOGY_NAMESPACE": namespace, "DATA_DIR": str(data),
            "MIGRATE_ON_START": "true", "AUTH_SECRET": TEST_AUTH_SECRET, "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
    base.pop("DATABASE_URL", None)
    ports = {name: free_port() for name in (*SERVICES, "web")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    processes = [ServiceProcess(name, {**base, "HTTP_PORT": str(ports[name])}, logs=data, cwd=ROOT)
                 for name in SERVICES]
    processes.append(ServiceProcess("web", {
        **base, "HTTP_PORT": str(ports["web"]), "PUBLIC_URL": urls["web"], "LOCAL_PEOPLE_FILE": str(people_file),
        "CONVENTION_URL": urls["convention"], "SCHEDULING_URL": urls["scheduling"],
        "NOTIFICATION_URL": urls["notification"]}, logs=data, cwd=ROOT))
    try:
        for process in processes:  # all four start at once; each is waited on below
            process.start()
        for process in processes:
            assert process.wait_ready(timeout=90), f"{process.service} did not become ready; see {process.log_files}"
        running = BrowserStack(urls["web"], urls, namespace=namespace, amqp_url=amqp_url)
        for key, (name, kind, country) in INSTITUTIONS.items():
            running.ids[key] = running.call("POST", "convention", "/institutions",
                                            json={"name": name, "kind": kind, "country": country, "city": "x"})["id"]
        people_file.write_text(json.dumps(
            [{"subject": subject, "name": name, "institution": INSTITUTIONS[key][0], "institution_id": running.ids[key],
              "roles": list(roles)} for subject, (name, key, roles) in PEOPLE.items()]))
        yield running
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait_stopped()
        asyncio.run(delete_namespace(amqp_url, namespace))


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser_context: BrowserContext) -> Page:
    return await browser_context.new_page()


def draft(stack: BrowserStack, title: str = "Paediatric cardiac surgery") -> dict[str, Any]:
    """A draft convention of its own between the fund, the provider and the clinic."""
    start = date.today()
    ids = stack.ids
    return stack.as_coordinator("cmci", "POST", "convention", "/conventions", json={
        "reference": f"CNAS-GSD-{uuid.uuid4().hex[:6].upper()}", "title": title, "kind": "international_cooperation",
        "parties": [{"institution_id": ids["cnas"], "role": "funder"},
                    {"institution_id": ids["gsd"], "role": "provider"},
                    {"institution_id": ids["cmci"], "role": "beneficiary"}],
        "effective_from": start.isoformat(), "effective_until": (start + timedelta(days=365)).isoformat(),
        "specialties": ["paediatric cardiac surgery"],
        "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}})


def signed(stack: BrowserStack) -> dict[str, Any]:
    convention = draft(stack)
    return stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{convention['id']}/sign",
                                json={"signed_on": date.today().isoformat(), "signed_at": "Alger"})


@dataclass
class Mission:
    id: str
    first_day: date
    cases: list[dict[str, Any]]


async def mission_with_a_waiting_list(stack: BrowserStack) -> Mission:
    """A signed convention, the host's rooms and beds, CASES on its waiting list (registered by
    a clinician of the host), and a mission of the visiting team from tomorrow for three days."""
    convention = signed(stack)
    cmci = stack.ids["cmci"]

    async def known() -> bool:  # the scheduling service has the signature (an event away)
        minted = token("coordinator", institution=cmci, subject="browser-tests")
        async with httpx.AsyncClient(base_url=stack.urls["scheduling"],
                                     headers={"Authorization": f"Bearer {minted}"}) as client:
            r = await client.get(f"/conventions/{convention['id']}")
        return r.status_code == 200 and r.json()["status"] == "signed"

    await eventually(known)
    stack.as_coordinator("cmci", "PUT", "scheduling", f"/institutions/{cmci}/resources",
                         json={"timezone": "Africa/Algiers", "icu_beds": 4})
    for name in ("Bloc A", "Bloc B"):
        stack.as_coordinator("cmci", "POST", "scheduling", f"/institutions/{cmci}/operating-rooms",
                             json={"name": f"{name} {uuid.uuid4().hex[:4]}", "opens_at": "08:00", "closes_at": "18:00"})
    cases = [stack.call("POST", "scheduling", f"/institutions/{cmci}/cases", roles=("clinician",), institution="cmci",
                        json={"patient": {"full_name": name, "date_of_birth": born, "sex": "male", "weight_kg": 12},
                              "diagnosis": "Congenital heart disease", "planned_procedure": procedure,
                              "priority": priority, "expected_duration_minutes": minutes, "risk_scheme": scheme,
                              "risk_category": category, "referred_abroad": True})
             for name, born, procedure, minutes, priority, scheme, category in CASES]
    for case in cases:  # ready before the team arrives: the optimiser plans only ready cases
        for item in ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged"):
            stack.call("PUT", "scheduling", f"/cases/{case['id']}/readiness/{item}", roles=("clinician",),
                       institution="cmci", json={})
    first = date.today() + timedelta(days=1)
    team = [{"practitioner_id": str(uuid.uuid4()), "full_name": name, "role": role}
            for name, role in (("Alessandro Frigiola", "surgeon"), ("Sara Conti", "anaesthetist"))]
    mission = stack.as_coordinator("cmci", "POST", "scheduling", "/missions", json={
        "convention_id": convention["id"], "host_institution_id": cmci, "visiting_institution_id": stack.ids["gsd"],
        "specialty": "paediatric cardiac surgery", "starts_on": first.isoformat(),
        "ends_on": (first + timedelta(days=5)).isoformat(), "team": team})
    return Mission(mission["id"], first, cases)


async def sign_in(page: Page, stack: BrowserStack, subject: str) -> None:
    """Signed in by clicking the person's button on the local sign-in page."""
    await page.goto(f"{stack.web}/signin")
    await page.get_by_role("button", name=PEOPLE[subject][0]).click()
    await expect(page).to_have_url(re.compile(r"/conventions$"))


async def choose_language(page: Page, label: str) -> None:
    """The page's own language form (the select, then its button)."""
    await page.get_by_label(re.compile("Language|Langue|اللغة")).select_option(label=label)
    await page.locator("form[action='/language'] button[type=submit]").click()


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def test_a_coordinator_signs_a_convention_and_sees_an_event_arrive_live(page: Page, stack: BrowserStack) -> None:
    convention = draft(stack)
    await sign_in(page, stack, "amina")
    await page.get_by_role("link", name=convention["reference"]).click()
    await expect(page.locator("h1 .status")).to_have_class(re.compile(r"status-draft"))

    sign = page.locator(f"form[action='/conventions/{convention['id']}/sign']")
    # Found by their names: the labels are in the reader's language (French by default).
    await sign.locator("input[name=signed_on]").fill(date.today().isoformat())
    await sign.locator("input[name=signed_at]").fill("Alger")
    await sign.locator("button[type=submit]").click()
    await expect(page.locator("h1 .status")).to_have_class(re.compile(r"status-signed"))
    await expect(page.locator("header.record")).to_contain_text("Alger")

    # An event arriving live: the page's stream is open, a change is made elsewhere
    # (through the API, as another of the clinic's coordinators would), and the
    # page's feed shows it without a reload.
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    await page.evaluate("() => { window.__same_page = true; }")
    stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{convention['id']}/suspend",
                         json={"reason": "the operating block is closed for works"})
    await expect(page.locator("#live-feed li[data-event-type='ConventionSuspended']")).to_have_count(1)
    assert await page.evaluate("() => window.__same_page === true"), "the page was reloaded"


async def test_a_funder_sees_the_progress_chart(page: Page, stack: BrowserStack) -> None:
    convention = signed(stack)
    await sign_in(page, stack, "karim")
    await page.goto(f"{stack.web}/conventions/{convention['id']}")
    await expect(page.locator("#progress dl.figures")).to_be_visible()
    chart = page.locator("#objectives-chart")
    await expect(chart).to_be_visible()
    await page.wait_for_function("() => typeof Chart !== 'undefined' && !!Chart.getChart('objectives-chart')")
    drawn = await page.evaluate("""() => { const c = Chart.getChart('objectives-chart');
        return {labels: c.data.labels, target: c.data.datasets[1].data}; }""")
    assert drawn["target"] == [40, 100, 10]
    assert await canvas_is_drawn(page, "#objectives-chart")


async def test_in_arabic_the_page_is_right_to_left_and_mirrored(page: Page, stack: BrowserStack) -> None:
    convention = signed(stack)
    await sign_in(page, stack, "amina")
    width = page.viewport_size["width"]
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")
    assert (await page.locator(".brand").bounding_box())["x"] < width / 2

    await choose_language(page, "العربية")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("html")).to_have_attribute("lang", "ar")
    brand = (await page.locator(".brand").bounding_box())
    assert brand["x"] + brand["width"] > width / 2, f"the brand is not on the right: {brand}"
    await page.goto(f"{stack.web}/conventions/{convention['id']}")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")  # the choice stays for the session
    header = await page.locator("header.record h1").bounding_box()
    assert header["x"] + header["width"] > width * 0.6, f"the heading does not start on the right: {header}"
    await page.wait_for_function("() => typeof Chart !== 'undefined' && !!Chart.getChart('objectives-chart')")
    axes = await page.evaluate("() => { const s = Chart.getChart('objectives-chart').scales; "
                               "return {x: s.x.options.reverse, y: s.y.position}; }")
    assert axes == {"x": True, "y": "right"}, f"the chart is not mirrored: {axes}"


async def test_a_person_of_another_institution_sees_the_refusal_not_the_convention(page: Page, stack: BrowserStack) -> None:
    convention = signed(stack)
    await sign_in(page, stack, "outsider")
    response = await page.goto(f"{stack.web}/conventions/{convention['id']}")
    assert response is not None and response.status == 403
    await expect(page.locator("main")).to_contain_text("convention service answered")
    # The service's words name what was refused; nothing of the convention itself is shown.
    await expect(page.locator("main")).not_to_contain_text(convention["title"])
    await expect(page.locator("main")).not_to_contain_text("Gruppo San Donato")
    await expect(page.locator("#parties-title, #progress, form[action^='/conventions/']")).to_have_count(0)


async def test_axe_sees_what_it_must_refuse(page: Page) -> None:
    """The check below is not blind: a field without a label and grey on grey are found."""
    await page.set_content('<html lang="fr"><head><title>x</title></head><body><main><h1>x</h1>'
                           '<input type="text" name="q"><p style="color:#bbb;background:#ccc">faint</p></main></body></html>')
    found = {v["id"] for v in await axe_violations(page, AXE)}
    assert {"label", "color-contrast"} <= found, found


@pytest.mark.parametrize("language", ["fr", "ar"])
async def test_axe_finds_no_serious_violation_on_the_main_pages(page: Page, stack: BrowserStack, language: str) -> None:
    assert AXE.exists(), f"{AXE} is missing: run scripts/assets.sh"
    convention = signed(stack)
    await page.goto(f"{stack.web}/signin")
    await choose_language(page, {"fr": "Français", "ar": "العربية"}[language])
    await expect(page.locator("html")).to_have_attribute("lang", language)
    found = {"sign-in": await axe_violations(page, AXE)}
    await shoot(page, f"signin-{language}")

    await page.get_by_role("button", name=PEOPLE["amina"][0]).click()
    await expect(page.locator("table.list")).to_contain_text(convention["reference"])
    found["conventions"] = await axe_violations(page, AXE)
    await shoot(page, f"conventions-{language}")

    await page.goto(f"{stack.web}/conventions/{convention['id']}")
    await page.wait_for_function("() => typeof Chart !== 'undefined' && !!Chart.getChart('objectives-chart')")
    found["convention"] = await axe_violations(page, AXE)
    await shoot(page, f"convention-{language}")
    assert not any(found.values()), json.dumps(found, indent=1, ensure_ascii=False)


async def tab_to(page: Page, selector: str, presses: int = 80) -> None:
    """Tab until the focused element matches ``selector``."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got the focus with Tab")


async def test_the_sign_in_and_a_form_work_with_the_keyboard_alone(page: Page, stack: BrowserStack) -> None:
    convention = signed(stack)
    await page.goto(f"{stack.web}/signin?next=/conventions/{convention['id']}")
    await tab_to(page, "a.skip")  # the first stop: skip to the content
    await tab_to(page, "form[action='/signin/local']:has(input[value='amina']) button")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(rf"/conventions/{convention['id']}$"))

    await tab_to(page, f"form[action='/conventions/{convention['id']}/suspend'] input[name=reason]")
    await page.keyboard.type("the operating block is closed for works")
    await page.keyboard.press("Enter")  # sends the form the field is in
    await expect(page.locator("h1 .status")).to_have_class(re.compile(r"status-suspended"))
    await expect(page.locator("header.record .reason")).to_contain_text("closed for works")


async def test_the_host_coordinator_plans_a_mission_and_sees_it_on_the_timeline_and_live(
        page: Page, stack: BrowserStack) -> None:
    mission = await mission_with_a_waiting_list(stack)
    await sign_in(page, stack, "amina")
    await page.goto(f"{stack.web}/missions/{mission.id}")
    await expect(page.locator("#surgeries-table tbody tr")).to_have_count(1)  # "no surgery planned yet"

    propose = page.locator(f"form[action='/missions/{mission.id}/plan']")
    await propose.locator("input[name=time_limit_seconds]").fill("3")
    await propose.locator("button[type=submit]").click()
    await expect(page.locator("#plan-added tbody tr")).to_have_count(len(CASES))
    await page.locator("#apply-form button[type=submit]").click()
    await expect(page).to_have_url(re.compile(rf"/missions/{mission.id}$"))

    surgeries = stack.as_coordinator("cmci", "GET", "scheduling", f"/missions/{mission.id}/surgeries")
    assert len(surgeries) == len(CASES)
    await expect(page.locator("#surgeries-table tbody tr")).to_have_count(len(CASES))
    # On the timeline (the first day's view), each block coloured by its case's risk and
    # bordered by its priority: the coordinator is shown both, never the patient.
    from zoneinfo import ZoneInfo

    def local_day(s: dict[str, Any]) -> date:
        return datetime.fromisoformat(s["scheduled_start"].replace("Z", "+00:00")).astimezone(
            ZoneInfo("Africa/Algiers")).date()

    on_first_day = [s for s in surgeries if local_day(s) == mission.first_day]
    assert on_first_day, surgeries
    blocks = page.locator("#plan-timeline .ec-event")
    await expect(blocks).to_have_count(len(on_first_day))
    classes = await blocks.evaluate_all("els => els.map(e => e.className)")
    assert all(re.search(r"\brisk-(high|medium|low|none)\b", c) and re.search(r"\burgency-(urgent|routine)\b", c)
               for c in classes), classes
    await expect(page.locator("#plan-legend")).to_contain_text("urgent")
    await expect(page.locator("main")).not_to_contain_text("Testnom")
    await shoot(page, "mission-plan-en")  # the browser's language: English

    # An event arriving live: a surgery cancelled elsewhere (through the API, as the host's
    # clinician would) reaches the feed, and the plan redraws itself without a reload.
    await expect(page.locator("body")).to_have_attribute("data-live", "open")
    await page.evaluate("() => { window.__same_page = true; }")
    gone = on_first_day[0]
    stack.call("POST", "scheduling", f"/surgeries/{gone['id']}/cancel", roles=("clinician",), institution="cmci",
               json={"reason": "the patient has a fever"})
    await expect(page.locator("#live-feed li[data-event-type='SurgeryCancelled']")).to_have_count(1)
    await expect(blocks).to_have_count(len(on_first_day) - 1)
    assert await page.evaluate("() => window.__same_page === true"), "the page was reloaded"


async def test_a_clinician_of_another_institution_sees_no_patient_identity(page: Page, stack: BrowserStack) -> None:
    mission = await mission_with_a_waiting_list(stack)
    cmci = stack.ids["cmci"]
    identities = [name for name, *_ in CASES] + [born for _, born, *_ in CASES]
    # The host's own clinician sees them (so their absence below is the rule, not an empty page).
    await sign_in(page, stack, "clara")
    await page.goto(f"{stack.web}/hosts/{cmci}/cases")
    await expect(page.locator("#cases")).to_contain_text(CASES[0][0])

    await page.context.clear_cookies()
    await sign_in(page, stack, "omar")
    for where in (f"/hosts/{cmci}/cases", f"/missions/{mission.id}",
                  f"/missions/{mission.id}/day/{mission.first_day.isoformat()}"):
        response = await page.goto(f"{stack.web}{where}")
        assert response is not None and response.status == 403, (where, response and response.status)
        await expect(page.locator("main")).to_contain_text("scheduling service")
        shown = await page.content()
        found = [value for value in identities if value in shown]
        assert not found, (where, found)
        assert not any(c["patient_ref"] in shown for c in mission.cases), where


async def dead_letter(stack: BrowserStack, name: str, error: str, attempts: int) -> str:
    """An event left in the notification service's DLQ, as its consumer leaves one (x-error, x-attempts)."""
    import aio_pika

    from jumelage.events import InstitutionRegistered, new_envelope

    envelope = new_envelope(InstitutionRegistered(institution_id=uuid.uuid4(), name=name, kind="clinic", country="DZ",
                                                  city="Blida"), correlation_id="dead-letter-desk", causation_id=None)
    queue = f"{stack.namespace}notification.events"
    connection = await aio_pika.connect(stack.amqp_url)
    async with connection:
        channel = await connection.channel()
        forward = await channel.get_exchange(f"{queue}.forward")
        await forward.publish(aio_pika.Message(
            envelope.to_json().encode(), message_id=str(envelope.id), correlation_id="dead-letter-desk",
            delivery_mode=2, content_type="application/cloudevents+json",
            headers={"x-error": error, "x-attempts": attempts, "x-original-routing-key": "institution.registered"}),
            routing_key=f"{queue}.dlq")
    return str(envelope.id)


async def test_an_administrator_shows_retries_and_discards_dead_letters(page: Page, stack: BrowserStack) -> None:
    broken = await dead_letter(stack, "Clinique Broken", "RuntimeError: template missing", 4)
    refused = await dead_letter(stack, "Clinique Refused", "rejected: country not served", 1)
    await sign_in(page, stack, "nadia")
    await page.get_by_role("link", name="Dead letters").click()
    await expect(page).to_have_url(re.compile(r"/dead-letters$"))
    table = page.locator("#dead-letters-notification")
    row = table.locator(f"tr[data-dead-letter='{broken}']")
    await expect(row).to_contain_text("RuntimeError: template missing")
    await expect(row.locator("td").nth(2)).to_have_text("4")
    await expect(table.locator(f"tr[data-dead-letter='{refused}']")).to_contain_text("rejected: country not served")
    await expect(page.locator("#dead-letters-convention")).to_contain_text("No dead letter.")
    await shoot(page, "dead-letters-en")

    await row.get_by_role("link", name=broken).click()  # one shown: its reason, headers and event
    await expect(page.locator("#reason")).to_have_text("RuntimeError: template missing")
    await expect(page.locator("#event")).to_contain_text("Clinique Broken")
    await expect(page.locator("#headers")).to_contain_text("x-attempts")
    await page.get_by_role("link", name="Back to the dead letters").click()

    await table.locator(f"tr[data-dead-letter='{broken}']").get_by_role("button", name="Retry").click()
    await expect(page.locator("#done")).to_have_text("Sent back to its queue.")
    await expect(table.locator(f"tr[data-dead-letter='{broken}']")).to_have_count(0)

    gone = table.locator(f"tr[data-dead-letter='{refused}']")
    await gone.locator("input[name=reason]").fill("a test clinic, never registered")
    await gone.get_by_role("button", name="Discard").click()
    await expect(page.locator("#done")).to_contain_text("Discarded")
    await expect(table).to_contain_text("No dead letter.")

    async def audited() -> list[dict[str, Any]] | None:
        rows = stack.call("GET", "notification", "/audit", headers={})["items"]
        found = [r for r in rows if r["action"].startswith("DLQ ")]
        return found if len(found) == 2 else None

    discard, retry = await eventually(audited)  # newest first
    assert retry["action"].startswith("DLQ retry") and retry["target"] == broken
    assert discard["action"].startswith("DLQ discard") and "a test clinic, never registered" in discard["target"]
    assert discard["subject"] == retry["subject"] == "nadia" and discard["roles"] == ["administrator"]

    await choose_language(page, "العربية")  # the desk in Arabic, right to left
    await expect(page.locator("main h1")).to_have_text("الرسائل الميتة")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("#dead-letters-notification")).to_contain_text("لا توجد رسالة ميتة.")

    # Refused to whoever is not an administrator: the service says so.
    await sign_in(page, stack, "amina")
    response = await page.goto(f"{stack.web}/dead-letters")
    assert response is not None and response.status == 403
    await expect(page.locator("main")).to_contain_text("may not run the dead-letter desk")


async def downloaded(page: Page, link: Any) -> tuple[str, bytes]:
    """Click a download link: the file's suggested name and its bytes, as the browser saved them."""
    async with page.expect_download() as started:
        await link.click()
    download = await started.value
    return download.suggested_filename, Path(await download.path()).read_bytes()


async def test_the_fhir_exports_are_linked_for_whom_the_services_give_them(page: Page, stack: BrowserStack) -> None:
    """The convention's export for whoever reads its progress (its funder), not for a party's
    supervisor who reads the convention but not its progress; the mission's two exports for
    whoever reads the mission (its host's coordinator), none for another clinic's coordinator.
    Each download is the service's Bundle, valid FHIR R4."""
    from fhir.resources.R4B.bundle import Bundle

    mission = await mission_with_a_waiting_list(stack)
    convention_id = stack.call("GET", "scheduling", f"/missions/{mission.id}", roles=("coordinator",),
                               institution="cmci")["convention_id"]
    await sign_in(page, stack, "karim")
    await page.goto(f"{stack.web}/conventions/{convention_id}")
    link = page.locator("#fhir-exports a[href$='/fhir']")
    await expect(link).to_be_visible()
    name, content = await downloaded(page, link)
    assert name == f"convention_{convention_id}.fhir.json"
    bundle = Bundle.model_validate_json(content)
    assert {e.resource.get_resource_type() for e in bundle.entry} == {"Contract", "Organization"}

    await sign_in(page, stack, "paolo")  # GSD is a party, not its supervisor: no progress, no export
    response = await page.goto(f"{stack.web}/conventions/{convention_id}")
    assert response is not None and response.status == 200
    await expect(page.locator("#parties-title")).to_be_visible()
    await expect(page.locator("#fhir-exports")).to_have_count(0)
    response = await page.goto(f"{stack.web}/conventions/{convention_id}/fhir")
    assert response is not None and response.status == 403  # the web route asks the service, which refuses

    await sign_in(page, stack, "amina")
    await page.goto(f"{stack.web}/missions/{mission.id}")
    name, content = await downloaded(page, page.locator(f"#fhir-exports a[href='/missions/{mission.id}/fhir']"))
    assert name == f"mission_{mission.id}.fhir.json"
    kinds = {e.resource.get_resource_type() for e in Bundle.model_validate_json(content).entry}
    assert "CareTeam" in kinds
    name, content = await downloaded(page, page.locator("#fhir-exports a[href$='/fhir/procedures']"))
    assert name == f"mission_{mission.id}_procedures.fhir.json"
    assert Bundle.model_validate_json(content).type == "collection"

    await sign_in(page, stack, "outsider")
    response = await page.goto(f"{stack.web}/missions/{mission.id}")
    assert response is not None and response.status == 403
    await expect(page.locator("#fhir-exports")).to_have_count(0)
    audit = stack.call("GET", "scheduling", "/audit?limit=500")["items"]
    assert {a["action"] for a in audit if a["target"].startswith(f"/missions/{mission.id}/fhir")} == {
        "GET /missions/{mission_id}/fhir", "GET /missions/{mission_id}/fhir/procedures"}


async def test_the_privacy_officer_downloads_a_patients_access_request_from_the_access_history(
        page: Page, stack: BrowserStack) -> None:
    """Each patient of the access history has its access request, as JSON and as the PDF, for the
    host's privacy officer; the export is then in the history itself; another clinic is refused."""
    mission = await mission_with_a_waiting_list(stack)
    case = mission.cases[0]
    stack.call("GET", "scheduling", f"/cases/{case['id']}", roles=("clinician",), institution="cmci")
    await sign_in(page, stack, "dalila")
    await page.goto(f"{stack.web}/hosts/{stack.ids['cmci']}/access-history?patient_ref={case['patient_ref']}")
    row = page.locator(f"#access-requests tr[data-patient='{case['patient_ref']}']")
    await expect(row).to_be_visible()
    name, content = await downloaded(page, row.locator("a[href$='.json']"))
    assert name == f"access-request_{case['patient_ref']}.json"
    exported = json.loads(content)
    assert exported["case"]["id"] == case["id"]
    assert exported["case"]["patient"]["full_name"] == case["patient"]["full_name"]
    assert ("browser-tests", "case") in {(a["subject"], a["what"]) for a in exported["accesses"]}
    name, content = await downloaded(page, row.locator("a[href$='.pdf']"))
    assert name.startswith(f"access-request_{case['patient_ref']}_") and content.startswith(b"%PDF")
    await page.reload()  # both exports are written down, as the privacy officer's own reads
    await expect(page.locator("#access-history")).to_contain_text("dalila")
    await expect(page.locator("#access-history")).to_contain_text("/patients/{patient_ref}/access-request")

    await sign_in(page, stack, "omar")
    response = await page.goto(f"{stack.web}/patients/{case['patient_ref']}/access-request.json")
    assert response is not None and response.status == 403
    await expect(page.locator("main")).not_to_contain_text(case["patient"]["full_name"])
