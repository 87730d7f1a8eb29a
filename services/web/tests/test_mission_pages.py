"""The missions' pages over the real services: the calendar, a mission's page with its team and
actions, a plan proposed against the current one and applied (a stale one refused in the
service's words), and the day's operating list, which shows a patient's identity only to
whom the scheduling service shows it. The diff and the intensive-care strip are pure logic,
tested without a server at the end."""

from __future__ import annotations

import asyncio
import html
import json
import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from web_testkit import Stack
from programmes import as_clinician, mission_programme, planned

from jumelage.testkit.waiting import scaled
from web.adapters import languages
from web.domain import missions as rules


def rows(page: str, table_id: str) -> list[str]:
    """The text of each body row of a table, tags stripped."""
    start = page.index(f'id="{table_id}"')
    body = page[start:page.index("</table>", start)]
    body = body[body.index("<tbody>"):]
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", r)).split())
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)]


async def signed_in(stack: Stack, subject: str):  # noqa: ANN201
    browser = stack.browser()
    await browser.sign_in(subject)
    return browser


async def test_a_host_coordinator_proposes_a_plan_applies_it_and_sees_the_surgeries(stack: Stack) -> None:
    programme = await mission_programme(stack)
    amina = await signed_in(stack, "amina")
    calendar = await amina.open("/missions")
    assert programme.path in calendar and 'id="calendar-data"' in calendar
    page = await amina.open(programme.path)
    assert f'sse-connect="/live?mission={programme.mission_id}"' in page
    assert f'href="/conventions/{programme.convention_id}"' in page and "CMCI Bousmail" in page
    assert rows(page, "surgeries-table") == ["No surgery planned yet."]
    assert [line.split(" First day")[0] for line in rows(page, "sites-table")] == [
        "CMCI Bousmail (host) the whole mission"], "its host, its one site (its forms after)"

    proposed = await amina.submit(page, programme.path + "/plan", {"time_limit_seconds": 3}, status=200)
    status = re.search(r'id="plan-status" data-status="([a-z]+)"', proposed.text).group(1)
    direct = await stack.as_coordinator("cmci", "POST", "scheduling", programme.path + "/plan",
                                        json={"time_limit_seconds": 3})
    assert status in rules.PLAN_STATUSES and status != "infeasible"
    added = rows(proposed.text, "plan-added")
    assert len(added) == len(direct["assignments"]) >= 3
    # Nothing was written by proposing.
    assert await stack.as_coordinator("cmci", "GET", "scheduling", programme.path + "/surgeries") == []

    # The page listens to the mission: its live feed gets the surgeries' events from the broker.
    web = stack.web_app.state.web
    await asyncio.wait_for(web.broker_connected.wait(), scaled(60))
    stream = web.hub.listen([programme.mission_id])
    assert "listening" in await anext(stream)

    assignments = amina.field(proposed.text, programme.path + "/plan/apply", "assignments")
    await amina.submit(proposed.text, programme.path + "/plan/apply", {"assignments": assignments})
    surgeries = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path + "/surgeries")
    assert len(surgeries) == len(added)

    async def scheduled() -> str:
        while "SurgeryScheduled" not in (chunk := await anext(stream)):
            pass
        return chunk

    assert "event: changed" in await asyncio.wait_for(scheduled(), scaled(30))
    await stream.aclose()
    # What the plan section fetches on that event: itself alone, with the surgeries.
    part = await amina.client.get(programme.path + "?part=plan", headers={"HX-Request": "true"})
    assert part.status_code == 200 and part.text.lstrip().startswith('<section id="plan"')
    assert len(rows(part.text, "surgeries-table")) == len(surgeries)
    assert all(f'data-site="{s["site_institution_id"]}"' in part.text for s in surgeries), "each surgery's site"
    assert all("CMCI Bousmail" in line for line in rows(part.text, "surgeries-table"))
    after = await amina.open(programme.path)
    table = rows(after, "surgeries-table")
    assert len(table) == len(surgeries)
    for s in surgeries:
        assert any(s["patient_ref"] in line and s["operating_room"] in line and "Alessandro Frigiola" in line
                   for line in table), (s, table)
    # A coordinator sees no patient's identity, and the timeline's blocks say what their colour says.
    assert "Testnom" not in after
    # Risk and priority are clinical facts: the coordinator's timeline is coloured by them too.
    data = json.loads(html.unescape(re.search(r'id="timeline-data">(.*?)</script>', after, re.S).group(1)))
    blocks = {b["id"]: b for b in data["events"]}
    assert len(blocks) == len(surgeries) and "risk not disclosed to you" not in after
    for s in surgeries:
        band = rules.Risk(s["risk_scheme"], s["risk_category"], s["priority"]).band
        assert blocks[s["id"]]["classNames"][:1] == [f"risk-{band}"] and band != "unknown"
        assert f"priority {s['priority']}" in blocks[s["id"]]["title"]
    assert 'id="plan-legend"' in after


