"""Conventions over HTTP and the real broker, on SQLite and PostgreSQL:
every transition and its event, amendments, expiry, queries and bad input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy import select

import convention.app
from convention import handlers
from convention.domain.commands import ExpireConventions
from jumelage.clock import FixedClock
from jumelage.events import registry
from jumelage.messaging.tables import OutboxRecord
from jumelage.testkit.servers import Database
from jumelage.testkit.services import deliveries, publish, running, service_settings
from jumelage.testkit.tap import EventTap, event_tap
from jumelage.testkit.waiting import eventually

NOW = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)


class Programme:
    """The convention service with a tap on the exchange and the reference institutions."""

    def __init__(self, client: httpx.AsyncClient, tap: EventTap, clock: FixedClock) -> None:
        self.client, self.tap, self.clock = client, tap, clock
        self.ids: dict[str, str] = {}

    async def institution(self, key: str, name: str, kind: str, country: str, city: str) -> str:
        with self.client.auth.acting("administrator"):
            r = await self.client.post("/institutions", json={"name": name, "kind": kind, "country": country,
                                                              "city": city})
        assert r.status_code == 201, r.text
        self.ids[key] = r.json()["id"]
        return self.ids[key]

    def cnas_convention(self, **over: Any) -> dict[str, Any]:
        body = {
            "reference": "CNAS-GSD-2024-01",
            "title": "Chirurgie cardiaque pédiatrique au CMCI Bousmail",
            "kind": "international_cooperation",
            "parties": [
                {"institution_id": self.ids["gsd"], "role": "provider"},
                {"institution_id": self.ids["cmci"], "role": "beneficiary"},
                {"institution_id": self.ids["cnas"], "role": "funder"},
            ],
            "effective_from": "2024-05-20",
            "effective_until": "2025-05-19",
            "specialties": ["paediatric cardiac surgery"],
            "objectives": {"surgeries": 100, "consultations": 300, "training_sessions": 20},
            "cost_bearers": [{"institution_id": self.ids["cnas"], "covers": "missions and consumables"}],
        }
        return {**body, **over}

    async def signed_convention(self, **over: Any) -> dict[str, Any]:
        r = await self.client.post("/conventions", json=self.cnas_convention(**over))
        assert r.status_code == 201, r.text
        r = await self.client.post(f"/conventions/{r.json()['id']}/sign",
                                   json={"signed_on": "2024-05-20", "signed_at": "Alger"})
        assert r.status_code == 200, r.text
        return r.json()

    async def everything_published(self) -> None:
        """Until every event committed so far has reached the tap: the relay publishes in
        commit order, so a sentinel committed now arrives after all of them."""
        name = f"Sentinel {uuid.uuid4().hex[:8]}"
        await self.institution(name, name, "clinic", "DZ", "Alger")
        await self.tap.wait_for(lambda _: any(e["data"]["name"] == name
                                              for e in self.tap.of_type("InstitutionRegistered")))

    async def events(self, event_type: str, count: int) -> list[dict[str, Any]]:
        await self.tap.wait_for(lambda _: len(self.tap.of_type(event_type)) >= count)
        found = self.tap.of_type(event_type)
        for body in found:
            registry.parse(body)  # every event we emit is a valid contract event
        return found


@pytest.fixture
async def programme(amqp_url: str, namespace: str, database: Database) -> AsyncIterator[Programme]:
    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"), expiry_check_interval=3600)
    clock = FixedClock(NOW, "Africa/Algiers")
    async with event_tap(amqp_url, f"{namespace}jumelage.events") as tap:
        async with running(convention.app.create_app(settings, clock), convention.app.MIGRATIONS) as client:
            p = Programme(client, tap, clock)
            await p.institution("cnas", "CNAS", "insurer", "DZ", "Alger")
            await p.institution("gsd", "Gruppo San Donato", "hospital_group", "IT", "Milano")
            await p.institution("cmci", "CMCI Bousmail", "clinic", "DZ", "Bou Ismail")
            await p.institution("chu", "CHU Oran", "university_hospital", "DZ", "Oran")
            await p.institution("tiaret", "EPH Tiaret", "hospital", "DZ", "Tiaret")
            await p.institution("dsp", "DSP Oran", "health_directorate", "DZ", "Oran")
            # The provider's coordinator drafts and signs the CNAS convention.
            client.auth.set("coordinator", institution=p.ids["gsd"])
            yield p


async def test_every_transition_emits_its_event(programme: Programme) -> None:
    client = programme.client
    r = await client.post("/conventions", json=programme.cnas_convention(),
                          headers={"X-Correlation-ID": "cnas-programme"})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft"
    cid = draft["id"]

    r = await client.post(f"/conventions/{cid}/sign", json={"signed_on": "2024-05-20", "signed_at": "Alger"},
                          headers={"X-Correlation-ID": "cnas-programme"})
    assert r.status_code == 200 and r.json()["status"] == "signed", r.text
    (signed,) = await programme.events("ConventionSigned", 1)
    assert signed["correlationid"] == "cnas-programme"
    data = signed["data"]
    assert data["convention_id"] == cid and data["reference"] == "CNAS-GSD-2024-01"
    assert data["signed_on"] == "2024-05-20" and data["signed_at"] == "Alger"
    assert data["parties"] == programme.cnas_convention()["parties"]
    assert data["objectives"] == {"surgeries": 100, "consultations": 300, "training_sessions": 20}
    assert (data["effective_from"], data["effective_until"]) == ("2024-05-20", "2025-05-19")
    assert data["specialties"] == ["paediatric cardiac surgery"]
    assert data["kind"] == "international_cooperation"

    r = await client.post(f"/conventions/{cid}/suspend", json={"reason": "budget review"})
    assert r.json()["status"] == "suspended"
    (suspended,) = await programme.events("ConventionSuspended", 1)
    assert suspended["data"] == {"convention_id": cid, "reason": "budget review"}

    r = await client.post(f"/conventions/{cid}/resume", json={"reason": "budget approved"})
    assert r.json()["status"] == "signed"
    (resumed,) = await programme.events("ConventionResumed", 1)
    assert resumed["data"]["reason"] == "budget approved"

    r = await client.post(f"/conventions/{cid}/terminate", json={"on": "2024-12-31", "reason": "programme moved"})
    assert r.json()["status"] == "terminated" and r.json()["ended_on"] == "2024-12-31"
    (terminated,) = await programme.events("ConventionTerminated", 1)
    assert terminated["data"] == {"convention_id": cid, "on": "2024-12-31", "reason": "programme moved"}

    history = (await client.get(f"/conventions/{cid}/history")).json()
    assert [h["action"] for h in history] == ["drafted", "signed", "suspended", "resumed", "terminated"]
    by_action = {h["action"]: h for h in history}
    assert by_action["signed"]["event_id"] == signed["id"]
    assert by_action["signed"]["correlation_id"] == "cnas-programme"
    assert by_action["terminated"]["event_id"] == terminated["id"]


async def test_illegal_transitions_are_refused_naming_the_state(programme: Programme) -> None:
    client = programme.client
    cid = (await client.post("/conventions", json=programme.cnas_convention())).json()["id"]
    r = await client.post(f"/conventions/{cid}/suspend", json={"reason": "x"})
    assert r.status_code == 409
    assert "it is draft" in r.json()["detail"]
    r = await client.post(f"/conventions/{cid}/resume", json={"reason": "x"})
    assert r.status_code == 409
    await client.post(f"/conventions/{cid}/sign", json={"signed_on": "2024-05-20", "signed_at": "Alger"})
    r = await client.post(f"/conventions/{cid}/sign", json={"signed_on": "2024-05-20", "signed_at": "Alger"})
    assert r.status_code == 409 and "it is signed" in r.json()["detail"]
    r = await client.patch(f"/conventions/{cid}", json={"title": "New"})
    assert r.status_code == 409 and "amendment" in r.json()["detail"]
    r = await client.post(f"/conventions/{uuid.uuid4()}/sign", json={"signed_on": "2024-05-20", "signed_at": "A"})
    assert r.status_code == 404
    await programme.everything_published()
    assert len(programme.tap.of_type("ConventionSigned")) == 1
    assert programme.tap.of_type("ConventionSuspended") == []


async def test_a_draft_can_be_discarded_and_its_reference_reused_but_a_signed_one_cannot(
    programme: Programme,
) -> None:
    client = programme.client
    draft = (await client.post("/conventions", json=programme.cnas_convention())).json()
    assert (await client.patch(f"/conventions/{draft['id']}", json={"title": "Typo"})).status_code == 200

    with client.auth.acting("coordinator", institution=programme.ids["tiaret"]):  # not a party
        refused = await client.delete(f"/conventions/{draft['id']}")
    assert refused.status_code == 403

    r = await client.delete(f"/conventions/{draft['id']}")
    assert r.status_code == 204, r.text
    assert (await client.get(f"/conventions/{draft['id']}")).status_code == 404
    assert (await client.delete(f"/conventions/{draft['id']}")).status_code == 404
    listed = (await client.get("/conventions", params={"party": programme.ids["gsd"]})).json()
    assert listed["total"] == 0

    signed = await programme.signed_convention()  # the same reference, free again
    assert signed["reference"] == draft["reference"] and signed["id"] != draft["id"]
    r = await client.delete(f"/conventions/{signed['id']}")
    assert r.status_code == 409
    assert "only a draft can be discarded" in r.json()["detail"]
    assert (await client.get(f"/conventions/{signed['id']}")).json()["status"] == "signed"

    with client.auth.acting("administrator"):
        audit = (await client.get("/audit")).json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    assert any(e["action"] == "DELETE /conventions/{convention_id}" and e["target"] == f"/conventions/{draft['id']}"
               for e in entries), "the discarding is in the audit trail"


def _field(response: httpx.Response) -> list[str]:
    return [".".join(str(p) for p in d["loc"]) for d in response.json()["detail"]]


async def test_bad_input_gets_422_naming_the_field(programme: Programme) -> None:
    client, ids = programme.client, programme.ids
    unknown = str(uuid.uuid4())
    cases = {
        "body.parties.1.institution_id": dict(parties=[{"institution_id": ids["gsd"], "role": "provider"},
                                                       {"institution_id": unknown, "role": "beneficiary"}]),
        "body.effective_until": dict(effective_from="2024-06-01", effective_until="2024-05-01"),
        "body.parties.1.institution_id#twice": dict(parties=[{"institution_id": ids["gsd"], "role": "provider"},
                                                             {"institution_id": ids["gsd"], "role": "beneficiary"}]),
        "body.parties": dict(parties=[{"institution_id": ids["cmci"], "role": "beneficiary"},
                                      {"institution_id": ids["cnas"], "role": "funder"}]),
        "body.parties.0.role": dict(parties=[{"institution_id": ids["gsd"], "role": "sponsor"},
                                             {"institution_id": ids["cmci"], "role": "beneficiary"}]),
        "body.objectives.surgeries": dict(objectives={"surgeries": -1}),
        "body.reference": dict(reference=""),
    }
    for field, over in cases.items():
        # The drafter is a coordinator of the first party named, so the 422 is about the field.
        drafter = programme.cnas_convention(**over)["parties"][0]["institution_id"]
        with client.auth.acting("coordinator", institution=drafter):
            r = await client.post("/conventions", json=programme.cnas_convention(**over))
        assert r.status_code == 422, (field, r.text)
        assert field.split("#")[0] in _field(r), (field, r.json())
    with client.auth.acting("coordinator", institution=ids["cmci"]):
        messages = str((await client.post("/conventions", json=programme.cnas_convention(**cases["body.parties"])))
                       .json())
    assert "at least one provider" in messages
    assert (await client.get("/conventions")).json()["total"] == 0, "nothing half-written"

    assert (await client.post("/conventions", json=programme.cnas_convention())).status_code == 201
    r = await client.post("/conventions", json=programme.cnas_convention(title="Another"))
    assert r.status_code == 409 and "CNAS-GSD-2024-01" in r.json()["detail"]


async def test_amendments_are_numbered_kept_and_published(programme: Programme) -> None:
    client = programme.client
    draft = (await client.post("/conventions", json=programme.cnas_convention())).json()
    r = await client.post(f"/conventions/{draft['id']}/amendments",
                          json={"signed_on": "2024-06-01", "changes": {"title": "x"}})
    assert r.status_code == 409 and "draft" in r.json()["detail"]
    r = await client.patch(f"/conventions/{draft['id']}", json={"objectives": {"surgeries": 120}})
    assert r.status_code == 200 and r.json()["objectives"]["surgeries"] == 120
    assert r.json()["objectives"]["consultations"] == 300

    signed = await programme.signed_convention(reference="CNAS-GSD-2024-02")
    cid = signed["id"]
    r = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-09-01", "summary": "Avenant n°1: prolongation et cardiologie interventionnelle",
        "changes": {"effective_until": "2025-12-31",
                    "specialties": ["paediatric cardiac surgery", "interventional cardiology"]},
    })
    assert r.status_code == 201, r.text
    assert r.json()["number"] == 1
    r = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-10-01", "changes": {"parties": [
            {"institution_id": programme.ids["gsd"], "role": "provider"},
            {"institution_id": programme.ids["cmci"], "role": "beneficiary"},
            {"institution_id": programme.ids["cnas"], "role": "funder"},
            {"institution_id": programme.ids["dsp"], "role": "supervisor"}]},
    })
    assert r.status_code == 201 and r.json()["number"] == 2

    events = await programme.events("ConventionAmended", 2)
    first, second = sorted(events, key=lambda e: e["data"]["amendment_number"])
    assert first["data"]["changes"] == {"effective_until": "2025-12-31",
                                        "specialties": ["paediatric cardiac surgery", "interventional cardiology"]}
    assert first["data"]["summary"].startswith("Avenant n°1")
    assert {"institution_id": programme.ids["dsp"], "role": "supervisor"} in second["data"]["changes"]["parties"]

    current = (await client.get(f"/conventions/{cid}")).json()
    assert current["effective_until"] == "2025-12-31" and current["amendments"] == 2
    amendments = (await client.get(f"/conventions/{cid}/amendments")).json()
    assert [a["number"] for a in amendments] == [1, 2]
    assert amendments[0]["changes"]["effective_until"] == "2025-12-31"
    history = [h["action"] for h in (await client.get(f"/conventions/{cid}/history")).json()]
    assert history == ["drafted", "signed", "amended", "amended"]

    r = await client.post(f"/conventions/{cid}/amendments",
                          json={"signed_on": "2024-10-02", "changes": {"effective_until": "2024-01-01"}})
    assert r.status_code == 422 and "body.effective_until" in _field(r)
    await client.post(f"/conventions/{cid}/terminate", json={"on": "2024-11-30", "reason": "end"})
    r = await client.post(f"/conventions/{cid}/amendments",
                          json={"signed_on": "2024-12-02", "changes": {"title": "After the end"}})
    assert r.status_code == 409 and "terminated" in r.json()["detail"]


async def test_expiry_is_emitted_exactly_once(programme: Programme) -> None:
    signed = await programme.signed_convention(effective_until="2024-05-31")
    other = await programme.signed_convention(reference="LONG-RUNNING", effective_until="2030-01-01")
    runtime = programme.client.runtime

    def check_on(day: date) -> Any:  # the periodic check, its clock on that day
        clock = FixedClock(datetime.combine(day, datetime.min.time(), UTC).replace(hour=12))
        return handlers.expire_conventions(ExpireConventions(), runtime.unit_of_work(), clock=clock)

    assert await check_on(date(2024, 5, 31)) == []
    # Two replicas checking at once, then the periodic job again (as after a restart).
    results = await asyncio.gather(*(check_on(date(2024, 6, 1)) for _ in range(2)))
    assert sorted(len(r) for r in results) == [0, 1]
    assert await check_on(date(2024, 6, 2)) == []
    (expired,) = await programme.events("ConventionExpired", 1)
    assert expired["data"] == {"convention_id": signed["id"], "on": "2024-05-31", "reason": ""}
    await programme.everything_published()
    assert len(programme.tap.of_type("ConventionExpired")) == 1
    assert (await programme.client.get(f"/conventions/{signed['id']}")).json()["status"] == "expired"
    assert (await programme.client.get(f"/conventions/{other['id']}")).json()["status"] == "signed"


async def test_the_periodic_check_expires_without_being_asked(
    amqp_url: str, namespace: str, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = 0
    original = handlers.expire_conventions

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal checks
        found = await original(*args, **kwargs)
        checks += 1
        return found

    monkeypatch.setattr(handlers, "expire_conventions", counted)
    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"), expiry_check_interval=0.1)
    clock = FixedClock(NOW, "Africa/Algiers")
    async with event_tap(amqp_url, f"{namespace}jumelage.events") as tap:
        async with running(convention.app.create_app(settings, clock), convention.app.MIGRATIONS) as client:
            p = Programme(client, tap, clock)
            for key, kind in (("cnas", "insurer"), ("gsd", "hospital_group"), ("cmci", "clinic")):
                await p.institution(key, f"Institution {key}", kind, "DZ", "Alger")
            client.auth.set("coordinator", institution=p.ids["gsd"])
            signed = await p.signed_convention(effective_until="2024-05-21")
            clock.advance(days=2)
            (expired,) = await p.events("ConventionExpired", 1)
            assert expired["data"]["convention_id"] == signed["id"]
        # A restart with the same database: the check runs again and finds nothing to do.
        async with running(convention.app.create_app(settings, clock), convention.app.MIGRATIONS) as client:
            before_restart = checks
            await eventually(lambda: checks > before_restart)  # a whole check ran after the restart
            await Programme(client, tap, clock).everything_published()
        assert len(tap.of_type("ConventionExpired")) == 1


async def test_queries_filter_and_paginate(programme: Programme) -> None:
    client, ids = programme.client, programme.ids
    # CNAS's coordinator: CNAS funds both programmes, so both are in its lists.
    client.auth.set("coordinator", institution=ids["cnas"])
    cnas = await programme.signed_convention()
    twinning = {
        "reference": "DSP-ORAN-TIARET-2024", "title": "Jumelage CHU Oran – EPH Tiaret", "kind": "twinning",
        "parties": [{"institution_id": ids["chu"], "role": "provider"},
                    {"institution_id": ids["tiaret"], "role": "beneficiary"},
                    {"institution_id": ids["dsp"], "role": "supervisor"},
                    {"institution_id": ids["cnas"], "role": "funder"}],
        "effective_from": "2024-01-01", "effective_until": "2024-12-31",
        "specialties": ["general surgery", "urology"], "objectives": {"surgeries": 50},
    }
    tiaret = (await client.post("/conventions", json=twinning)).json()

    async def refs(**params: Any) -> list[str]:
        r = await client.get("/conventions", params=params)
        assert r.status_code == 200, r.text
        return sorted(c["reference"] for c in r.json()["items"])

    assert await refs(status="draft") == ["DSP-ORAN-TIARET-2024"]
    assert await refs(status="signed") == ["CNAS-GSD-2024-01"]
    assert await refs(party=ids["cnas"]) == ["CNAS-GSD-2024-01", "DSP-ORAN-TIARET-2024"]
    assert await refs(specialty="Urology") == ["DSP-ORAN-TIARET-2024"]
    assert await refs(active_on="2024-06-01") == ["CNAS-GSD-2024-01"]
    assert await refs(active_on="2025-06-01") == []
    await client.post(f"/conventions/{tiaret['id']}/sign", json={"signed_on": "2024-01-05", "signed_at": "Oran"})
    assert await refs(active_on="2024-03-01") == ["DSP-ORAN-TIARET-2024"]
    assert await refs(active_on="2024-06-01") == ["CNAS-GSD-2024-01", "DSP-ORAN-TIARET-2024"]
    await client.post(f"/conventions/{cnas['id']}/suspend", json={"reason": "audit"})
    assert await refs(active_on="2024-06-01") == ["DSP-ORAN-TIARET-2024"]

    page = (await client.get("/conventions", params={"limit": 1, "offset": 1})).json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 1, 1)
    assert page["next"] is None, "the last page"
    # Keyset: the first page's next cursor leads to the same second page, newest first.
    first = (await client.get("/conventions", params={"limit": 1})).json()
    assert [c["reference"] for c in first["items"]] == ["CNAS-GSD-2024-01"] and first["next"]
    second = (await client.get("/conventions", params={"limit": 1, "cursor": first["next"]})).json()
    assert (second["items"], second["next"], second["total"]) == (page["items"], None, 2)
    for params in ({"limit": 1, "offset": 1, "cursor": first["next"]}, {"cursor": "e30"}, {"cursor": "no!"}):
        r = await client.get("/conventions", params=params)
        assert r.status_code == 422 and ["query", "cursor"] in [e["loc"] for e in r.json()["detail"]], r.text
    r = await client.get("/conventions", params={"status": "lost"})
    assert r.status_code == 422

    # Each institution's list holds its own conventions; asking for another's is refused, not emptied.
    r = await client.get("/conventions", params={"party": ids["cmci"]})
    assert r.status_code == 403 and ids["cmci"] in r.json()["detail"]
    with client.auth.acting("supervisor", institution=ids["dsp"]):
        assert await refs() == ["DSP-ORAN-TIARET-2024"]
        assert await refs(party=ids["dsp"]) == ["DSP-ORAN-TIARET-2024"]
    with client.auth.acting("coordinator", institution=ids["cmci"]):
        assert await refs() == ["CNAS-GSD-2024-01"]


async def test_progress_is_right_under_duplicates_and_disorder(programme: Programme, amqp_url: str,
                                                               namespace: str) -> None:
    from jumelage.events import (ConsultationHeld, MissionCompleted, SurgeryCompleted, TrainingPlacementCompleted,
                                 TrainingSessionHeld, new_envelope)

    cid = (await programme.signed_convention())["id"]

    def placement(kind: str, days: int, trainees: int) -> Any:
        # At the provider's hospital, outside any mission (issue 19).
        return TrainingPlacementCompleted(
            placement_id=uuid.uuid4(), convention_id=cid, kind=kind, specialty="paediatric cardiac surgery",
            provider_institution_id=uuid.uuid4(), beneficiary_institution_id=uuid.uuid4(),
            starts_on=date(2024, 9, 2), ends_on=date(2024, 10, 25), days_spent=days,
            trainees=[{"practitioner_id": uuid.uuid4(), "full_name": f"Trainee {i}"} for i in range(trainees)])

    mission = uuid.uuid4()
    at = datetime(2024, 5, 27, 14, tzinfo=UTC)

    def surgery(outcome: str, abroad: bool) -> Any:
        return SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                patient_ref=f"P-{uuid.uuid4().hex[:8]}", procedure="arterial switch",
                                completed_at=at, duration_minutes=240, outcome=outcome,
                                previously_referred_abroad=abroad)

    facts = [
        # The mission's completion arrives first: order must not matter.
        MissionCompleted(mission_id=mission, convention_id=cid,
                         totals={"surgeries": 3, "consultations": 1, "training_sessions": 2}),
        surgery("successful", True), surgery("with_complications", True), surgery("deceased", False),
        ConsultationHeld(consultation_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                         patient_ref="P-consult", specialty="paediatric cardiology", held_at=at),
        TrainingSessionHeld(training_session_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                            topic="Perfusion in neonates", held_at=at, hours=3.0, trainee_count=6),
        TrainingSessionHeld(training_session_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                            topic="Post-operative intensive care", held_at=at, hours=4.5, trainee_count=9),
        placement("fellowship", 40, 2), placement("observership", 10, 1),
    ]
    envelopes = [new_envelope(f, correlation_id="cnas-programme", causation_id=None) for f in facts]
    sent = envelopes + envelopes[1:3] + envelopes[-1:]  # two surgeries and a placement delivered twice
    with deliveries() as seen:
        conn = await aio_pika.connect(amqp_url)
        try:
            await publish(await conn.channel(), namespace, sent)
        finally:
            await conn.close()
        # Every copy, the duplicates too, has been delivered and settled.
        expected = {str(e.id): sent.count(e) for e in envelopes}
        await eventually(lambda: seen.all_finished(expected))
    progress = (await programme.client.get(f"/conventions/{cid}/progress")).json()
    assert progress["surgeries"] == {"done": 3, "target": 100, "percent": 3.0}
    assert progress["consultations"] == {"done": 1, "target": 300, "percent": 0.3}
    assert progress["training_sessions"] == {"done": 2, "target": 20, "percent": 10.0}
    assert progress["surgery_outcomes"] == {"successful": 1, "with_complications": 1, "deceased": 1}
    assert progress["treated_locally_instead_of_abroad"] == 2
    assert progress["training_hours"] == 7.5 and progress["trainees"] == 15
    assert progress["missions_completed"] == 1
    assert progress["reported_by_missions"] == {"surgeries": 3, "consultations": 1, "training_sessions": 2}
    # Placements beside the sessions: counted once each, with their days and trainees.
    assert (progress["training_placements"], progress["training_placement_days"],
            progress["training_placement_trainees"]) == (2, 50, 3)
    assert progress["training_placements_by_kind"] == {"observership": 1, "fellowship": 1}
    assert (await programme.client.get(f"/conventions/{uuid.uuid4()}/progress")).status_code == 404


async def test_institution_corrections_are_published(programme: Programme) -> None:
    client, ids = programme.client, programme.ids
    client.auth.set("administrator")
    r = await client.patch(f"/institutions/{ids['cmci']}", json={"wilaya": "Tipaza", "city": "Bou Ismaïl"})
    assert r.status_code == 200 and r.json()["wilaya"] == "Tipaza"
    (updated,) = await programme.events("InstitutionUpdated", 1)
    assert updated["data"]["institution_id"] == ids["cmci"]
    assert updated["data"]["city"] == "Bou Ismaïl" and updated["data"]["wilaya"] == "Tipaza"
    r = await client.patch(f"/institutions/{ids['cmci']}", json={"name": "CHU Oran", "city": "oran"})
    assert r.status_code == 409 and "CHU Oran" in r.json()["detail"]
    r = await client.patch(f"/institutions/{ids['cmci']}", json={"country": "Algeria"})
    assert r.status_code == 422
    r = await client.patch(f"/institutions/{uuid.uuid4()}", json={"city": "Blida"})
    assert r.status_code == 404


async def test_a_request_sent_again_with_its_idempotency_key_has_one_effect(programme: Programme) -> None:
    """A double click on "draft" and a retried "sign": one convention, one ConventionSigned,
    the first answers again; the key on another body is a 422; once expired it is new."""
    client = programme.client
    body = programme.cnas_convention()
    drafts = [await client.post("/conventions", json=body, headers={"Idempotency-Key": "draft-cnas"})
              for _ in range(2)]
    assert [r.status_code for r in drafts] == [201, 201], drafts[1].text
    assert drafts[1].content == drafts[0].content and drafts[1].headers["idempotent-replayed"] == "true"
    assert (await client.post("/conventions", json=body)).status_code == 409  # without a key: a second draft
    assert (await client.get("/conventions")).json()["total"] == 1

    cid = drafts[0].json()["id"]
    sign = {"signed_on": "2024-05-20", "signed_at": "Alger"}
    signs = await asyncio.gather(*(client.post(f"/conventions/{cid}/sign", json=sign,
                                               headers={"Idempotency-Key": "sign-cnas"}) for _ in range(3)))
    assert sorted(r.status_code for r in signs) in ([200, 200, 200], [200, 200, 409], [200, 409, 409])
    replay = await client.post(f"/conventions/{cid}/sign", json=sign, headers={"Idempotency-Key": "sign-cnas"})
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == next(r for r in signs if r.status_code == 200).json()
    other = await client.post(f"/conventions/{cid}/sign", json={**sign, "signed_at": "Oran"},
                              headers={"Idempotency-Key": "sign-cnas"})
    assert other.status_code == 422 and other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    await programme.events("ConventionSigned", 1)
    async with client.runtime.sessions() as s:  # type: ignore[attr-defined]
        signed = (await s.execute(select(OutboxRecord).where(OutboxRecord.event_type == "ConventionSigned"))).all()
    assert len(signed) == 1
    with client.auth.acting("administrator"):
        audit = (await client.get("/audit", params={"limit": 500})).json()["items"]
    assert [a["action"] for a in audit].count("POST /conventions/{convention_id}/sign") == 1
    assert [a["action"] for a in audit].count("POST /conventions") == 1

    programme.clock.advance(hours=24)  # IDEMPOTENCY_KEY_HOURS: the key is new, the domain answers
    anew = await client.post(f"/conventions/{cid}/sign", json=sign, headers={"Idempotency-Key": "sign-cnas"})
    assert anew.status_code == 409 and "idempotent-replayed" not in anew.headers
    assert "cannot sign convention CNAS-GSD-2024-01: it is signed" in anew.json()["detail"]


def test_every_changing_route_takes_an_idempotency_key_and_no_other() -> None:
    spec = convention.app.create_app(convention.app.Settings()).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
            keyed = [p for p in headers if p["name"] == "Idempotency-Key" and not p["required"]]
            assert len(keyed) == (method.upper() in {"POST", "PUT", "PATCH", "DELETE"}), (method, path)


# -- progress over time ------------------------------------------------------------


async def test_progress_periods_by_month_in_the_programmes_time_zone(programme: Programme, amqp_url: str,
                                                                     namespace: str) -> None:
    from jumelage.events import ConsultationHeld, SurgeryCompleted, TrainingSessionHeld

    ids = programme.ids
    cid = (await programme.signed_convention())["id"]
    mission = uuid.uuid4()

    def surgery(at: datetime, abroad: bool) -> Any:
        return SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                patient_ref=f"P-{uuid.uuid4().hex[:8]}", procedure="arterial switch",
                                completed_at=at, duration_minutes=240, outcome="successful",
                                previously_referred_abroad=abroad)

    facts = [
        surgery(datetime(2024, 5, 27, 10, tzinfo=UTC), True),
        surgery(datetime(2024, 5, 31, 23, 30, tzinfo=UTC), True),  # 00:30 on 1 June in Algiers
        surgery(datetime(2024, 7, 2, 9, tzinfo=UTC), False),
        ConsultationHeld(consultation_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                         patient_ref="P-consult", specialty="paediatric cardiology",
                         held_at=datetime(2024, 5, 28, 9, tzinfo=UTC)),
        TrainingSessionHeld(training_session_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                            topic="Perfusion in neonates", held_at=datetime(2024, 7, 3, 15, tzinfo=UTC),
                            hours=3.0, trainee_count=6),
    ]
    await _deliver(amqp_url, namespace, facts)

    r = await programme.client.get(f"/conventions/{cid}/progress/periods", params={"by": "month"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["by"] == "month" and body["timezone"] == "Africa/Algiers" and body["convention_id"] == cid
    periods = {p["period"]: p for p in body["periods"]}
    assert list(periods) == ["2024-05", "2024-06", "2024-07"]
    assert {k: periods["2024-05"][k] for k in ("surgeries", "consultations", "training_sessions",
                                               "treated_locally_instead_of_abroad")} == \
        {"surgeries": 1, "consultations": 1, "training_sessions": 0, "treated_locally_instead_of_abroad": 1}
    assert periods["2024-06"]["surgeries"] == 1 and periods["2024-06"]["treated_locally_instead_of_abroad"] == 1
    assert periods["2024-07"]["cumulative"] == {"surgeries": 3, "consultations": 1, "training_sessions": 1,
                                                "treated_locally_instead_of_abroad": 2}
    # Without ``by``: by month. Another length of period is a 422 naming ``by``.
    assert (await programme.client.get(f"/conventions/{cid}/progress/periods")).json() == body
    bad = await programme.client.get(f"/conventions/{cid}/progress/periods", params={"by": "fortnight"})
    assert bad.status_code == 422 and "by" in bad.text
    # The same access as /progress: the convention's funder reads it, another institution's does not.
    with programme.client.auth.acting("funder", institution=ids["cnas"]):
        assert (await programme.client.get(f"/conventions/{cid}/progress/periods")).status_code == 200
    with programme.client.auth.acting("funder", institution=ids["chu"]):
        assert (await programme.client.get(f"/conventions/{cid}/progress/periods")).status_code == 403
    assert (await programme.client.get(f"/conventions/{uuid.uuid4()}/progress/periods")).status_code == 404


COSTS = [  # the press: about EUR 30,000 abroad against DZD 150,000-400,000 here for a child's heart surgery
    {"specialty": "Paediatric cardiac surgery", "procedure": "arterial switch",
     "abroad": {"amount": "42000.00", "currency": "EUR"}, "here": {"amount": "400000", "currency": "DZD"}},
    {"specialty": "paediatric cardiac surgery",
     "abroad": {"amount": "30000", "currency": "EUR"}, "here": {"amount": "150000", "currency": "DZD"}},
]


async def test_money_not_spent_abroad_goes_by_the_reference_costs_per_procedure_and_period(
    programme: Programme, amqp_url: str, namespace: str
) -> None:
    from jumelage.events import SurgeryCompleted

    client = programme.client
    signed = await programme.signed_convention(reference_costs=COSTS, specialties=["paediatric cardiac surgery",
                                                                                   "paediatric cardiology"])
    cid = signed["id"]
    assert [c["specialty"] for c in signed["reference_costs"]] == ["paediatric cardiac surgery"] * 2, \
        "each line spelt as the convention spells its specialty"
    (event,) = await programme.events("ConventionSigned", 1)
    assert event["data"]["reference_costs"][0]["abroad"] == {"amount": "42000.00", "currency": "EUR"}
    mission = uuid.uuid4()

    def surgery(procedure: str, abroad: bool, at: datetime, specialty: str | None) -> Any:
        return SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid,
                                patient_ref=f"P-{uuid.uuid4().hex[:8]}", procedure=procedure, completed_at=at,
                                duration_minutes=240, outcome="successful", previously_referred_abroad=abroad,
                                specialty=specialty)

    may, june = datetime(2024, 5, 27, 10, tzinfo=UTC), datetime(2024, 6, 3, 10, tzinfo=UTC)
    facts = [
        surgery("Arterial  Switch", True, may, "paediatric cardiac surgery"),   # its procedure's line
        surgery("VSD closure", True, may, "paediatric cardiac surgery"),        # the specialty's line
        surgery("VSD closure", False, may, "paediatric cardiac surgery"),       # not referred abroad: not counted
        surgery("Fontan", True, june, None),  # no specialty, and the convention has two: uncosted
    ]
    await _deliver(amqp_url, namespace, facts)

    money = (await client.get(f"/conventions/{cid}/progress")).json()["money_not_spent_abroad"]
    assert (money["cases"], money["costed"], money["uncosted"]) == (3, 2, 1)
    assert money["abroad"] == [{"currency": "EUR", "amount": "72000.00"}]
    assert money["here"] == [{"currency": "DZD", "amount": "550000"}]
    assert "no exchange rate" in money["counting_rule"]
    periods = (await client.get(f"/conventions/{cid}/progress/periods")).json()["periods"]
    assert [(p["period"], p["money_not_spent_abroad"]["abroad"]) for p in periods] == [
        ("2024-05", [{"currency": "EUR", "amount": "72000.00"}]), ("2024-06", [])]
    assert periods[1]["money_not_spent_abroad"]["uncosted"] == 1

    # An amendment that changes the costs applies from its effective date (absent: the day it was
    # signed): the May surgeries keep the lines in force on their day.
    r = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-06-10", "summary": "costs of 2024", "changes": {"reference_costs": [
            {"specialty": "paediatric cardiac surgery",
             "abroad": {"amount": "35000", "currency": "EUR"}, "here": {"amount": "200000", "currency": "DZD"}}]}})
    assert r.status_code == 201, r.text
    assert r.json()["effective_from"] == "2024-06-10"
    (amended,) = await programme.events("ConventionAmended", 1)
    assert amended["data"]["changes"]["reference_costs"][0]["abroad"]["amount"] == "35000"
    assert amended["data"].get("effective_from") is None
    money = (await client.get(f"/conventions/{cid}/progress")).json()["money_not_spent_abroad"]
    assert money["abroad"] == [{"currency": "EUR", "amount": "72000.00"}]
    assert "in force on the day of the surgery" in money["counting_rule"]

    # Another, back-dated to the period's first day: the May surgeries are valued at its lines.
    outside = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-06-12", "effective_from": "2024-01-01", "changes": {"reference_costs": [
            {"specialty": "paediatric cardiac surgery",
             "abroad": {"amount": "33000", "currency": "EUR"}, "here": {"amount": "180000", "currency": "DZD"}}]}})
    assert outside.status_code == 422 and "effective_from" in outside.text
    r = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-06-12", "effective_from": "2024-05-20", "summary": "costs from the start",
        "changes": {"reference_costs": [
            {"specialty": "paediatric cardiac surgery",
             "abroad": {"amount": "33000", "currency": "EUR"}, "here": {"amount": "180000", "currency": "DZD"}}]}})
    assert r.status_code == 201, r.text
    (_, second) = await programme.events("ConventionAmended", 2)
    assert second["data"]["effective_from"] == "2024-05-20"
    money = (await client.get(f"/conventions/{cid}/progress")).json()["money_not_spent_abroad"]
    assert (money["abroad"], money["here"]) == ([{"currency": "EUR", "amount": "66000"}],
                                                [{"currency": "DZD", "amount": "360000"}])
    periods = (await client.get(f"/conventions/{cid}/progress/periods")).json()["periods"]
    assert periods[0]["money_not_spent_abroad"]["abroad"] == [{"currency": "EUR", "amount": "66000"}]


@pytest.mark.parametrize(("line", "field", "words"), [
    ({"specialty": "urology", "abroad": {"amount": "1", "currency": "EUR"}, "here": {"amount": "1", "currency": "DZD"}},
     "specialty", "not one of the convention's specialties"),
    ({"specialty": "paediatric cardiac surgery", "abroad": {"amount": "-1", "currency": "EUR"},
      "here": {"amount": "1", "currency": "DZD"}}, "amount", "pattern"),
    ({"specialty": "paediatric cardiac surgery", "abroad": {"amount": "1", "currency": "eur"},
      "here": {"amount": "1", "currency": "DZD"}}, "currency", "pattern"),
])
async def test_a_wrong_reference_cost_is_refused_naming_its_field(programme: Programme, line: dict[str, Any],
                                                                  field: str, words: str) -> None:
    r = await programme.client.post("/conventions", json=programme.cnas_convention(reference_costs=[line]))
    assert r.status_code in (400, 422), r.text
    assert "reference_costs" in r.text and field in r.text and words in r.text, r.text


async def test_two_lines_for_one_procedure_are_refused(programme: Programme) -> None:
    r = await programme.client.post("/conventions", json=programme.cnas_convention(
        reference_costs=[COSTS[0], {**COSTS[0], "procedure": "ARTERIAL switch "}]))
    assert r.status_code == 422 and "two reference costs for procedure" in r.text, r.text


async def _deliver(amqp_url: str, namespace: str, facts: list[Any], *, twice: int = 0) -> None:
    """Publish the facts on the exchange (the first ``twice`` of them twice over) and wait until
    every copy has been handled."""
    from jumelage.events import new_envelope

    envelopes = [new_envelope(f, correlation_id="cnas-programme", causation_id=None) for f in facts]
    sent = envelopes + envelopes[:twice]
    with deliveries() as seen:
        conn = await aio_pika.connect(amqp_url)
        try:
            await publish(await conn.channel(), namespace, sent)
        finally:
            await conn.close()
        counts: dict[str, int] = {}
        for e in sent:
            counts[str(e.id)] = counts.get(str(e.id), 0) + 1
        await eventually(lambda: seen.all_finished(counts))


LOCAL_SURGEON, LOCAL_RESIDENT = "8b2c3d4e-5f60-4a7b-9c8d-0e1f2a3b4c5d", "9c3d4e5f-6071-4b8c-8d9e-1f2a3b4c5d6e"


async def test_the_local_teams_autonomy_per_risk_category_and_period_and_each_practitioners_steps(
    programme: Programme, amqp_url: str, namespace: str
) -> None:
    from jumelage.events import SurgeryCompleted

    client, ids = programme.client, programme.ids
    cid = (await programme.signed_convention())["id"]
    mission = uuid.uuid4()

    def surgery(at: datetime, lead: str | None, risk: tuple[str, int | None] | None, roles: list[tuple[str, str]],
                outcome: str = "successful") -> Any:
        return SurgeryCompleted(
            surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid, patient_ref=f"P-{uuid.uuid4().hex[:8]}",
            procedure="arterial switch", completed_at=at, duration_minutes=240, outcome=outcome,
            previously_referred_abroad=True, lead_side=lead,
            risk_scheme=risk[0] if risk else None, risk_category=risk[1] if risk else None,
            local_roles=[{"practitioner_ref": ref, "role": role, "full_name": name}
                         for ref, role, name in ((r, ro, {LOCAL_SURGEON: "Karim Haddad",
                                                          LOCAL_RESIDENT: "Nadia Saidi"}[r]) for r, ro in roles)])

    may, june, july = (datetime(2024, 5, 27, 10, tzinfo=UTC), datetime(2024, 6, 3, 10, tzinfo=UTC),
                       datetime(2024, 7, 8, 10, tzinfo=UTC))
    facts = [
        surgery(may, "visiting", ("RACHS-1", 3), [(LOCAL_SURGEON, "observer"), (LOCAL_RESIDENT, "observer")]),
        surgery(may, "visiting", ("RACHS-1", 2), [(LOCAL_SURGEON, "assistant")]),
        surgery(june, "local", ("RACHS-1", 2), [(LOCAL_SURGEON, "primary_under_supervision"),
                                                (LOCAL_RESIDENT, "assistant")]),
        surgery(july, "local", ("RACHS-1", 2), [(LOCAL_SURGEON, "independent")], outcome="deceased"),
        surgery(july, "visiting", ("STAT", 4), []),
        surgery(july, None, None, []),  # from before the contract carried who led it: unknown risk, not local
    ]
    await _deliver(amqp_url, namespace, facts, twice=3)  # three of them reported twice: counted once

    r = await client.get(f"/conventions/{cid}/progress/autonomy")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["surgeries"], body["led_locally"], body["share_led_locally"]) == (6, 2, 33.3)
    assert body["timezone"] == "Africa/Algiers" and "home institution" in body["counting_rule"]
    assert [(b["risk_scheme"], b["risk_category"], b["surgeries"], b["led_locally"], b["share_led_locally"])
            for b in body["by_risk"]] == [
        ("STAT", 4, 1, 0, 0.0), ("RACHS-1", 2, 3, 2, 66.7), ("RACHS-1", 3, 1, 0, 0.0), ("unknown", None, 1, 0, 0.0)]
    assert [(p["period"], p["surgeries"], p["led_locally"]) for p in body["periods"]] == [
        ("2024-05", 2, 0), ("2024-06", 1, 1), ("2024-07", 3, 1)]
    assert [(b["risk_scheme"], b["risk_category"], b["led_locally"]) for b in body["periods"][2]["by_risk"]] == [
        ("STAT", 4, 0), ("RACHS-1", 2, 1), ("unknown", None, 0)]
    surgeon, resident = body["practitioners"]
    assert (surgeon["practitioner_ref"], surgeon["full_name"], surgeon["highest_role"], surgeon["reached_at"]) == (
        LOCAL_SURGEON, "Karim Haddad", "independent", "2024-07-08T10:00:00Z")
    assert [(s["role"], s["first_at"], s["surgeries"]) for s in surgeon["steps"]] == [
        ("observer", "2024-05-27T10:00:00Z", 1), ("assistant", "2024-05-27T10:00:00Z", 1),
        ("primary_under_supervision", "2024-06-03T10:00:00Z", 1), ("independent", "2024-07-08T10:00:00Z", 1)]
    assert (resident["full_name"], resident["highest_role"], [s["role"] for s in resident["steps"]]) == (
        "Nadia Saidi", "assistant", ["observer", "assistant"])

    quarters = (await client.get(f"/conventions/{cid}/progress/autonomy", params={"by": "quarter"})).json()
    assert [(p["period"], p["surgeries"], p["led_locally"]) for p in quarters["periods"]] == [
        ("2024-Q2", 3, 1), ("2024-Q3", 3, 1)]
    bad = await client.get(f"/conventions/{cid}/progress/autonomy", params={"by": "fortnight"})
    assert bad.status_code == 422 and "by" in bad.text
    # The same access as /progress: the convention's funder reads it, another institution's does not.
    with client.auth.acting("funder", institution=ids["cnas"]):
        assert (await client.get(f"/conventions/{cid}/progress/autonomy")).status_code == 200
    with client.auth.acting("funder", institution=ids["chu"]):
        assert (await client.get(f"/conventions/{cid}/progress/autonomy")).status_code == 403
    assert (await client.get(f"/conventions/{uuid.uuid4()}/progress/autonomy")).status_code == 404


async def test_thirty_day_outcomes_per_risk_category_and_the_share_followed_up(
    programme: Programme, amqp_url: str, namespace: str
) -> None:
    from jumelage.events import SurgeryCompleted, SurgeryFollowedUp

    client, ids = programme.client, programme.ids
    cid = (await programme.signed_convention())["id"]
    mission = uuid.uuid4()
    at = datetime(2024, 5, 27, 10, tzinfo=UTC)
    operated = [(uuid.uuid4(), risk, outcome) for risk, outcome in [
        (("RACHS-1", 2), "successful"), (("RACHS-1", 2), "successful"), (("RACHS-1", 2), "with_complications"),
        (("RACHS-1", 2), "successful"), (("RACHS-1", 4), "deceased"), (("STAT", 3), "successful")]]
    completions = [SurgeryCompleted(surgery_id=sid, mission_id=mission, convention_id=cid, patient_ref=f"P-{n}",
                                    procedure="arterial switch", completed_at=at, duration_minutes=240,
                                    outcome=outcome, previously_referred_abroad=False, risk_scheme=risk[0],
                                    risk_category=risk[1]) for n, (sid, risk, outcome) in enumerate(operated)]

    def follow_up(n: int, outcome: str) -> Any:
        sid, risk, _ = operated[n]
        return SurgeryFollowedUp(surgery_id=sid, mission_id=mission, convention_id=cid, outcome=outcome,
                                 completed_at=at, followed_up_on=date(2024, 6, 26), days_after_surgery=30,
                                 risk_scheme=risk[0], risk_category=risk[1])

    # A follow-up may arrive before its surgery's completion: each counts in its own tally.
    follow_ups = [follow_up(0, "alive"), follow_up(1, "readmitted"), follow_up(2, "deceased"),
                  follow_up(3, "lost_to_follow_up")]
    await _deliver(amqp_url, namespace, follow_ups[:1] + completions + follow_ups[1:], twice=2)

    r = await client.get(f"/conventions/{cid}/progress/outcomes")
    assert r.status_code == 200, r.text
    body = r.json()
    assert "lost to follow-up" in body["counting_rule"]
    rachs2, rachs4, stat3 = sorted(body["by_risk"], key=lambda b: (b["risk_scheme"], b["risk_category"]))
    assert [(b["risk_scheme"], b["risk_category"]) for b in body["by_risk"]] == [
        ("STAT", 3), ("RACHS-1", 2), ("RACHS-1", 4)]
    assert (rachs2["operated"], rachs2["followed_up"], rachs2["followed_up_share"]) == (4, 4, 100.0)
    assert rachs2["outcomes"] == {"alive": 1, "readmitted": 1, "reoperated": 0, "surgical_site_infection": 0,
                                  "deceased": 1, "lost_to_follow_up": 1}
    # Over the three followed up with a known outcome: one death, one complication.
    assert (rachs2["deaths_within_30_days"], rachs2["mortality_30_days"]) == (1, 33.3)
    assert (rachs2["complications"], rachs2["complication_rate"]) == (1, 33.3)
    # A death at surgery is a death within 30 days, and followed up.
    assert (rachs4["operated"], rachs4["died_at_surgery"], rachs4["followed_up"], rachs4["mortality_30_days"]) == (
        1, 1, 1, 100.0)
    assert (stat3["operated"], stat3["followed_up"], stat3["followed_up_share"], stat3["mortality_30_days"]) == (
        1, 0, 0.0, None)
    total = body["total"]
    assert (total["risk_scheme"], total["operated"], total["followed_up"], total["followed_up_share"],
            total["deaths_within_30_days"], total["mortality_30_days"]) == ("all", 6, 5, 83.3, 2, 50.0)

    with client.auth.acting("supervisor", institution=ids["dsp"]):
        assert (await client.get(f"/conventions/{cid}/progress/outcomes")).status_code == 403
    with client.auth.acting("funder", institution=ids["cnas"]):
        assert (await client.get(f"/conventions/{cid}/progress/outcomes")).status_code == 200
    assert (await client.get(f"/conventions/{uuid.uuid4()}/progress/outcomes")).status_code == 404


# -- objectives per year, progress by quarter and year, the list's progress (issues 21, 23) --------


async def test_objectives_per_year_are_bounded_carried_and_shown_by_year(programme: Programme, amqp_url: str,
                                                                         namespace: str) -> None:
    from jumelage.events import SurgeryCompleted, new_envelope

    client = programme.client
    years = [{"year": 2025, "surgeries": 60, "consultations": 10, "training_sessions": 2},
             {"year": 2024, "surgeries": 40}]
    # Bounded: within the convention's years (2024-2025), once each, non-negative, at most 100,000.
    for bad, where in (([{"year": 2026, "surgeries": 1}], "yearly_objectives.0.year"),
                       ([{"year": 2024}, {"year": 2024}], "yearly_objectives.1.year"),
                       ([{"year": 2024, "surgeries": -1}], "yearly_objectives.0.surgeries"),
                       ([{"year": 2024, "surgeries": 100_001}], "yearly_objectives.0.surgeries"),
                       ([{"year": 2024, "beds": 3}], "yearly_objectives.0.beds"),
                       ([{"year": 2024 + i} for i in range(32)], "yearly_objectives")):
        r = await client.post("/conventions", json=programme.cnas_convention(yearly_objectives=bad))
        assert r.status_code == 422 and where in located(r), (where, r.text)
    signed = await programme.signed_convention(yearly_objectives=years)
    cid = signed["id"]
    assert [y["year"] for y in signed["yearly_objectives"]] == [2024, 2025]  # oldest first
    assert signed["yearly_objectives"][0] == {"year": 2024, "surgeries": 40, "consultations": 0,
                                              "training_sessions": 0}
    (event,) = await programme.events("ConventionSigned", 1)
    assert event["data"]["yearly_objectives"] == signed["yearly_objectives"]

    # An amendment sets them anew (the whole list), carried by ConventionAmended in changes.
    r = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-09-01", "summary": "Avenant n°1",
        "changes": {"yearly_objectives": [{"year": 2024, "surgeries": 2}, {"year": 2025, "surgeries": 70}]}})
    assert r.status_code == 201, r.text
    (amended,) = await programme.events("ConventionAmended", 1)
    assert amended["data"]["changes"]["yearly_objectives"][1] == {"year": 2025, "surgeries": 70, "consultations": 0,
                                                                  "training_sessions": 0}
    r = await client.post(f"/conventions/{cid}/amendments", json={
        "signed_on": "2024-09-02", "changes": {"yearly_objectives": [{"year": 2023, "surgeries": 2}]}})
    assert r.status_code == 422 and "yearly_objectives.0.year" in located(r), r.text

    mission = uuid.uuid4()
    facts = [SurgeryCompleted(surgery_id=uuid.uuid4(), mission_id=mission, convention_id=cid, patient_ref="P-1",
                              procedure="arterial switch", completed_at=at, duration_minutes=240,
                              outcome="successful", previously_referred_abroad=False)
             for at in (datetime(2024, 5, 27, 10, tzinfo=UTC), datetime(2024, 8, 1, 10, tzinfo=UTC),
                        datetime(2024, 12, 31, 23, 30, tzinfo=UTC))]  # 00:30 on 1 January 2025 in Algiers
    envelopes = [new_envelope(f, correlation_id="cnas-programme", causation_id=None) for f in facts]
    with deliveries() as seen:
        conn = await aio_pika.connect(amqp_url)
        try:
            ex = await (await conn.channel()).get_exchange(f"{namespace}jumelage.events")
            for envelope in envelopes:
                await ex.publish(aio_pika.Message(envelope.to_json().encode(),
                                                  delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                 routing_key=envelope.routing_key)
        finally:
            await conn.close()
        await eventually(lambda: seen.all_finished({str(e.id): 1 for e in envelopes}))

    by_year = (await client.get(f"/conventions/{cid}/progress/periods", params={"by": "year"})).json()
    assert by_year["by"] == "year"
    assert [(p["period"], p["surgeries"], p["objectives"]["surgeries"]) for p in by_year["periods"]] == [
        ("2024", 2, {"done": 2, "target": 2, "percent": 100.0}),
        ("2025", 1, {"done": 1, "target": 70, "percent": 1.4})]
    quarters = (await client.get(f"/conventions/{cid}/progress/periods", params={"by": "quarter"})).json()
    assert [(p["period"], p["surgeries"], p["cumulative"]["surgeries"], p["objectives"])
            for p in quarters["periods"]] == [("2024-Q2", 1, 1, None), ("2024-Q3", 1, 2, None),
                                              ("2025-Q1", 1, 3, None)]

    # The list shows each convention's progress against its objectives, from the counters.
    await programme.signed_convention(reference="CNAS-GSD-2024-02")
    page = (await client.get("/conventions")).json()
    listed = {c["reference"]: c["progress"] for c in page["items"]}
    assert listed["CNAS-GSD-2024-01"]["surgeries"] == {"done": 3, "target": 100, "percent": 3.0}
    assert listed["CNAS-GSD-2024-02"]["surgeries"] == {"done": 0, "target": 100, "percent": 0.0}

    # The report shows each year against its objectives (the CSV's yearly_objectives.csv).
    import io
    import zipfile
    r = await client.get(f"/conventions/{cid}/report.zip", params={"period": "2024"})
    assert r.status_code == 200, r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        name = next(n for n in z.namelist() if n.split("/")[-1].startswith("yearly_objectives"))
        lines = z.read(name).decode().splitlines()
    assert lines[0].startswith("year,surgeries_done,surgeries_target") and lines[1].startswith("2024,2,2,")


def located(r: httpx.Response) -> list[str]:
    """The fields a 422 names, dotted (``yearly_objectives.0.year``)."""
    return [".".join(str(p) for p in d["loc"] if p not in ("body", "changes")) for d in r.json()["detail"]]
