"""Cases ready before the team arrives, over HTTP and the real broker, on SQLite and PostgreSQL:
the readiness checklist the host keeps (who checked what, when; ETag and If-Match), the waiting
list showing what each case lacks, the optimiser planning only ready cases unless asked, a booked
case whose readiness is withdrawn taken off the plan (SurgeryCancelled, with a reason the family
may read), and the visiting team's screening notes, for clinicians only."""

from __future__ import annotations

from scheduling.domain.values import UNFIT_REASON
from scheduling_testkit import ANAESTHETIST, CMCI, GSD, READY, SURGEON, TIARET, Scheduling


async def test_the_host_keeps_a_case_s_readiness_checklist(programme: Scheduling) -> None:
    s = programme
    case = await s.case()
    assert case["readiness"] == {"ready": False, "missing": list(READY), "items": []}
    url = f"/cases/{case['id']}/readiness"

    # A clinician of the host checks an item: when it was done, who checked it (the token's subject).
    r = await s.client.put(f"{url}/consent_signed", json={"checked_on": "2030-06-02"},
                           headers={"If-Match": f'"{case["version"]}"'})
    assert r.status_code == 200, r.text
    checked = r.json()
    assert r.headers["ETag"] == f'"{checked["version"]}"' and checked["version"] == case["version"] + 1
    assert checked["missing"] == ["tests_done", "fit_for_anaesthesia", "travel_arranged"] and not checked["ready"]
    (item,) = checked["items"]
    assert (item["item"], item["checked_on"], item["label"]) == ("consent_signed", "2030-06-02", None)
    assert item["checked_by"] == "tester" and item["recorded_at"] == "2030-06-11T09:00:00Z"
    assert "patient" not in checked, "the checklist carries no identity: coordinators read it too"
    # The same check again changes nothing; a stale If-Match is a 412 naming the case.
    again = await s.ok("PUT", f"{url}/consent_signed", json={"checked_on": "2030-06-02"})
    assert again["version"] == checked["version"]
    await s.refused("PUT", f"{url}/tests_done", 412, f"patient case {case['id']}",
                    headers={"If-Match": f'"{case["version"]}"'})
    # Bad input: a 422 naming what is wrong.
    for item_, body, loc in [("tests_done", {"checked_on": "2030-06-12"}, "checked_on"),
                             ("other", {}, "label"),
                             ("tests_done", {"label": "x"}, "label")]:
        detail = await s.refused("PUT", f"{url}/{item_}", 422, json=body)
        assert loc in str(detail), detail
    detail = await s.refused("PUT", f"{url}/fit_to_fly", 422)
    assert ["path", "item"] in [e["loc"] for e in detail]
    await s.refused("PUT", f"{url}/other", 422, json={"label": "x" * 201})

    # The host's coordinator checks what is not clinical; the clinical items are its clinicians'.
    with s.client.auth.acting("coordinator", institution=CMCI, subject="coord.cmci"):
        travel = await s.ok("PUT", f"{url}/travel_arranged")
        assert travel["items"][-1]["checked_on"] == "2030-06-11", "default: today, on the host's calendar"
        assert travel["items"][-1]["checked_by"] == "coord.cmci"
        await s.ok("PUT", f"{url}/other", json={"label": "  Dental   check "})
        await s.refused("PUT", f"{url}/fit_for_anaesthesia", 403, "needs the role clinician")
        assert (await s.ok("GET", url))["missing"] == ["tests_done", "fit_for_anaesthesia"]
        await s.refused("GET", f"/institutions/{CMCI}/cases", 403)  # the waiting list stays the clinicians'
    with s.client.auth.acting("coordinator", "clinician", institution=GSD):  # another institution's
        await s.refused("PUT", f"{url}/consent_signed", 403, "another institution's waiting list")
        await s.refused("GET", url, 403)
    for item_ in ("tests_done", "fit_for_anaesthesia"):
        ready = await s.ok("PUT", f"{url}/{item_}")
    assert ready["ready"] and ready["missing"] == []
    assert [i["item"] for i in ready["items"]] == [*READY, "other"]
    assert ready["items"][-1]["label"] == "Dental check"

    # The waiting list shows it.
    (listed,) = await s.ok("GET", f"/institutions/{CMCI}/cases")
    assert listed["readiness"]["ready"] and listed["version"] == ready["version"]
    other = await s.case(priority=1)
    await s.ok("PUT", f"/cases/{other['id']}/readiness/tests_done")
    listed = {c["id"]: c["readiness"] for c in await s.ok("GET", f"/institutions/{CMCI}/cases")}
    assert listed[other["id"]]["missing"] == ["consent_signed", "fit_for_anaesthesia", "travel_arranged"]

    # Withdrawn: the item is gone, the case is not ready; withdrawing it again changes nothing.
    withdrawn = await s.ok("DELETE", f"{url}/travel_arranged")
    assert withdrawn["missing"] == ["travel_arranged"] and withdrawn["cancelled_surgery_id"] is None
    assert (await s.ok("DELETE", f"{url}/travel_arranged"))["version"] == withdrawn["version"]
    # A closed case's checklist no longer changes.
    await s.ok("POST", f"/cases/{other['id']}/cancel", json={"reason": "Décision de la famille"})
    await s.refused("PUT", f"/cases/{other['id']}/readiness/consent_signed", 409, "cancelled")

    # Every change has its audit row, by whom.
    with s.client.auth.acting("administrator"):
        audit = (await s.ok("GET", "/audit", params={"limit": 500}))["items"]
    actions = [(a["action"], a["target"]) for a in audit]
    assert ("PUT /cases/{case_id}/readiness/{item}", f"{url}/fit_for_anaesthesia") in actions
    assert ("DELETE /cases/{case_id}/readiness/{item}", f"{url}/travel_arranged") in actions