async def test_a_stale_proposal_is_refused_in_the_service_words(stack: Stack) -> None:
    programme = await mission_programme(stack)
    amina = await signed_in(stack, "amina")
    page = await amina.open(programme.path)
    proposed = await amina.submit(page, programme.path + "/plan", {"time_limit_seconds": 3}, status=200)
    assignments = amina.field(proposed.text, programme.path + "/plan/apply", "assignments")
    # Meanwhile a clinician takes one of the proposed cases off the waiting list.
    first = rows(proposed.text, "plan-added")[0].split()[0]
    case = next(c for c in programme.cases if c["patient_ref"] == first)
    await as_clinician(stack, "cmci", "POST", f"/cases/{case['id']}/cancel", json={"reason": "treated elsewhere"})
    r = await amina.submit(proposed.text, programme.path + "/plan/apply", {"assignments": assignments}, status=409)
    assert 'id="problem-apply"' in r.text and "scheduling service refused" in r.text
    assert f"case {first} is cancelled" in html.unescape(r.text)
    assert await stack.as_coordinator("cmci", "GET", "scheduling", programme.path + "/surgeries") == []


async def test_the_coordinator_changes_a_members_days_on_site(stack: Stack) -> None:
    programme = await mission_programme(stack)
    amina = await signed_in(stack, "amina")
    page = await amina.open(programme.path)
    mission = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path)
    nurse = programme.team["nurse"]
    action = f"{programme.path}/team/{nurse['practitioner_id']}/on-site"
    assert f'action="{action}"' in page, "a form per member"
    days = rows(page, "team-table")
    first, last = mission["starts_on"], mission["ends_on"]
    # Arrives on the mission's second day; leaves on its last (the field left empty).
    second = (date.fromisoformat(first) + timedelta(days=1)).isoformat()
    await amina.submit(page, action, {"arrives_on": second, "leaves_on": ""})
    mission = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path)
    member = next(m for m in mission["team"] if m["practitioner_id"] == nurse["practitioner_id"])
    assert (member["arrives_on"], member["leaves_on"], member["whole_mission"]) == (second, last, False)
    page = await amina.open(programme.path)
    assert rows(page, "team-table") != days
    assert any(f"{second} to {last}" in line for line in rows(page, "team-table"))
    # A day outside the mission: the service's refusal, next to that member's form; nothing changes.
    r = await amina.submit(page, action, {"arrives_on": "2000-01-01"}, status=422)
    assert f'id="problem-on-site-{nurse["practitioner_id"]}"' in r.text
    # Both empty: the whole mission again.
    await amina.submit(await amina.open(programme.path), action, {"arrives_on": "", "leaves_on": ""})
    mission = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path)
    member = next(m for m in mission["team"] if m["practitioner_id"] == nurse["practitioner_id"])
    assert member["whole_mission"] and (member["arrives_on"], member["leaves_on"]) == (first, last)


