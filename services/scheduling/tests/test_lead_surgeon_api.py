"""A scheduled surgery's lead surgeon changed before it starts, with a reason (issue 19), over
HTTP and the real broker, on SQLite and PostgreSQL: the rules of a booking for the new lead,
If-Match, the audit row and ``SurgeryLeadChanged``."""

from __future__ import annotations

from scheduling_testkit import ANAESTHETIST, PERFUSIONIST, SURGEON, SURGEON_2, Scheduling


async def test_the_lead_surgeon_changes_before_the_surgery_starts(programme: Scheduling) -> None:
    s = programme
    room, other_room = await s.room(), await s.room("Bloc A - salle 1")
    mission = await s.mission(team=[SURGEON, {**SURGEON_2, "leaves_on": "2030-06-12"}, ANAESTHETIST, PERFUSIONIST])
    surgery = await s.surgery(mission, await s.case(), room, start="2030-06-11T08:00:00+01:00")
    url = f"/surgeries/{surgery['id']}/lead"
    body = {"lead_surgeon_id": SURGEON_2["practitioner_id"], "reason": "Dr Bellini flies home early"}

    # The new lead obeys a booking's rules: a surgeon of the team, on site that day, free then.
    await s.refused("POST", url, 422, "already led by", json={**body, "lead_surgeon_id": SURGEON["practitioner_id"]})
    await s.refused("POST", url, 409, "as perfusionist, not as surgeon",
                    json={**body, "lead_surgeon_id": PERFUSIONIST["practitioner_id"]})
    await s.refused("POST", url, 422, json={"lead_surgeon_id": SURGEON_2["practitioner_id"]})  # no reason
    busy = await s.surgery(mission, await s.case(), other_room, start="2030-06-11T09:00:00+01:00", surgeon=SURGEON_2)
    await s.refused("POST", url, 409, "Paola Conti", "already operating", json=body)
    await s.ok("POST", f"/surgeries/{busy['id']}/cancel", json={"reason": "fièvre"})
    late = await s.surgery(mission, await s.case(), room, start="2030-06-13T08:00:00+01:00")
    await s.refused("POST", f"/surgeries/{late['id']}/lead", 409, "Paola Conti",
                    "on site from 2030-06-10 to 2030-06-12, not on 2030-06-13", json=body)
    await s.refused("POST", url, 412, json=body, headers={"If-Match": '"0"'})

    changed = await s.ok("POST", url, json=body, headers={"If-Match": f'"{surgery["version"]}"'})
    assert changed["lead_surgeon_id"] == SURGEON_2["practitioner_id"]
    assert changed["version"] == surgery["version"] + 1
    assert (await s.ok("GET", f"/surgeries/{surgery['id']}"))["lead_surgeon_id"] == SURGEON_2["practitioner_id"]
    assert await s.wait("SurgeryLeadChanged") == [{
        "surgery_id": surgery["id"], "mission_id": mission["id"],
        "previous_lead_surgeon_id": SURGEON["practitioner_id"], "lead_surgeon_id": SURGEON_2["practitioner_id"],
        "reason": "Dr Bellini flies home early"}]
    # The first surgeon is free again at that time; the new lead is not.
    await s.surgery(mission, await s.case(), other_room, start="2030-06-11T09:00:00+01:00")
    with s.client.auth.acting("administrator"):
        audit = await s.ok("GET", "/audit")
    (row,) = [r for r in audit["items"] if r["action"] == "POST /surgeries/{surgery_id}/lead"]
    assert [e["type"] for e in row["events"]] == ["SurgeryLeadChanged"]

    # Once started, the lead is who operated: no change.
    await s.ok("POST", f"/missions/{mission['id']}/start")
    await s.ok("POST", f"/surgeries/{surgery['id']}/start")
    await s.refused("POST", url, 409, "cannot change the lead surgeon of", "it is started",
                    json={**body, "lead_surgeon_id": SURGEON["practitioner_id"]})
    assert len(s.events("SurgeryLeadChanged")) == 1
