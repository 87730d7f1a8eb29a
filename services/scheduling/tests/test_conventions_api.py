"""The convention replica and what the convention's life does to missions, over
the real broker on SQLite and PostgreSQL: amendments, events out of order and
twice, suspension (hold, then release), termination and expiry (cancel)."""

from __future__ import annotations

from datetime import date, timedelta

from scheduling_testkit import (
    CMCI,
    CONVENTION,
    GSD,
    SIGNED_AT,
    SURGEON_2,
    TIARET,
    Scheduling,
    signed,
)
from jumelage.events import (
    ConventionAmended,
    ConventionExpired,
    ConventionResumed,
    ConventionSuspended,
    ConventionTerminated,
)

NURSE = {"practitioner_id": "7b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d", "full_name": "Sara Ricci", "role": "nurse"}


async def convention(s: Scheduling) -> dict:
    # An administrator: a replica known only from a suspension has no parties yet to read it.
    with s.client.auth.acting("administrator"):
        return await s.ok("GET", f"/conventions/{CONVENTION}")


async def test_the_replica_follows_signature_and_amendments(programme: Scheduling) -> None:
    s = programme
    known = await convention(s)
    assert known["signed"] and known["status"] == "signed"
    assert known["reference"] == "CNAS-GSD-2030-01"
    assert (known["effective_from"], known["effective_until"]) == ("2030-02-01", "2031-01-31")
    assert [i["id"] for i in await s.ok("GET", "/institutions")] != []

    # Before the amendment: Tiaret is no party, urology no specialty, March 2031 outside the period.
    later = s.mission_body(host_institution_id=str(TIARET), specialty="Urologie pédiatrique",
                           starts_on="2031-03-02", ends_on="2031-03-05")
    with s.client.auth.acting("coordinator", institution=GSD):
        await s.refused("POST", "/missions", 422, "after convention", json=later)
    await s.deliver(ConventionAmended(convention_id=CONVENTION, amendment_number=1, changes={
        "effective_until": "2031-12-31",
        "specialties": ["Chirurgie cardiaque pédiatrique", "Urologie pédiatrique"],
        "parties": [{"institution_id": str(GSD), "role": "provider"},
                    {"institution_id": str(CMCI), "role": "beneficiary"},
                    {"institution_id": str(TIARET), "role": "beneficiary"}],
        "objectives": {"surgeries": 150, "consultations": 300, "training_sessions": 20},
    }))
    amended = await convention(s)
    assert amended["effective_until"] == "2031-12-31"
    assert {p["institution_id"] for p in amended["parties"] if p["role"] == "beneficiary"} == {str(CMCI), str(TIARET)}
    mission = await s.mission(**{k: later[k] for k in ("host_institution_id", "specialty", "starts_on", "ends_on")})
    assert mission["specialty"] == "Urologie pédiatrique"


async def test_events_out_of_order_and_twice_never_move_the_convention_back(service: Scheduling) -> None:
    s = service
    t = SIGNED_AT
    # The suspension overtakes the signature: what is known is kept, and the late signature fills the terms in.
    await s.deliver(ConventionSuspended(convention_id=CONVENTION, reason="Audit CNAS"), time=t + timedelta(days=2))
    assert (await convention(s))["status"] == "suspended"
    assert not (await convention(s))["signed"]
    await s.refused("POST", "/missions", 409, "is not signed (known here only as suspended)", json=s.mission_body())
    await s.programme()  # InstitutionRegistered ..., then ConventionSigned dated t
    known = await convention(s)
    assert (known["signed"], known["status"], known["reference"]) == (True, "suspended", "CNAS-GSD-2030-01")
    await s.refused("POST", "/missions", 409, "is suspended", json=s.mission_body())

    resumed = ConventionResumed(convention_id=CONVENTION, reason="Audit clos")
    (envelope,) = await s.deliver(resumed, time=t + timedelta(days=5))
    # A second suspension dated before the resumption, and the resumption again: neither changes anything.
    await s.deliver(ConventionSuspended(convention_id=CONVENTION, reason="stale"), time=t + timedelta(days=4))
    await s.publish(envelope)
    await s.deliver(signed(title="duplicate signature"), time=t)
    known = await convention(s)
    assert (known["status"], known["status_reason"]) == ("signed", "Audit clos")
    await s.mission()