async def test_the_optimiser_plans_ready_cases_and_says_what_the_others_lack(programme: Scheduling) -> None:
    s = programme
    await s.room()
    mission = await s.mission()
    ready = await s.case(ready=True, priority=2)
    half = await s.case(priority=1)
    await s.ok("PUT", f"/cases/{half['id']}/readiness/consent_signed")
    await s.ok("PUT", f"/cases/{half['id']}/readiness/travel_arranged")
    url = f"/missions/{mission['id']}/plan"

    plan = await s.ok("POST", url, json={"time_limit_seconds": 2})
    assert [a["case_id"] for a in plan["assignments"]] == [ready["id"]]
    (unplanned,) = plan["unplanned"]
    assert unplanned["case_id"] == half["id"] and unplanned["patient_ref"] == half["patient_ref"]
    assert unplanned["reason"] == "not ready: tests done, fit for anaesthesia (its readiness checklist)"
    assert any("1 case(s) not ready" in r for r in plan["reasons"])
    # Named explicitly, an unready case is still left out, unless asked.
    named = await s.ok("POST", url, json={"time_limit_seconds": 1, "case_ids": [half["id"]]})
    assert named["assignments"] == [] and [u["case_id"] for u in named["unplanned"]] == [half["id"]]
    everything = await s.ok("POST", url, json={"time_limit_seconds": 2, "include_unready": True})
    assert {a["case_id"] for a in everything["assignments"]} == {ready["id"], half["id"]}
    assert everything["unplanned"] == []


