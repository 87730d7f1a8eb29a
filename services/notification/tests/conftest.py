"""Fixtures of the notification service's tests: a real SMTP server (aiosmtpd) and a
real HTTP server (the SMS gateway and the webhook receivers) on loopback ports,
the service in-process over the real broker, and a coherent programme of events
(a convention, its mission, a surgery) to publish to it."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import aio_pika
import pytest

import notification.app
from jumelage.clock import Clock
from jumelage.events import (
    CloudEvent, ConventionSigned, InstitutionRegistered, MissionCancelled, MissionCompleted, MissionRescheduled,
    MissionScheduled, SurgeryCancelled, SurgeryCompleted, SurgeryRescheduled, SurgeryScheduled, new_envelope, registry,
)
from jumelage.testkit.client import ActingAs
from jumelage.testkit.mail import MailCatcher
from jumelage.testkit.servers import Database
from jumelage.testkit.services import handled as inbox_has
from jumelage.testkit.services import publish as publish_events
from jumelage.testkit.services import running, service_settings
from jumelage.testkit.tap import EventTap, event_tap
from jumelage.testkit.waiting import eventually, scaled

CORRELATION = "programme-cnas-2031"

KEEPER = uuid.UUID("9d3f5e1a-6b2c-4e8d-a7f0-1c2b3d4e5f60")  # the institution keeping test contacts


@pytest.fixture
def smtp_server() -> Iterator[MailCatcher]:
    inbox = MailCatcher()
    inbox.start()
    try:
        yield inbox
    finally:
        inbox.stop()


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None, "the email has an HTML part"
    return part.get_content()


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has a plain-text part"
    return part.get_content()


# -- HTTP: the SMS gateway and webhook receivers ------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    """A tiny HTTP/1.1 server: records each request and answers with the next scripted
    status for its path (200 once the script is spent; 0: hangs up without answering)."""

    requests: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(method, path, headers, body))
                script = self.script.get(path) or []
                status = script.pop(0) if script else 200
                if status == 0:  # received, and no answer: as a gateway that fell over after reading it
                    break
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def http_sink() -> AsyncIterator[HttpSink]:
    sink = HttpSink()
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


# -- the programme: coherent events ------------------------------------------------------------


class Programme:
    """CNAS funds a convention with San Donato (provider) and CMCI Bousmail
    (beneficiary), supervised by the ministry; a cardiac surgery mission at CMCI
    with a surgeon and an anaesthetist; one child's surgery."""

    def __init__(self, mission_starts: date = date(2031, 5, 26),
                 surgery_start: datetime = datetime(2031, 5, 27, 7, 30, tzinfo=UTC)) -> None:
        self.cnas, self.san_donato, self.cmci, self.ministry = (uuid.uuid4() for _ in range(4))
        self.convention_id, self.mission_id, self.surgery_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.surgeon_id, self.anaesthetist_id = uuid.uuid4(), uuid.uuid4()
        self.patient_ref = f"P-{uuid.uuid4().hex[:8]}"
        self.mission_starts = mission_starts
        self.surgery_start = surgery_start

    @staticmethod
    def envelope(data: Any, **kw: Any) -> CloudEvent[Any]:
        return new_envelope(data, correlation_id=CORRELATION, causation_id=None, **kw)

    def institutions(self) -> list[CloudEvent[Any]]:
        rows = [(self.cnas, "CNAS", "insurer", "DZ", "Alger"), (self.san_donato, "Gruppo San Donato",
                "hospital_group", "IT", "Milano"), (self.cmci, "CMCI Bousmail", "clinic", "DZ", "Bou Ismail"),
                (self.ministry, "Ministère de la Santé", "ministry", "DZ", "Alger")]
        return [self.envelope(InstitutionRegistered(institution_id=i, name=n, kind=k, country=c, city=city))
                for i, n, k, c, city in rows]

    def convention_signed(self) -> CloudEvent[Any]:
        return self.envelope(ConventionSigned(
            convention_id=self.convention_id, reference="CNAS-GSD-2031-01", title="Chirurgie cardiaque pédiatrique",
            parties=[{"institution_id": self.cnas, "role": "funder"},
                     {"institution_id": self.san_donato, "role": "provider"},
                     {"institution_id": self.cmci, "role": "beneficiary"},
                     {"institution_id": self.ministry, "role": "supervisor"}],
            signed_on=date(2031, 1, 10), signed_at="Alger", effective_from=date(2031, 1, 10),
            effective_until=date(2032, 1, 9), specialties=["cardiac_surgery"],
            objectives={"surgeries": 40, "consultations": 100, "training_sessions": 10},
        ))

    def mission_scheduled(self) -> CloudEvent[Any]:
        return self.envelope(MissionScheduled(
            mission_id=self.mission_id, convention_id=self.convention_id, host_institution_id=self.cmci,
            visiting_institution_id=self.san_donato, specialty="chirurgie cardiaque",
            starts_on=self.mission_starts, ends_on=date.fromordinal(self.mission_starts.toordinal() + 4),
            team=[{"practitioner_id": self.surgeon_id, "full_name": "Dr Alessandro Frigiola", "role": "surgeon"},
                  {"practitioner_id": self.anaesthetist_id, "full_name": "Dr Anna Rossi", "role": "anaesthetist"}],
        ))

    def mission_rescheduled(self, starts_on: date, ends_on: date) -> CloudEvent[Any]:
        return self.envelope(MissionRescheduled(mission_id=self.mission_id, starts_on=starts_on, ends_on=ends_on,
                                                reason="vols reportés"))

    def mission_cancelled(self) -> CloudEvent[Any]:
        return self.envelope(MissionCancelled(mission_id=self.mission_id, reason="convention suspendue"))

    def mission_completed(self) -> CloudEvent[Any]:
        return self.envelope(MissionCompleted(mission_id=self.mission_id, convention_id=self.convention_id,
                                              totals={"surgeries": 9, "consultations": 30, "training_sessions": 4}))

    def surgery_scheduled(self) -> CloudEvent[Any]:
        return self.envelope(SurgeryScheduled(
            surgery_id=self.surgery_id, mission_id=self.mission_id, convention_id=self.convention_id,
            patient_ref=self.patient_ref, procedure="Fermeture de CIV", operating_room="Bloc 2",
            scheduled_start=self.surgery_start, expected_duration_minutes=240, lead_surgeon_id=self.surgeon_id,
        ))

    def surgery_rescheduled(self, start: datetime) -> CloudEvent[Any]:
        return self.envelope(SurgeryRescheduled(surgery_id=self.surgery_id, operating_room="Bloc 1",
                                                scheduled_start=start, reason="bloc indisponible"))

    def surgery_cancelled(self) -> CloudEvent[Any]:
        return self.envelope(SurgeryCancelled(surgery_id=self.surgery_id, mission_id=self.mission_id,
                                              reason="état de l'enfant"))

    # The hold of a mission (its convention suspended), as the scheduling service tells it.
    HOLD_REASON = "convention CNAS-GSD-2031-01 suspended: audit financier"

    def mission_suspended(self) -> CloudEvent[Any]:
        return self.envelope(registry.by_type("MissionSuspended")(
            mission_id=self.mission_id, convention_id=self.convention_id, reason=self.HOLD_REASON))

    def mission_resumed(self) -> CloudEvent[Any]:
        return self.envelope(registry.by_type("MissionResumed")(mission_id=self.mission_id,
                                                                convention_id=self.convention_id))

    def surgery_suspended(self) -> CloudEvent[Any]:
        return self.envelope(registry.by_type("SurgerySuspended")(
            surgery_id=self.surgery_id, mission_id=self.mission_id, convention_id=self.convention_id,
            patient_ref=self.patient_ref, operating_room="Bloc 2", scheduled_start=self.surgery_start,
            reason=self.HOLD_REASON))

    def surgery_resumed(self, start: datetime | None = None) -> CloudEvent[Any]:
        return self.envelope(registry.by_type("SurgeryResumed")(
            surgery_id=self.surgery_id, mission_id=self.mission_id, convention_id=self.convention_id,
            patient_ref=self.patient_ref, operating_room="Bloc 2", scheduled_start=start or self.surgery_start))

    def consultation_held_up(self, patient_ref: str, *, resumed: bool = False,
                             consultation_id: uuid.UUID | None = None) -> CloudEvent[Any]:
        at = datetime(2031, 5, 28, 8, 0, tzinfo=UTC)
        common = {"consultation_id": consultation_id or uuid.uuid4(), "mission_id": self.mission_id,
                  "convention_id": self.convention_id, "patient_ref": patient_ref, "scheduled_at": at}
        if resumed:
            return self.envelope(registry.by_type("ConsultationResumed")(**common))
        return self.envelope(registry.by_type("ConsultationSuspended")(**common, reason=self.HOLD_REASON))

    def surgery_completed(self) -> CloudEvent[Any]:
        return self.envelope(SurgeryCompleted(
            surgery_id=self.surgery_id, mission_id=self.mission_id, convention_id=self.convention_id,
            patient_ref=self.patient_ref, procedure="Fermeture de CIV",
            completed_at=datetime(2031, 5, 27, 12, 0, tzinfo=UTC), duration_minutes=260, outcome="successful",
            previously_referred_abroad=True,
        ))


