"""Training placements of the beneficiary's staff at the provider's hospital, outside any mission
(issue 19), over HTTP and the real broker, on SQLite and PostgreSQL: planned under a convention
(its parties, period and specialties), completed with the days spent (``TrainingPlacementCompleted``,
which the convention service counts), cancelled; who may do what."""

from __future__ import annotations

import uuid
from typing import Any

from scheduling_testkit import CMCI, CNAS, CONVENTION, GSD, SPECIALTY, TIARET, Scheduling

TRAINEES = [{"practitioner_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "full_name": "Dr Amel Benali"},
            {"practitioner_id": "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", "full_name": "Karim Ouali"}]


def body(**over: Any) -> dict[str, Any]:
    return {"kind": "fellowship", "specialty": "  chirurgie cardiaque PÉDIATRIQUE ",
            "provider_institution_id": str(GSD), "beneficiary_institution_id": str(CMCI),
            "starts_on": "2030-05-06", "ends_on": "2030-06-14", "trainees": TRAINEES, **over}


async def test_a_placement_is_planned_completed_and_published(programme: Scheduling) -> None:
    s = programme
    url = f"/conventions/{CONVENTION}/training-placements"
    placement = await s.ok("POST", url, 201, json=body())
    assert (placement["status"], placement["specialty"], placement["kind"]) == ("planned", SPECIALTY, "fellowship")
    assert [t["full_name"] for t in placement["trainees"]] == ["Dr Amel Benali", "Karim Ouali"]
    assert await s.ok("GET", f"/training-placements/{placement['id']}") == placement
    assert [p["id"] for p in await s.ok("GET", url)] == [placement["id"]]

    # What does not fit the convention: 422 naming the field; an unknown convention: 404.
    for over, field, needle in [
        ({"specialty": "Orthopédie"}, "specialty", "not covered"),
        ({"starts_on": "2030-01-20"}, "starts_on", "before convention"),
        ({"ends_on": "2031-02-03"}, "ends_on", "after convention"),
        ({"ends_on": "2030-05-01"}, "ends_on", "before it starts"),
        ({"provider_institution_id": str(CMCI)}, "provider_institution_id", "not a provider"),
        ({"beneficiary_institution_id": str(CNAS)}, "beneficiary_institution_id", "not a beneficiary"),
        ({"trainees": [TRAINEES[0], TRAINEES[0]]}, "trainees.1.practitioner_id", "listed twice"),
        ({"trainees": []}, "trainees", ""),
        ({"kind": "holiday"}, "kind", ""),
    ]:
        detail = await s.refused("POST", url, 422, needle, json=body(**over))
        assert field.split(".") in [[str(p) for p in e["loc"][1:]] for e in detail], (over, detail)
    await s.refused("POST", f"/conventions/{uuid.uuid4()}/training-placements", 404, "known here", json=body())

    # Completed once it has started (the clock: 2030-06-11), with the days spent within its dates.
    done = f"/training-placements/{placement['id']}/complete"
    await s.refused("POST", done, 422, "days spent: 1 to 40", json={"days_spent": 41})
    completed = await s.ok("POST", done, json={"days_spent": 28})
    assert (completed["status"], completed["days_spent"], completed["completed_on"]) == ("completed", 28, "2030-06-11")
    (event,) = await s.wait("TrainingPlacementCompleted")
    assert event == {"placement_id": placement["id"], "convention_id": str(CONVENTION), "kind": "fellowship",
                     "specialty": SPECIALTY, "provider_institution_id": str(GSD),
                     "beneficiary_institution_id": str(CMCI), "starts_on": "2030-05-06", "ends_on": "2030-06-14",
                     "days_spent": 28, "trainees": TRAINEES}
    (envelope,) = s.tap.of_type("TrainingPlacementCompleted")
    assert envelope["subject"] == f"training_placements/{placement['id']}"
    await s.refused("POST", done, 409, "it is completed", json={"days_spent": 28})

    later = await s.ok("POST", url, 201, json=body(kind="observership", starts_on="2030-09-01",
                                                   ends_on="2030-09-14"))
    await s.refused("POST", f"/training-placements/{later['id']}/complete", 409, "starts on 2030-09-01",
                    json={"days_spent": 5})
    cancelled = await s.ok("POST", f"/training-placements/{later['id']}/cancel", json={"reason": "visa refusé"})
    assert (cancelled["status"], cancelled["status_reason"]) == ("cancelled", "visa refusé")
    await s.settle()
    assert len(s.events("TrainingPlacementCompleted")) == 1
    with s.client.auth.acting("administrator"):
        actions = [r["action"] for r in (await s.ok("GET", "/audit"))["items"]]
    assert "POST /training-placements/{placement_id}/complete" in actions


async def test_only_the_coordinators_of_its_provider_and_beneficiary_change_a_placement(
        programme: Scheduling) -> None:
    s = programme
    url = f"/conventions/{CONVENTION}/training-placements"
    with s.client.auth.acting("coordinator", institution=GSD):  # the provider's
        placement = await s.ok("POST", url, 201, json=body())
    with s.client.auth.acting("coordinator", institution=CNAS):  # the funder's: reads, does not change
        assert [p["id"] for p in await s.ok("GET", url)] == [placement["id"]]
        await s.refused("POST", url, 403, "neither its provider nor its beneficiary", json=body())
        await s.refused("POST", f"/training-placements/{placement['id']}/complete", 403, json={"days_spent": 3})
    with s.client.auth.acting("coordinator", institution=TIARET):  # no party
        await s.refused("GET", url, 403, "not a party")
        await s.refused("GET", f"/training-placements/{placement['id']}", 403)
    with s.client.auth.acting("clinician", institution=CMCI):
        await s.refused("POST", url, 403, "needs the role coordinator", json=body())
    await s.refused("GET", f"/training-placements/{uuid.uuid4()}", 404, "no training placement")
