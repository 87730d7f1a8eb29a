"""Test kit of the scheduling service: the service in-process on the real broker (SQLite and PostgreSQL),
fed with the convention service's events as they would arrive, and a tap on
the exchange that sees what it publishes.

Every event the tap saw in a test is parsed with the contract's registry at
the end of the test: an event that does not match the contract fails it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest

import scheduling.app
from jumelage.clock import FixedClock
from jumelage.events import (
    CloudEvent,
    ConventionSigned,
    EventData,
    InstitutionRegistered,
    new_envelope,
    registry,
)
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import handled, outbox_drained, publish, running, service_settings
from jumelage.testkit.tap import EventTap, event_tap

NOW = datetime(2030, 6, 11, 9, 0, tzinfo=UTC)  # the second day of the reference mission
SIGNED_AT = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)

CMCI = uuid.UUID("a91c7e30-2b5d-4c6f-8e14-3f7b9d0c5a33")  # host (beneficiary)
GSD = uuid.UUID("5e2d9c4b-7a31-4f08-b6c2-1d9e0a3f4b22")  # visiting (provider)
CNAS = uuid.UUID("0b6f1a52-3c1e-4d7a-9a51-5f0c2e8b7d11")  # funder
TIARET = uuid.UUID("7f4e2a10-1c3b-4d5e-8f60-2a3b4c5d6e77")  # another hospital, party to nothing
CONVENTION = uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")

SURGEON = {"practitioner_id": "3c8e1f2a-5b6d-4e7f-a9b0-c1d2e3f4a577", "full_name": "Marco Bellini",
           "role": "surgeon"}
SURGEON_2 = {"practitioner_id": "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "full_name": "Paola Conti",
             "role": "surgeon"}
ANAESTHETIST = {"practitioner_id": "4d9f2a3b-6c7e-4f80-b1c2-d3e4f5a6b788", "full_name": "Giulia Ferraro",
                "role": "anaesthetist"}
PERFUSIONIST = {"practitioner_id": "5ea03b4c-7d8f-4091-82d3-e4f5a6b7c899", "full_name": "Luca Moretti",
                "role": "perfusionist"}
SPECIALTY = "Chirurgie cardiaque pédiatrique"

READY = ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged")  # the required items

PATIENT = {"full_name": "Yacine Benali", "date_of_birth": "2026-02-14", "sex": "male", "weight_kg": 9.4}


def signed(**over: Any) -> ConventionSigned:
    values: dict[str, Any] = dict(
        convention_id=CONVENTION, reference="CNAS-GSD-2030-01", title="Chirurgie cardiaque pédiatrique",
        parties=[{"institution_id": GSD, "role": "provider"}, {"institution_id": CMCI, "role": "beneficiary"},
                 {"institution_id": CNAS, "role": "funder"}],
        signed_on=date(2030, 1, 15), signed_at="Alger", effective_from=date(2030, 2, 1),
        effective_until=date(2031, 1, 31), specialties=[SPECIALTY, "Cardiologie pédiatrique"],
        objectives={"surgeries": 100, "consultations": 300, "training_sessions": 20},
    )
    values.update(over)
    return ConventionSigned(**values)


class Scheduling:
    """The service under test, driven like the outside world drives it."""

    def __init__(self, client: httpx.AsyncClient, tap: EventTap, clock: FixedClock, channel: Any,
                 namespace: str) -> None:
        self.client, self.tap, self.clock, self._channel, self.namespace = client, tap, clock, channel, namespace
        self.sent: list[CloudEvent[Any]] = []
        self.event_time = SIGNED_AT + timedelta(hours=1)  # the convention service's clock, after the signature

    # -- the convention service's side -------------------------------------------------

    async def publish(self, *items: EventData | CloudEvent[Any], time: datetime | None = None) -> list[CloudEvent[Any]]:
        """Publish events to the exchange as the convention service's relay would.

        Each gets ``time`` or else the next minute of the convention service's clock,
        so events published one after the other are also in time order."""
        envelopes = []
        for item in items:
            if not isinstance(item, CloudEvent):
                if time is None:
                    self.event_time += timedelta(minutes=1)
                item = new_envelope(item, correlation_id="programme-cnas-2030", causation_id=None,
                                    time=time or self.event_time)
            envelopes.append(item)
        await publish(self._channel, self.namespace, envelopes)
        self.sent += envelopes
        return envelopes

    async def deliver(self, *items: EventData | CloudEvent[Any], time: datetime | None = None) -> list[CloudEvent[Any]]:
        """Publish, then wait until the service has handled every one of them."""
        envelopes = await self.publish(*items, time=time)
        await handled(self.client.runtime, (e.id for e in envelopes))  # type: ignore[attr-defined]
        return envelopes

    async def programme(self) -> None:
        """The reference programme: the institutions and the signed convention."""
        registered = SIGNED_AT - timedelta(days=30)
        await self.deliver(*(new_envelope(data, correlation_id="programme-cnas-2030", causation_id=None, time=t)
                             for data, t in [
            (InstitutionRegistered(institution_id=CMCI, name="CMCI Bousmail", kind="clinic", country="DZ",
                                   city="Bou Ismail"), registered),
            (InstitutionRegistered(institution_id=GSD, name="Gruppo San Donato", kind="hospital_group",
                                   country="IT", city="Milano"), registered),
            (InstitutionRegistered(institution_id=TIARET, name="EPH Tiaret", kind="hospital", country="DZ",
                                   city="Tiaret"), registered),
            (signed(), SIGNED_AT),
        ]))

    # -- requests ----------------------------------------------------------------------

    async def ok(self, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        response = await self.client.request(method, url, **kw)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def refused(self, method: str, url: str, status: int, *needles: str, **kw: Any) -> Any:
        """The request fails with ``status`` and a detail mentioning every needle."""
        response = await self.client.request(method, url, **kw)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        detail = str(response.json()["detail"])
        for needle in needles:
            assert needle in detail, f"{needle!r} not in {detail!r}"
        return response.json()["detail"]

    def mission_body(self, **over: Any) -> dict[str, Any]:
        return {"convention_id": str(CONVENTION), "host_institution_id": str(CMCI),
                "visiting_institution_id": str(GSD), "specialty": SPECIALTY, "starts_on": "2030-06-10",
                "ends_on": "2030-06-14", "team": [SURGEON, ANAESTHETIST, PERFUSIONIST], **over}

    async def mission(self, **over: Any) -> dict[str, Any]:
        body = self.mission_body(**over)
        with self.client.auth.acting("coordinator", institution=body["host_institution_id"]):
            return await self.ok("POST", "/missions", 201, json=body)

    async def room(self, name: str = "Bloc B - salle 2", opens: str = "08:00", closes: str = "18:00",
                   host: uuid.UUID = CMCI) -> dict[str, Any]:
        with self.client.auth.acting("coordinator", institution=host):
            return await self.ok("POST", f"/institutions/{host}/operating-rooms", 201,
                                 json={"name": name, "opens_at": opens, "closes_at": closes})

    def case_body(self, **over: Any) -> dict[str, Any]:
        return {"patient": PATIENT, "diagnosis": "Tétralogie de Fallot", "planned_procedure":
                "Correction complète de tétralogie de Fallot", "priority": 2, "expected_duration_minutes": 240,
                "risk_scheme": "RACHS-1", "risk_category": 3, "referred_abroad": True, **over}

    async def case(self, host: uuid.UUID = CMCI, *, ready: bool = False, **over: Any) -> dict[str, Any]:
        """A case on the host's waiting list; ``ready``: its readiness checklist checked (the optimiser
        plans only ready cases)."""
        with self.client.auth.acting("clinician", institution=host):
            case = await self.ok("POST", f"/institutions/{host}/cases", 201, json=self.case_body(**over))
            if ready:
                await self.ready(case, host=host)
                case = await self.ok("GET", f"/cases/{case['id']}")
            return case

    async def ready(self, case: dict[str, Any], host: uuid.UUID = CMCI) -> dict[str, Any]:
        """Check every required item of the case's readiness checklist, as a clinician of the host."""
        with self.client.auth.acting("clinician", institution=host):
            for item in READY:
                readiness = await self.ok("PUT", f"/cases/{case['id']}/readiness/{item}")
        assert readiness["ready"] and readiness["missing"] == []
        return readiness

    async def surgery(self, mission: dict[str, Any], case: dict[str, Any], room: dict[str, Any],
                      start: str = "2030-06-11T08:00:00+01:00", surgeon: dict[str, Any] = SURGEON,
                      status: int = 201, **over: Any) -> Any:
        body = {"case_id": case["id"], "operating_room_id": room["id"], "scheduled_start": start,
                "lead_surgeon_id": surgeon["practitioner_id"], **over}
        if status == 201:
            return await self.ok("POST", f"/missions/{mission['id']}/surgeries", 201, json=body)
        return await self.client.post(f"/missions/{mission['id']}/surgeries", json=body)

    # -- what went out -----------------------------------------------------------------

    def events(self, event_type: str, **match: Any) -> list[dict[str, Any]]:
        """The ``data`` of each event of that type seen so far (matching the given fields)."""
        return [e["data"] for e in self.tap.of_type(event_type)
                if all(e["data"].get(k) == v for k, v in match.items())]

    async def wait(self, event_type: str, count: int = 1, **match: Any) -> list[dict[str, Any]]:
        await self.tap.wait_for(lambda _: len(self.events(event_type, **match)) >= count)
        return self.events(event_type, **match)

    async def settle(self) -> None:
        """Wait until the outbox is empty (so whatever was recorded is on the tap)."""
        total = await outbox_drained(self.client.runtime)  # type: ignore[attr-defined]
        await self.tap.wait_for(lambda bodies: sum(b["source"] == "/services/scheduling" for b in bodies) >= total)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW, timezone="Africa/Algiers")