async def test_suspension_holds_missions_not_started_and_resumption_releases_them(programme: Scheduling) -> None:
    s = programme
    waiting = await s.mission()
    underway = await s.mission(starts_on="2030-06-01", ends_on="2030-06-05", team=[SURGEON_2])
    await s.ok("POST", f"/missions/{underway['id']}/start")

    suspension = ConventionSuspended(convention_id=CONVENTION, reason="Audit financier CNAS")
    (envelope,) = await s.deliver(suspension)
    held = await s.ok("GET", f"/missions/{waiting['id']}")
    assert (held["status"], held["status_reason"]) == ("on_hold",
                                                      "convention CNAS-GSD-2030-01 suspended: Audit financier CNAS")
    assert (await s.ok("GET", f"/missions/{underway['id']}"))["status"] == "started", "the team is already there"
    assert await s.wait("MissionSuspended") == [{"mission_id": waiting["id"], "convention_id": str(CONVENTION),
                                                 "reason": held["status_reason"]}]
    await s.refused("POST", f"/missions/{waiting['id']}/start", 409, "on_hold", "cannot start")
    await s.refused("POST", f"/missions/{waiting['id']}/reschedule", 409, "it is on_hold",
                    json={"starts_on": "2030-07-01", "ends_on": "2030-07-03", "reason": "later"})
    # The team can still be prepared while waiting; the same suspension delivered again changes nothing.
    await s.ok("POST", f"/missions/{waiting['id']}/team", 201, json=NURSE)
    await s.publish(envelope)

    await s.deliver(ConventionResumed(convention_id=CONVENTION, reason="Audit clos sans réserve"))
    released = await s.ok("GET", f"/missions/{waiting['id']}")
    assert (released["status"], released["status_reason"]) == ("scheduled", None)
    assert await s.wait("MissionResumed") == [{"mission_id": waiting["id"], "convention_id": str(CONVENTION)}]
    await s.ok("POST", f"/missions/{waiting['id']}/start")
    await s.settle()
    assert len(s.events("MissionSuspended")) == 1 and len(s.events("MissionResumed")) == 1