async def test_the_coordinator_adds_a_site_changes_its_days_and_removes_it(stack: Stack) -> None:
    programme = await mission_programme(stack, also_benefit=("other",))
    oasis, path = stack.ids["other"], programme.path
    amina = await signed_in(stack, "amina")
    page = await amina.open(path)
    first, last = programme.days[0].isoformat(), programme.days[-1].isoformat()
    # Among the convention's beneficiaries, the one not yet a site (not the provider nor the funder).
    form = page.index(f'action="{path}/sites"')
    choices = re.findall(r'<option value="([0-9a-f-]{36})">', page[form:page.index("</form>", form)])
    assert choices == [oasis]
    assert f'action="{path}/sites/{programme.host}/days"' in page, "a form per site"
    assert f'action="{path}/sites/{programme.host}/remove"' not in page, "the host stays a site"
    # Added from the mission's second day; to its last (the field left empty). Sent twice: one site.
    second = programme.days[1].isoformat()
    fields = {"institution_id": oasis, "starts_on": second, "ends_on": ""}
    once = await amina.submit(page, path + "/sites", fields)
    again = await amina.submit(page, path + "/sites", fields)
    assert once.headers["location"] == again.headers["location"] == path
    sites = await stack.as_coordinator("cmci", "GET", "scheduling", path + "/sites")
    assert [(s["institution_id"], s["starts_on"], s["ends_on"], s["host"]) for s in sites] == [
        (programme.host, first, last, True), (oasis, second, last, False)]
    page = await amina.open(path)
    assert rows(page, "sites-table")[1].startswith(f"Clinique des Oasis {second} to {last}")
    assert 'id="no-site-choice"' in page, "every beneficiary is a site now"

    # Its days changed from its row: the first day only (both fields empty: the whole mission).
    days = f"{path}/sites/{oasis}/days"
    await amina.submit(page, days, {"starts_on": "", "ends_on": first})
    sites = await stack.as_coordinator("cmci", "GET", "scheduling", path + "/sites")
    assert (sites[1]["starts_on"], sites[1]["ends_on"]) == (first, first)
    page = await amina.open(path)
    assert rows(page, "sites-table")[1].startswith(f"Clinique des Oasis {first} to {first}")
    # A day outside the mission: the service's refusal, next to that site's form; nothing changes.
    r = await amina.submit(page, days, {"starts_on": "2000-01-01"}, status=422)
    assert f'id="problem-site-days-{oasis}"' in r.text and "scheduling service refused" in r.text
    assert f'action="{path}/sites/{oasis}/remove"' in page
    # The host stays a site (no form offers it; sent anyway): the 409 in the service's words, in its row.
    r = await amina.submit(page, f"{path}/sites/{programme.host}/remove", {"form_key": uuid.uuid4()}, status=409)
    assert f'id="problem-site-remove-{programme.host}"' in r.text and "it stays a site" in html.unescape(r.text)
    assert len(await stack.as_coordinator("cmci", "GET", "scheduling", path + "/sites")) == 2

    # A site's coordinator reads the mission, and sees no form to change its sites (nor does a clinician).
    for reader in ("outsider", "samir"):
        theirs = await (await signed_in(stack, reader)).open(path)
        assert "Clinique des Oasis" in rows(theirs, "sites-table")[1]
        assert f'action="{path}/sites' not in theirs, reader

    await amina.submit(await amina.open(path), f"{path}/sites/{oasis}/remove", {})
    sites = await stack.as_coordinator("cmci", "GET", "scheduling", path + "/sites")
    assert [s["institution_id"] for s in sites] == [programme.host]
    page = await amina.open(path)
    assert [line.split(" First day")[0] for line in rows(page, "sites-table")] == [
        "CMCI Bousmail (host) the whole mission"]