@pytest.fixture
async def service(amqp_url: str, namespace: str, database: Database, clock: FixedClock) -> AsyncIterator[Scheduling]:
    settings = service_settings(scheduling.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("scheduling"))
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        async with event_tap(amqp_url, f"{namespace}jumelage.events") as tap:
            app = scheduling.app.create_app(settings, clock)
            # The host's coordinator, who is also one of its clinicians: the tests of
            # who may do what are in test_access.py.
            acting = ActingAs("coordinator", "clinician", institution=CMCI)
            async with running(app, scheduling.app.MIGRATIONS, acting_as=acting) as client:
                harness = Scheduling(client, tap, clock, channel, namespace)
                yield harness
                await harness.settle()
            _check_contract(tap, harness.sent)
    finally:
        await connection.close()


def _check_contract(tap: EventTap, sent: list[CloudEvent[Any]]) -> None:
    """Every event published in the test is a valid v1 event, on its routing key,
    from the service that owns its type."""
    ours = {str(e.id) for e in sent}
    for message in tap.messages:
        event = registry.parse(message.body)
        assert message.routing_key == event.routing_key
        assert message.message_id == str(event.id)
        if str(event.id) not in ours:
            assert event.source == "/services/scheduling", event.type


@pytest.fixture
async def programme(service: Scheduling) -> Scheduling:
    await service.programme()
    return service