async def test_a_booked_case_no_longer_fit_leaves_the_plan_and_its_family_s_reason_says_nothing_clinical(
        programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    mission = await s.mission()
    case = await s.case(ready=True)
    surgery = await s.surgery(mission, case, room, anaesthetist_id=ANAESTHETIST["practitioner_id"])
    booked = await s.ok("GET", f"/cases/{case['id']}")
    assert booked["status"] == "scheduled"
    url = f"/cases/{case['id']}/readiness"

    # An item of the host's own, withdrawn: the plan stands.
    await s.ok("PUT", f"{url}/other", json={"label": "Bilan dentaire"})
    kept = await s.ok("DELETE", f"{url}/other")
    assert kept["cancelled_surgery_id"] is None and kept["status"] == "scheduled"
    # Fit for anaesthesia withdrawn (a stale If-Match first: nothing changes).
    await s.refused("DELETE", f"{url}/fit_for_anaesthesia", 412, headers={"If-Match": f'"{booked["version"]}"'})
    assert (await s.ok("GET", f"/surgeries/{surgery['id']}"))["status"] == "scheduled"
    r = await s.client.delete(f"{url}/fit_for_anaesthesia", headers={"If-Match": f'"{kept["version"]}"'})
    assert r.status_code == 200, r.text
    unfit = r.json()
    assert unfit["cancelled_surgery_id"] == surgery["id"] and unfit["status"] == "waiting"
    assert unfit["missing"] == ["fit_for_anaesthesia"]
    cancelled = await s.ok("GET", f"/surgeries/{surgery['id']}")
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", UNFIT_REASON)
    (event,) = await s.wait("SurgeryCancelled")
    assert event == {"surgery_id": surgery["id"], "mission_id": mission["id"], "reason": UNFIT_REASON,
                     "cause": "not_ready"}
    for clinical in ("anaesthe", "fit", "consent", "test", case["patient_ref"]):
        assert clinical not in event["reason"].lower()
    # Back on the waiting list, not planned again until ready.
    plan = await s.ok("POST", f"/missions/{mission['id']}/plan", json={"time_limit_seconds": 1})
    assert plan["assignments"] == [] and plan["unplanned"][0]["case_id"] == case["id"]
    # Ready again, planned again; once under way, its readiness no longer changes.
    await s.ok("PUT", f"{url}/fit_for_anaesthesia")
    again = await s.surgery(mission, case, room, start="2030-06-12T08:00:00+01:00")
    await s.ok("POST", f"/missions/{mission['id']}/start")
    s.clock.advance(days=1)  # 2030-06-12 10:00 local
    await s.ok("POST", f"/surgeries/{again['id']}/start")
    await s.refused("DELETE", f"{url}/consent_signed", 409, "has started", case["patient_ref"])
    assert (await s.ok("GET", f"/surgeries/{again['id']}"))["status"] == "started"
    await s.settle()
    assert len(s.events("SurgeryCancelled")) == 1


async def test_screening_notes_are_for_the_clinicians_of_the_host_and_of_the_visiting_team(
        programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    case = await s.case()
    url = f"/cases/{case['id']}/screening-notes"
    note = await s.ok("POST", url, 201, json={"text": "  Écho revue : switch artériel faisable. "})
    assert note["text"] == "Écho revue : switch artériel faisable." and note["author"] == "tester"
    assert note["author_institution_id"] == str(CMCI) and note["case_id"] == case["id"]
    await s.refused("POST", url, 422, json={"text": "x" * 4001})
    await s.refused("POST", url, 422, json={"text": " "})

    # The visiting team's clinicians: once the case is in one of their missions (a consultation here).
    with s.client.auth.acting("clinician", institution=GSD):
        await s.refused("GET", url, 403, "visiting institution of a mission it is in")
    await s.ok("POST", f"/missions/{mission['id']}/consultations", 201,
               json={"scheduled_at": "2030-06-12T10:00:00+01:00", "case_id": case["id"]})
    s.clock.advance(minutes=5)
    with s.client.auth.acting("clinician", institution=GSD):
        await s.ok("POST", url, 201, json={"text": "Remote review: bring the 6 mm shunt."})
        # The case's clinical facts, not the identity: that stays the host's without the family's consent
        # to share it (test_identity_protection.py).
        seen = await s.ok("GET", f"/cases/{case['id']}")
        assert seen["identity"] == "withheld" and seen["patient"]["full_name"] is None
    for who, institution in (("coordinator", CMCI), ("coordinator", GSD), ("practitioner", GSD),
                             ("clinician", TIARET)):
        with s.client.auth.acting(who, institution=institution):
            await s.refused("GET", url, 403)
            await s.refused("POST", url, 403, json={"text": "x"})
    notes = await s.ok("GET", url)
    assert [(n["author_institution_id"], n["text"][:6]) for n in notes] == [(str(CMCI), "Écho r"),
                                                                             (str(GSD), "Remote")]
    await s.settle()
    for body in s.tap.bodies():
        assert "shunt" not in str(body) and "switch" not in str(body), "never in an event"
    assert SURGEON  # the mission's team: a surgeon, so the consultation has a mission to be in