async def test_a_member_is_added_then_removed(stack: Stack) -> None:
    programme = await mission_programme(stack)
    amina = await signed_in(stack, "amina")
    page = await amina.open(programme.path)
    mission = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path)
    assert any("whole mission" in line for line in rows(page, "team-table"))
    fields = {"full_name": "Luca Bianchi", "role": "perfusionist", "arrives_on": mission["ends_on"]}
    first = await amina.submit(page, programme.path + "/team", fields)
    again = await amina.submit(page, programme.path + "/team", fields)  # the same form twice: one member
    assert first.headers["location"] == again.headers["location"] == programme.path
    mission = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path)
    added = [m for m in mission["team"] if m["full_name"] == "Luca Bianchi"]
    assert len(added) == 1 and added[0]["role"] == "perfusionist"
    assert (added[0]["arrives_on"], added[0]["home_institution_id"]) == (mission["ends_on"],
                                                                         mission["visiting_institution_id"])
    page = await amina.open(programme.path)
    last = mission["ends_on"]
    assert any(f"Luca Bianchi perfusionist Gruppo San Donato {last} to {last}" in line
               for line in rows(page, "team-table"))

    removal = f"{programme.path}/team/{added[0]['practitioner_id']}/remove"
    await amina.submit(page, removal, {})
    mission = await stack.as_coordinator("cmci", "GET", "scheduling", programme.path)
    assert "Luca Bianchi" not in [m["full_name"] for m in mission["team"]]
    # Sent again with the page's old ETag: the service refuses (412), next to that form.
    page_before = page
    surgeon = programme.team["nurse"]["practitioner_id"]
    r = await amina.submit(page_before, f"{programme.path}/team/{surgeon}/remove", {}, status=412)
    assert f'id="problem-remove-{surgeon}"' in r.text and "scheduling service refused" in r.text


async def test_the_status_offers_its_actions_and_a_refusal_is_shown_by_its_form(stack: Stack) -> None:
    programme = await mission_programme(stack)
    amina = await signed_in(stack, "amina")
    page = await amina.open(programme.path)
    for action in ("reschedule", "cancel", "start"):
        assert f'action="{programme.path}/{action}"' in page
    assert f'action="{programme.path}/complete"' not in page
    # Rescheduled outside the convention's period: refused by the service, shown by the form.
    late = date.today() + timedelta(days=400)
    r = await amina.submit(page, programme.path + "/reschedule",
                           {"starts_on": late.isoformat(), "ends_on": (late + timedelta(days=2)).isoformat(),
                            "reason": "the block is closed"}, status=422)
    assert 'id="problem-reschedule"' in r.text
    await amina.submit(await amina.open(programme.path), programme.path + "/start", {}, status=303)
    started = await amina.open(programme.path)
    assert f'action="{programme.path}/complete"' in started and f'action="{programme.path}/start"' not in started
    assert 'class="status status-started" id="mission-status"' in started