@pytest.fixture
def programme() -> Programme:
    return Programme()


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    """The tests here start the service and look at what it does, not at how it
    declared its topology: a namespace whose topology is already declared
    (``declared_namespace``: 0.3-0.6 s less per test), not a fresh one."""
    return declared_namespace


# -- the service ---------------------------------------------------------------------------------


@dataclass
class DeliveryRounds:
    """The delivery worker's rounds, counted as it makes them."""

    done: int = 0
    worker: Any = None

    @contextlib.contextmanager
    def counting(self) -> Any:
        from notification.handlers.delivery import DeliveryWorker

        original = DeliveryWorker.deliver_due

        async def counted(worker: DeliveryWorker) -> int:
            self.worker = worker
            try:
                return await original(worker)
            finally:
                self.done += 1

        DeliveryWorker.deliver_due = counted  # type: ignore[method-assign]
        try:
            yield self
        finally:
            DeliveryWorker.deliver_due = original  # type: ignore[method-assign]


@dataclass
class ReminderChecks:
    """The reminder job's passes, counted as it makes them (installed before the app is made:
    the periodic job keeps the function it is given)."""

    done: int = 0

    @contextlib.contextmanager
    def counting(self) -> Any:
        from notification import handlers

        original = handlers.fire_due_reminders

        async def counted(*args: Any, **kw: Any) -> int:
            try:
                return await original(*args, **kw)
            finally:
                self.done += 1

        handlers.fire_due_reminders = counted
        try:
            yield self
        finally:
            handlers.fire_due_reminders = original