async def test_termination_cancels_missions_not_started_and_their_surgeries(programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    case = await s.case()
    scheduled = await s.mission()
    surgery = await s.surgery(scheduled, case, room)
    held = await s.mission(starts_on="2030-07-01", ends_on="2030-07-03", team=[NURSE])
    underway = await s.mission(starts_on="2030-06-01", ends_on="2030-06-05", team=[SURGEON_2])
    await s.ok("POST", f"/missions/{underway['id']}/start")
    await s.deliver(ConventionSuspended(convention_id=CONVENTION, reason="Audit"))
    assert (await s.ok("GET", f"/missions/{held['id']}"))["status"] == "on_hold"

    await s.deliver(ConventionTerminated(convention_id=CONVENTION, on=date(2030, 5, 31),
                                         reason="Résiliation à l'amiable"))
    reason = "convention CNAS-GSD-2030-01 terminated on 2030-05-31: Résiliation à l'amiable"
    for mission in (scheduled, held):
        after = await s.ok("GET", f"/missions/{mission['id']}")
        assert (after["status"], after["status_reason"]) == ("cancelled", reason)
    assert (await s.ok("GET", f"/missions/{underway['id']}"))["status"] == "started"
    cancelled = await s.wait("MissionCancelled", 2)
    assert sorted(e["mission_id"] for e in cancelled) == sorted([scheduled["id"], held["id"]])
    assert all(e["reason"] == reason for e in cancelled)
    assert await s.wait("SurgeryCancelled") == [{"surgery_id": surgery["id"], "mission_id": scheduled["id"],
                                                 "reason": reason, "cause": None}]
    assert (await s.ok("GET", f"/cases/{case['id']}"))["status"] == "waiting", "back on the waiting list"
    assert (await convention(s))["status"] == "terminated"
    await s.refused("POST", "/missions", 409, "convention CNAS-GSD-2030-01 is terminated",
                    json=s.mission_body(starts_on="2030-08-01", ends_on="2030-08-02"))
    # A late resumption does not bring it back.
    await s.deliver(ConventionResumed(convention_id=CONVENTION, reason="trop tard"))
    assert (await convention(s))["status"] == "terminated"
    assert (await s.ok("GET", f"/missions/{held['id']}"))["status"] == "cancelled"


async def test_expiry_cancels_missions_not_started(programme: Scheduling) -> None:
    s = programme
    mission = await s.mission()
    await s.deliver(ConventionExpired(convention_id=CONVENTION, on=date(2031, 1, 31), reason=""))
    after = await s.ok("GET", f"/missions/{mission['id']}")
    reason = "convention CNAS-GSD-2030-01 expired on 2031-01-31"
    assert (after["status"], after["status_reason"]) == ("cancelled", reason)
    assert await s.wait("MissionCancelled") == [{"mission_id": mission["id"], "reason": after["status_reason"]}]
    await s.refused("POST", "/missions", 409, "is expired", json=s.mission_body(starts_on="2030-08-01",
                                                                               ends_on="2030-08-02"))


async def test_a_held_mission_holds_its_surgeries_and_consultations_in_their_slots(programme: Scheduling) -> None:
    s = programme
    room = await s.room()
    case, other = await s.case(), await s.case()
    mission = await s.mission()
    surgery = await s.surgery(mission, case, room)
    consultation = await s.ok("POST", f"/missions/{mission['id']}/consultations", 201,
                              json={"case_id": other["id"], "scheduled_at": "2030-06-10T09:00:00+01:00"})
    assert (surgery["on_hold"], consultation["on_hold"]) == (False, False)

    suspension = ConventionSuspended(convention_id=CONVENTION, reason="Audit financier CNAS")
    (envelope,) = await s.deliver(suspension)
    reason = "convention CNAS-GSD-2030-01 suspended: Audit financier CNAS"
    held = await s.ok("GET", f"/surgeries/{surgery['id']}")
    assert (held["status"], held["on_hold"], held["scheduled_start"]) == ("scheduled", True,
                                                                          surgery["scheduled_start"])
    (waiting,) = await s.ok("GET", f"/missions/{mission['id']}/consultations")
    assert (waiting["status"], waiting["on_hold"]) == ("scheduled", True)
    assert await s.wait("SurgerySuspended") == [{
        "surgery_id": surgery["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "patient_ref": case["patient_ref"], "operating_room": room["name"],
        "scheduled_start": "2030-06-11T07:00:00Z", "reason": reason}]
    assert await s.wait("ConsultationSuspended") == [{
        "consultation_id": consultation["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "patient_ref": other["patient_ref"], "scheduled_at": "2030-06-10T08:00:00Z", "reason": reason}]
    await s.refused("POST", f"/surgeries/{surgery['id']}/start", 409, "on hold")
    await s.publish(envelope)  # the same suspension again changes nothing

    await s.deliver(ConventionResumed(convention_id=CONVENTION, reason="Audit clos"))
    released = await s.ok("GET", f"/surgeries/{surgery['id']}")
    assert (released["status"], released["on_hold"]) == ("scheduled", False)
    assert (await s.ok("GET", f"/missions/{mission['id']}/consultations"))[0]["on_hold"] is False
    assert await s.wait("SurgeryResumed") == [{
        "surgery_id": surgery["id"], "mission_id": mission["id"], "convention_id": str(CONVENTION),
        "patient_ref": case["patient_ref"], "operating_room": room["name"],
        "scheduled_start": "2030-06-11T07:00:00Z"}]
    assert [e["consultation_id"] for e in await s.wait("ConsultationResumed")] == [consultation["id"]]
    await s.settle()
    assert len(s.events("SurgerySuspended")) == 1 and len(s.events("SurgeryResumed")) == 1


async def test_a_held_mission_cancelled_cancels_its_held_surgeries_back_to_the_waiting_list(
        programme: Scheduling) -> None:
    s = programme
    room, case = await s.room(), await s.case()
    mission = await s.mission()
    surgery = await s.surgery(mission, case, room)
    await s.deliver(ConventionSuspended(convention_id=CONVENTION, reason="Audit"))
    assert (await s.ok("GET", f"/surgeries/{surgery['id']}"))["on_hold"] is True
    await s.ok("POST", f"/missions/{mission['id']}/cancel", json={"reason": "Équipe indisponible"})
    after = await s.ok("GET", f"/surgeries/{surgery['id']}")
    assert (after["status"], after["on_hold"]) == ("cancelled", False)
    assert await s.wait("SurgeryCancelled") == [{"surgery_id": surgery["id"], "mission_id": mission["id"],
                                                 "reason": "Équipe indisponible", "cause": None}]
    assert (await s.ok("GET", f"/cases/{case['id']}"))["status"] == "waiting", "back on the waiting list"