async def test_the_operating_list_names_patients_only_to_whom_the_service_shows_them(stack: Stack) -> None:
    programme = await mission_programme(stack)
    surgeries = await planned(stack, programme)
    tz = ZoneInfo("Africa/Algiers")
    day = min(rules.local_day(s["scheduled_start"], tz) for s in surgeries)
    that_day = [s for s in surgeries if rules.local_day(s["scheduled_start"], tz) == day]
    path = f"{programme.path}/day/{day.isoformat()}"

    samir = await signed_in(stack, "samir")  # a clinician of the host
    listing = await samir.open(path)
    lines = rows(listing, "operating-list")
    assert len(lines) == len(that_day)
    for s in that_day:
        case = next(c for c in programme.cases if c["id"] == s["case_id"])
        start = datetime.fromisoformat(s["scheduled_start"].replace("Z", "+00:00")).astimezone(tz)
        line = next(line for line in lines if s["patient_ref"] in line)
        assert s["operating_room"] in line and s["procedure"] in line and "Alessandro Frigiola" in line
        with languages.speaking(re.search(r'<html lang="(\w+)"', listing).group(1)):  # the reader's, host's clock
            assert case["patient"]["full_name"] in line and " ".join(languages.clock_time(start).split()) in line
    assert 'href="/static/print.css" media="print"' in listing
    # In the reader's language: French, and Arabic right to left.
    for language, title in (("fr", "Programme opératoire du"), ("ar", "قائمة العمليات ليوم")):
        reader = stack.browser(language)
        await reader.sign_in("samir")
        translated = await reader.open(path)
        assert title in translated and len(rows(translated, "operating-list")) == len(that_day)
    assert 'dir="rtl"' in translated

    giulia = await signed_in(stack, "giulia")  # the visiting institution's coordinator: the mission, no identity
    theirs = await giulia.open(path)
    assert len(rows(theirs, "operating-list")) == len(that_day) and "Testnom" not in theirs
    assert 'id="identity-note"' in theirs

    for outsider in ("outsider", "outsider-clinician"):  # another institution: the service refuses
        refused = await (await signed_in(stack, outsider)).open(path, status=403)
        assert "scheduling service answered" in refused and "Testnom" not in refused


async def test_the_calendar_filters_by_host_and_convention(stack: Stack) -> None:
    programme = await mission_programme(stack)
    amina = await signed_in(stack, "amina")
    page = await amina.open(f"/missions?convention={programme.convention_id}")
    assert len(rows(page, "missions-table")) == 1 and programme.path in page
    page = await amina.open(f"/missions?host={stack.ids['other']}")
    assert rows(page, "missions-table") == ["No mission matches."]
    outsider = await signed_in(stack, "outsider")
    assert programme.path not in await outsider.open("/missions")


# -- the pure logic (fast tier: no server) ---------------------------------------------------------

UTC = ZoneInfo("UTC")
ALGIERS = ZoneInfo("Africa/Algiers")


def surgery(sid: str, case: str, start: str, room: str = "r1", status: str = "scheduled") -> dict:
    begin = datetime.fromisoformat(start)
    return {"id": sid, "case_id": case, "patient_ref": f"P-{case}", "operating_room_id": room,
            "operating_room": f"Room {room}", "scheduled_start": begin.isoformat(),
            "scheduled_end": (begin + timedelta(hours=2)).isoformat(), "status": status,
            "lead_surgeon_id": "s1", "anaesthetist_id": None, "expected_duration_minutes": 120}


def assignment(case: str, start: str, room: str = "r1", surgery_id: str | None = None, change: str = "new",
               icu: int = 0) -> dict:
    begin = datetime.fromisoformat(start)
    return {"case_id": case, "patient_ref": f"P-{case}", "surgery_id": surgery_id, "operating_room_id": room,
            "operating_room": f"Room {room}", "scheduled_start": begin.isoformat(),
            "scheduled_end": (begin + timedelta(hours=2)).isoformat(), "expected_duration_minutes": 120,
            "lead_surgeon_id": "s1", "anaesthetist_id": "a1", "icu_days": icu, "change": change}