@dataclass
class Harness:
    client: Any
    tap: EventTap
    smtp: MailCatcher
    http: HttpSink
    amqp_url: str
    namespace: str
    rounds: DeliveryRounds = field(default_factory=DeliveryRounds)
    reminder_checks: ReminderChecks = field(default_factory=ReminderChecks)

    # The institution keeping test contacts. Tests read it here, not with ``from conftest import``:
    # the services' test folders share one process, and that import may find another's conftest.
    keeper = KEEPER

    @property
    def runtime(self) -> Any:
        return self.client.runtime

    async def publish(self, *envelopes: CloudEvent[Any]) -> None:
        """As another service's relay would: persistent, to the namespaced exchange, with confirms."""
        conn = await aio_pika.connect(self.amqp_url)
        try:
            await publish_events(await conn.channel(), self.namespace, envelopes)
        finally:
            await conn.close()

    async def given(self, *envelopes: CloudEvent[Any]) -> None:
        """Publish what is already known (institutions, a convention, a mission) and wait
        until it is handled: the consumer handles several events at once (prefetch), so
        events published together may be handled in any order."""
        await self.publish(*envelopes)
        for envelope in envelopes:
            await self.handled(envelope)

    async def contact(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/contacts", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def family(self, patient_ref: str, *, consent: bool = True, **body: Any) -> dict[str, Any]:
        contact = await self.contact(kind="family", patient_ref=patient_ref, **body)
        if consent:
            response = await self.client.post(f"/contacts/{contact['id']}/consent",
                                              json={"given_by": "la mère, formulaire signé"})
            assert response.status_code == 200, response.text
            contact = response.json()
        return contact

    async def notifications(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get("/notifications", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def settled(self, expected: int, **params: Any) -> list[dict[str, Any]]:
        """Wait until ``expected`` notifications (matching ``params``) are sent or failed."""
        async def done() -> list[dict[str, Any]] | None:
            items = await self.notifications(**params)
            final = [n for n in items if n["status"] in ("sent", "failed", "cancelled")]
            return items if len(items) == expected and len(final) == expected else None

        try:
            return await eventually(done)
        except AssertionError:
            raise AssertionError(f"not {expected} settled: {await self.notifications(**params)}") from None

    async def handled(self, envelope: CloudEvent[Any]) -> None:
        """Wait until the service's consumer has committed ``envelope`` (its inbox row)."""
        await inbox_has(self.runtime, [envelope.id])

    async def delivery_round_passed(self) -> None:
        """Until the delivery worker has made a whole round begun after now, with no send
        under way: anything due (a second copy, a retry) would have been sent in it."""
        after = self.rounds.done + 1  # a round under way now may have begun before
        await eventually(lambda: self.rounds.done > after and not self.rounds.worker._handed)

    async def quiet(self) -> None:
        """Until the reminder job has made a whole pass begun after now, then the delivery
        worker a whole round: whatever was due by the clock is then a notification, sent."""
        after = self.reminder_checks.done + 1  # a pass under way now may have begun before
        await eventually(lambda: self.reminder_checks.done > after)
        await self.delivery_round_passed()

    async def everything_published(self) -> None:
        """Until every event the service has recorded is published and seen by the tap."""
        from sqlalchemy import select

        from jumelage.messaging.tables import OutboxRecord

        async def caught_up() -> bool:
            async with self.runtime.sessions() as s:
                rows = (await s.execute(select(OutboxRecord.event_id, OutboxRecord.published_at))).all()
            seen = {b["id"] for b in self.tap.bodies()}
            return all(published is not None and str(event_id) in seen for event_id, published in rows)

        await eventually(caught_up)


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Harness]]


@pytest.fixture
def notification_service(amqp_url: str, namespace: str, database: Database, smtp_server: MailCatcher,
                         http_sink: HttpSink) -> ServiceFactory:
    """``async with notification_service(clock=..., **settings) as h``: the service on this
    test's database, broker namespace, SMTP server and SMS gateway, with short delays.
    Can be entered again (a restart) on the same database."""

    @contextlib.asynccontextmanager
    async def start(clock: Clock | None = None, **overrides: Any) -> AsyncIterator[Harness]:
        own = await database.for_service("notification")
        values: dict[str, Any] = {
            "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
            "sms_gateway_url": f"{http_sink.url}/sms", "sms_gateway_token": "gateway-token",
            "delivery_retry_delays": [0.05, 0.1], "delivery_poll_interval": 0.2,
            "reminder_check_interval": 0.1,
            # Generous: a local server answers at once unless the machine is very busy.
            "webhook_timeout": scaled(30.0), "smtp_timeout": scaled(30.0),
            **overrides,
        }
        settings = service_settings(notification.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                    database=own, **values)
        async with contextlib.AsyncExitStack() as stack:
            tap = await stack.enter_async_context(event_tap(amqp_url, f"{namespace}jumelage.events"))
            checks = stack.enter_context(ReminderChecks().counting())
            rounds = stack.enter_context(DeliveryRounds().counting())
            app = notification.app.create_app(settings, clock)
            # The desk's administrator, also coordinator and clinician of the institution
            # that keeps the contacts the tests make (who may do what: test_access.py).
            acting = ActingAs("administrator", "coordinator", "clinician", institution=KEEPER)
            client = await stack.enter_async_context(running(app, notification.app.MIGRATIONS, acting_as=acting))
            yield Harness(client, tap, smtp_server, http_sink, amqp_url, namespace, rounds, checks)

    return start