def test_the_diff_says_what_is_added_moved_by_how_much_kept_and_left_out() -> None:
    current = [surgery("s-a", "a", "2030-06-10T07:00:00+00:00"),
               surgery("s-b", "b", "2030-06-10T10:00:00+00:00"),
               surgery("s-c", "c", "2030-06-10T07:00:00+00:00", room="r2", status="started"),
               surgery("s-x", "x", "2030-06-10T12:00:00+00:00", status="cancelled")]
    proposal = {"status": "feasible", "objective": 30, "bound": 32, "reasons": ["beds not recorded"],
                "assignments": [assignment("a", "2030-06-10T07:00:00+00:00", surgery_id="s-a", change="kept"),
                                assignment("b", "2030-06-11T08:30:00+00:00", room="r2", surgery_id="s-b",
                                           change="moved"),
                                assignment("c", "2030-06-10T07:00:00+00:00", room="r2", surgery_id="s-c",
                                           change="fixed"),
                                assignment("d", "2030-06-10T13:00:00+00:00")],
                "unplanned": [{"case_id": "e", "patient_ref": "P-e", "reason": "did not fit beside the cases chosen"}]}
    diff = rules.plan_diff(current, proposal, ALGIERS)
    assert [a["case_id"] for a in diff["added"]] == ["d"]
    [moved] = diff["moved"]
    assert moved["case_id"] == "b" and moved["shift_minutes"] == 22 * 60 + 30 and moved["room_changed"]
    assert (moved["was_room"], moved["room"]) == ("Room r1", "Room r2")
    assert moved["start"].tzinfo == ALGIERS and moved["start"].hour == 9  # the host's clock
    assert [a["case_id"] for a in diff["kept"]] == ["a"] and [a["case_id"] for a in diff["fixed"]] == ["c"]
    assert diff["left_out"] == [{"case_id": "e", "patient_ref": "P-e", "reason": "did not fit beside the cases chosen"}]
    assert diff["dropped"] == [] and diff["changes"]
    assert diff["status"] == "feasible"  # as the service says it, never more
    # A move earlier, in the same room, is a negative shift without a room change.
    earlier = rules.plan_diff(current[:1], {"assignments": [assignment("a", "2030-06-10T06:15:00+00:00",
                                                                       surgery_id="s-a")]})
    assert earlier["moved"][0]["shift_minutes"] == -45 and not earlier["moved"][0]["room_changed"]
    # A current surgery the proposal does not list is reported, not silently dropped.
    assert [s["id"] for s in rules.plan_diff(current, {"assignments": []})["dropped"]] == ["s-a", "s-b", "s-c"]
    # Only the fields the apply endpoint takes, exactly the proposal's.
    assert rules.to_apply(proposal)[1] == {
        "case_id": "b", "operating_room_id": "r2", "scheduled_start": "2030-06-11T08:30:00+00:00",
        "lead_surgeon_id": "s1", "anaesthetist_id": "a1", "surgery_id": "s-b", "expected_duration_minutes": 120}


def test_the_icu_strip_counts_beds_as_the_scheduling_service_does() -> None:
    # The service's table: STAT n -> n days, RACHS-1 n -> min(n, 5), non-cardiac -> 0, cardiac without category -> 3.
    assert [rules.icu_days("STAT", c) for c in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [rules.icu_days("RACHS-1", c) for c in range(1, 7)] == [1, 2, 3, 4, 5, 5]
    assert rules.icu_days("none", None) == 0 and rules.icu_days("STAT", None) == 3
    # From the host-calendar day of the surgery's start: 23:30 UTC on the 9th is the 10th in Algiers.
    surgeries = [surgery("1", "a", "2030-06-09T23:30:00+00:00"),            # the 10th, 2 days
                 surgery("2", "b", "2030-06-10T08:00:00+00:00"),            # the 10th, 3 days
                 surgery("3", "c", "2030-06-11T08:00:00+00:00"),            # the 11th, 0 days (non-cardiac)
                 surgery("4", "d", "2030-06-11T08:00:00+00:00", status="cancelled"),  # holds nothing
                 surgery("5", "e", "2030-06-12T08:00:00+00:00")]            # risk not known to this reader
    risk_of = {"a": rules.Risk("RACHS-1", 2, 1), "b": rules.Risk("STAT", 3, 2), "c": rules.Risk("none", None, 4),
               "d": rules.Risk("STAT", 5, 1)}
    known, unknown = rules.stays(surgeries, ALGIERS, rules.icu_days_of(risk_of))
    assert unknown == 1
    assert sorted(known) == [(date(2030, 6, 10), 2), (date(2030, 6, 10), 3), (date(2030, 6, 11), 0)]
    mission = {"starts_on": "2030-06-10", "ends_on": "2030-06-11"}
    first, last = rules.strip_span(mission, known)
    assert (first, last) == (date(2030, 6, 10), date(2030, 6, 12))  # the last stay runs past the mission
    strip = rules.icu_strip(known, first, last, beds=2)
    assert [(d["day"].day, d["in_use"], d["full"], d["over"]) for d in strip] == [
        (10, 2, True, False), (11, 2, True, False), (12, 1, False, False)]
    # Not recorded (0 beds): counted, never full.
    assert not any(d["full"] for d in rules.icu_strip(known, first, last, beds=0))
    # In UTC the first surgery would be the 9th: the day is the host's.
    assert rules.stays(surgeries[:1], UTC, {"a": 2})[0] == [(date(2030, 6, 9), 2)]


def test_the_timeline_blocks_say_in_words_what_their_colour_says() -> None:
    mission = {"team": [{"practitioner_id": "s1", "full_name": "Dr A", "role": "surgeon"}]}
    lines = rules.plan_lines([surgery("1", "a", "2030-06-10T07:00:00+00:00")], mission, ALGIERS,
                             {"a": rules.Risk("RACHS-1", 4, 1)})
    [block] = rules.timeline_events(lines, {"risk-high": "high risk", "urgency-urgent": "urgent",
                                            "priority": "priority %(n)s"})
    assert block["classNames"][:2] == ["risk-high", "urgency-urgent"]
    assert "RACHS-1 4" in block["title"] and "high risk" in block["title"] and "priority 1" in block["title"]
    assert block["start"] == "2030-06-10 08:00" and block["resourceIds"] == ["r1"]
    [hidden] = rules.timeline_events(rules.plan_lines([surgery("1", "a", "2030-06-10T07:00:00+00:00")], mission,
                                                      ALGIERS, {}), {"risk-unknown": "risk not disclosed"})
    assert "risk-unknown" in hidden["classNames"] and "risk not disclosed" in hidden["title"]


def test_the_surgeries_own_priority_and_risk_colour_the_plan_for_every_reader() -> None:
    given = [{**surgery("1", "a", "2030-06-10T07:00:00+00:00"), "priority": 2, "risk_scheme": "STAT",
              "risk_category": 5},
             {**surgery("2", "b", "2030-06-10T09:00:00+00:00"), "priority": 4, "risk_scheme": "none",
              "risk_category": None},
             surgery("3", "c", "2030-06-10T11:00:00+00:00")]  # from a service that did not give them
    risk_of = rules.surgery_risks(given)
    assert risk_of == {"a": rules.Risk("STAT", 5, 2), "b": rules.Risk("none", None, 4)}
    lines = rules.plan_lines(given, {"team": []}, ALGIERS, risk_of)
    assert [line["risk"].band for line in lines] == ["high", "none", "unknown"]
    assert rules.bands_shown(lines) == {"risk-high", "risk-none", "risk-unknown", "urgency-urgent",
                                        "urgency-routine", "urgency-unknown"}
    assert "risk-unknown" not in rules.bands_shown(lines[:2])


def test_the_status_allows_its_actions_to_the_coordinators_of_the_mission() -> None:
    m = {"status": "scheduled", "host_institution_id": "h", "visiting_institution_id": "v"}
    assert rules.actions(m, ("coordinator",), "h") == ("reschedule", "cancel", "start")
    assert rules.actions(m, ("coordinator",), "v") == ("reschedule", "cancel", "start")
    assert rules.actions(m, ("coordinator",), "other") == () and rules.actions(m, ("clinician",), "h") == ()
    assert rules.actions({**m, "status": "started"}, ("coordinator",), "h") == ("complete",)
    assert rules.actions({**m, "status": "on_hold"}, ("coordinator",), "h") == ("cancel",)
    assert not rules.team_editable({**m, "status": "started"}, ("coordinator",), "h")
    assert rules.plannable({**m, "status": "started"}, ("coordinator",), "h")


def test_the_follow_up_is_for_completed_surgeries_and_recorded_by_the_hosts_clinicians() -> None:
    from web.domain import missions as rules

    mission = {"host_institution_id": "h", "visiting_institution_id": "v"}
    assert rules.records_follow_up(mission, ("clinician",), "h")
    assert not rules.records_follow_up(mission, ("coordinator",), "h")
    assert not rules.records_follow_up(mission, ("clinician",), "v")
    lines = [{"id": 1, "status": "completed", "outcome": "successful"}, {"id": 2, "status": "completed",
             "outcome": "deceased"}, {"id": 3, "status": "scheduled", "outcome": None}]
    assert [line["id"] for line in rules.follow_ups(lines)] == [1]


def test_a_site_is_added_among_the_conventions_beneficiaries_not_yet_visited() -> None:
    convention = {"parties": [{"institution_id": "f", "role": "funder"},
                              {"institution_id": "p", "role": "provider"},
                              {"institution_id": "h", "role": "beneficiary"},
                              {"institution_id": "b", "role": "beneficiary"},
                              {"institution_id": "a", "role": "beneficiary"}]}
    sites = [{"institution_id": "h"}]
    names = {"a": "Zeralda", "b": "Annaba"}
    assert rules.site_choices(convention, sites, names) == [("b", "Annaba"), ("a", "Zeralda")]
    assert rules.site_choices(convention, [{"institution_id": i} for i in "hab"], names) == []
    assert rules.site_choices(None, sites, names) == [], "a convention the reader may not read: no choice"
    m = {"status": "started", "host_institution_id": "h", "visiting_institution_id": "v"}
    assert rules.sites_editable(m, ("coordinator",), "v") and rules.sites_editable(m, ("coordinator",), "h")
    assert not rules.sites_editable(m, ("coordinator",), "b"), "a site's coordinator does not manage the mission"
    assert not rules.sites_editable(m, ("clinician",), "h")
    assert not rules.sites_editable({**m, "status": "completed"}, ("coordinator",), "h")


async def test_a_training_session_is_planned_at_the_site_picked_on_the_page(stack: Stack) -> None:
    programme = await mission_programme(stack, also_benefit=("other",))
    oasis, path = stack.ids["other"], programme.path
    last = programme.days[-1].isoformat()
    await stack.as_coordinator("cmci", "PUT", "scheduling", f"{path}/sites/{oasis}", json={"starts_on": last})
    amina = await signed_in(stack, "amina")
    where = f"{path}/activities"
    page = await amina.open(where)
    # Two sites: the form offers both, the host first (and picked), each with its days.
    form = page.index(f'action="{where}/training-sessions"')
    select = page[page.index('id="training-site"', form):page.index("</select>", form)]
    assert re.findall(r'<option value="([0-9a-f-]{36})"', select) == [programme.host, oasis]
    assert f'value="{programme.host}" selected' in select and "Clinique des Oasis" in select
    zone = {"zone": "Africa/Algiers"}
    # At the Oasis on a day the mission is not there: the service's refusal, next to the form.
    first = programme.days[0].isoformat()
    r = await amina.submit(page, f"{where}/training-sessions", {
        "topic": "Échographie", "scheduled_at": f"{first}T16:00", "hours": "2", "site_institution_id": oasis,
        **zone}, status=422)
    assert 'id="problem-training"' in r.text
    await amina.submit(r.text, f"{where}/training-sessions", {
        "topic": "Échographie", "scheduled_at": f"{last}T16:00", "hours": "2", "site_institution_id": oasis, **zone})
    (session,) = await stack.as_coordinator("cmci", "GET", "scheduling", f"{path}/training-sessions")
    assert session["site_institution_id"] == oasis
    page = await amina.open(where)
    assert "Clinique des Oasis" in page[page.index('id="training"'):page.index("</table>", page.index('id="training"'))]
