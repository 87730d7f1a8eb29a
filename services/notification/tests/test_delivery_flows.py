"""Events in, messages out: the service in-process over the real broker, on SQLite
and PostgreSQL, delivering to a real SMTP server (aiosmtpd), a real HTTP SMS
gateway and real webhook receivers, each read back."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import time
import uuid
from typing import Any

import pytest
import standardwebhooks
import structlog

from jumelage.events import ConsultationHeld, ConventionSuspended

SECRET = "cmci-webhook-secret-0123456789"


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_mission_scheduled_reaches_team_by_email_and_host_by_signed_webhook(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service() as h:
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  display_name="Dr Frigiola", email="a.frigiola@grupposandonato.it", language="en")
        host = await h.contact(kind="institution", institution_id=str(programme.cmci),
                               webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
        visiting = await h.contact(kind="institution", institution_id=str(programme.san_donato),
                                   email="missioni@grupposandonato.it", language="fr")
        funder = await h.contact(kind="institution", institution_id=str(programme.cnas), email="dg@cnas.dz")

        scheduled = programme.mission_scheduled()
        await h.given(*programme.institutions(), programme.convention_signed())
        await h.publish(scheduled)

        items = await h.settled(3, cause_event_id=str(scheduled.id))
        assert {(n["recipient_ref"], n["channel"], n["status"]) for n in items} == {
            (surgeon["recipient_ref"], "email", "sent"),
            (host["recipient_ref"], "webhook", "sent"),
            (visiting["recipient_ref"], "email", "sent"),
        }, "the funder is told of achievements, not of plans"
        assert not await h.notifications(recipient_ref=funder["recipient_ref"])

        (mail,) = h.smtp.messages(to="a.frigiola@grupposandonato.it")
        assert mail["Subject"].strip() == "Mission scheduled: chirurgie cardiaque at CMCI Bousmail, from 26 May 2031"
        assert mail["Content-Language"] == "en"
        assert "Hello Dr Frigiola," in mail.get_body(preferencelist=("plain",)).get_content()
        assert "Gruppo San Donato" in mail.get_body(preferencelist=("html",)).get_content()
        (french,) = h.smtp.messages(to="missioni@grupposandonato.it")
        assert french["Subject"].strip().startswith("Mission programmée : chirurgie cardiaque à CMCI Bousmail")

        (hook,) = h.http.to("/hooks/cmci")
        assert hook.headers["x-jumelage-signature"] == signed(SECRET, hook.body)
        # What a receiver checks with any Standard Webhooks library: signature and a recent timestamp.
        assert standardwebhooks.Webhook(SECRET.encode()).verify(hook.body, dict(hook.headers)) == hook.json()
        assert abs(int(hook.headers["webhook-timestamp"]) - time.time()) < 60
        assert hook.headers["content-type"] == "application/json"
        payload = hook.json()
        assert payload["event"]["id"] == str(scheduled.id)
        assert payload["event"]["type"] == "MissionScheduled"
        assert payload["event"]["data"]["mission_id"] == str(programme.mission_id)
        assert payload["recipient"] == {"recipient_ref": host["recipient_ref"], "kind": "institution",
                                        "institution_id": str(programme.cmci)}
        assert payload["template"] == "MissionScheduled/fr/webhook"
        assert "CMCI Bousmail" in payload["summary"]
        assert hook.headers["x-jumelage-notification-id"] == next(
            n["id"] for n in items if n["channel"] == "webhook")

        await h.tap.wait_for(lambda bodies: len([b for b in bodies if b["type"] == "NotificationSent"]) == 3)
        sent = h.tap.of_type("NotificationSent")
        assert {e["data"]["recipient_ref"] for e in sent} == {surgeon["recipient_ref"], host["recipient_ref"],
                                                             visiting["recipient_ref"]}
        for e in sent:
            assert e["data"]["cause_event_id"] == str(scheduled.id)
            assert e["correlationid"] == scheduled.correlationid, "the programme's chain carries on"
            assert e["causationid"] == str(scheduled.id)
            assert e["source"] == "/services/notification"
        assert {e["data"]["template"] for e in sent} == {
            "MissionScheduled/en/email", "MissionScheduled/fr/webhook", "MissionScheduled/fr/email"}


async def test_surgery_scheduled_reaches_a_consenting_family_by_sms_and_no_one_else_s(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service() as h:
        family = await h.family(programme.patient_ref, phone="+213 555 12 34 56", preferred_channel="sms",
                                email="famille.benali@example.dz", language="ar")
        no_consent = await h.family("P-other-child", consent=False, phone="+213666000111")
        other_family = await h.family("P-another", phone="+213777000222")
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it")

        scheduled = programme.surgery_scheduled()
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled())
        await h.publish(scheduled)
        items = await h.settled(2, cause_event_id=str(scheduled.id))
        assert {(n["recipient_ref"], n["channel"]) for n in items} == {
            (family["recipient_ref"], "sms"), (surgeon["recipient_ref"], "email")}

        (sms,) = h.http.to("/sms")
        assert sms.headers["authorization"] == "Bearer gateway-token"
        body = sms.json()
        assert body["to"] == "+213555123456"
        assert "27 ماي 2031 على الساعة 08:30" in body["text"], body["text"]  # 07:30Z is 08:30 in Algiers
        assert set(body) == {"to", "text"}
        assert not h.smtp.messages(to="famille.benali@example.dz"), "the preferred channel only"
        for contact in (no_consent, other_family):
            assert not await h.notifications(recipient_ref=contact["recipient_ref"])

        (mail,) = [m for m in h.smtp.messages(to="a.frigiola@grupposandonato.it")
                   if m["X-Jumelage-Notification-Id"] == next(n["id"] for n in items if n["channel"] == "email")]
        assert mail["Subject"].strip() == "Intervention programmée le 27 mai 2031"
        assert programme.patient_ref in mail.get_body(preferencelist=("plain",)).get_content()


async def test_the_same_event_delivered_twice_notifies_each_recipient_once_per_channel(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service(prefetch=1) as h:  # one at a time: the sentinel comes after both copies
        host = await h.contact(kind="institution", institution_id=str(programme.cmci), email="direction@cmci.dz",
                               webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
        scheduled = programme.mission_scheduled()
        sentinel = programme.mission_completed()
        await h.publish(scheduled, scheduled, sentinel)
        await h.handled(sentinel)

        items = await h.settled(2, recipient_ref=host["recipient_ref"])
        assert sorted(n["channel"] for n in items) == ["email", "webhook"]
        await h.delivery_round_passed()  # a second copy would have been sent in it
        assert len(h.smtp.messages(to="direction@cmci.dz")) == 1
        assert len(h.http.to("/hooks/cmci")) == 1
        await h.everything_published()
        assert len(h.tap.of_type("NotificationSent")) == 2


async def test_a_webhook_answering_5xx_is_retried_until_it_answers(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service() as h:
        h.http.script["/hooks/cmci"] = [503, 500]
        host = await h.contact(kind="institution", institution_id=str(programme.cmci),
                               webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
        scheduled = programme.mission_scheduled()
        await h.publish(scheduled)
        (item,) = await h.settled(1, recipient_ref=host["recipient_ref"])
        assert item["status"] == "sent"
        assert item["attempts"] == 3
        attempts = h.http.to("/hooks/cmci")
        assert len(attempts) == 3
        assert len({a.body for a in attempts}) == 1, "each attempt posts the same signed body"
        assert all(a.headers["x-jumelage-signature"] == signed(SECRET, a.body) for a in attempts)
        assert {a.headers["webhook-id"] for a in attempts} == {item["id"]}, "one id across attempts"
        for a in attempts:
            standardwebhooks.Webhook(SECRET.encode()).verify(a.body, dict(a.headers))
        await h.tap.wait_for(lambda bodies: any(b["type"] == "NotificationSent" for b in bodies))
        assert not h.tap.of_type("NotificationFailed")


async def test_retries_spent_then_notification_failed_once(notification_service: Any, programme: Any) -> None:
    async with notification_service() as h:
        h.http.script["/hooks/cmci"] = [500, 502, 503, 504]
        host = await h.contact(kind="institution", institution_id=str(programme.cmci),
                               webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
        scheduled = programme.mission_scheduled()
        await h.publish(scheduled)
        (item,) = await h.settled(1, recipient_ref=host["recipient_ref"])
        assert item["status"] == "failed"
        assert item["attempts"] == 3, "the first attempt and one per retry delay (0.05 s, 0.1 s)"
        assert item["last_error"] == "webhook answered 503"
        assert len(h.http.to("/hooks/cmci")) == 3

        await h.tap.wait_for(lambda bodies: any(b["type"] == "NotificationFailed" for b in bodies))
        await h.everything_published()
        (failed,) = h.tap.of_type("NotificationFailed")
        assert failed["data"] == {
            "notification_id": item["id"], "cause_event_id": str(scheduled.id), "channel": "webhook",
            "recipient_ref": host["recipient_ref"], "template": "MissionScheduled/fr/webhook",
            "error": "webhook answered 503", "attempts": 3,
        }
        assert not h.tap.of_type("NotificationSent")
        failed_only = await h.notifications(status="failed")
        assert [n["id"] for n in failed_only] == [item["id"]]


async def test_a_4xx_is_not_retried_and_a_refused_email_fails_at_once(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service() as h:
        h.http.script["/hooks/cmci"] = [410]
        h.smtp.refuse["nobody@grupposandonato.it"] = "550 5.1.1 no such mailbox"
        host = await h.contact(kind="institution", institution_id=str(programme.cmci),
                               webhook_url=f"{h.http.url}/hooks/cmci", webhook_secret=SECRET)
        visiting = await h.contact(kind="institution", institution_id=str(programme.san_donato),
                                   email="nobody@grupposandonato.it")
        await h.publish(programme.mission_scheduled())
        items = {n["recipient_ref"]: n for n in await h.settled(2)}
        assert items[host["recipient_ref"]]["status"] == "failed"
        assert items[host["recipient_ref"]]["attempts"] == 1
        assert items[host["recipient_ref"]]["last_error"] == "webhook answered 410"
        assert items[visiting["recipient_ref"]]["status"] == "failed"
        assert items[visiting["recipient_ref"]]["attempts"] == 1
        assert items[visiting["recipient_ref"]]["last_error"] == "smtp refused the recipient (550)"
        assert len(h.http.to("/hooks/cmci")) == 1
        await h.tap.wait_for(lambda bodies: len([b for b in bodies if b["type"] == "NotificationFailed"]) == 2)


async def test_smtp_server_away_is_retried_then_failed(notification_service: Any, programme: Any) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    async with notification_service(smtp_port=closed) as h:
        host = await h.contact(kind="institution", institution_id=str(programme.cmci), email="direction@cmci.dz")
        with structlog.testing.capture_logs() as logs:
            await h.publish(programme.mission_scheduled())
            (item,) = await h.settled(1, recipient_ref=host["recipient_ref"])
        assert item["status"] == "failed"
        assert item["attempts"] == 3
        assert item["last_error"].startswith("smtp server unreachable: ")
        assert "direction@cmci.dz" not in item["last_error"]
    failures = [(line["event"], line["log_level"]) for line in logs if line.get("recipient_ref") == host["recipient_ref"]]
    assert failures == [("notification attempt failed, will retry", "warning")] * 2 + [
        ("notification failed", "warning")], "a failed send is a warning, each attempt"


async def test_nobody_subscribed_means_no_notification(notification_service: Any, programme: Any) -> None:
    async with notification_service() as h:
        await h.contact(kind="institution", institution_id=str(programme.cmci), email="direction@cmci.dz")
        consultation = programme.envelope(ConsultationHeld(
            consultation_id=uuid.uuid4(), mission_id=programme.mission_id, convention_id=programme.convention_id,
            patient_ref=programme.patient_ref, specialty="cardiologie", held_at="2031-05-26T09:00:00Z"))
        await h.given(programme.mission_scheduled(), consultation)
        assert not await h.notifications(cause_event_id=str(consultation.id))


async def test_explicit_subscription_adds_and_opt_out_removes(notification_service: Any, programme: Any) -> None:
    async with notification_service() as h:
        ministry = await h.contact(kind="institution", institution_id=str(programme.ministry), email="dgs@sante.gov.dz")
        cmci = await h.contact(kind="institution", institution_id=str(programme.cmci), email="direction@cmci.dz")
        response = await h.client.post(f"/contacts/{ministry['id']}/subscriptions",
                                        json={"event_type": "ConventionSuspended",
                                              "convention_id": str(programme.convention_id)})
        assert response.status_code == 201, response.text
        response = await h.client.post(f"/contacts/{cmci['id']}/subscriptions",
                                        json={"event_type": "MissionScheduled", "opt_out": True})
        assert response.status_code == 201, response.text

        suspended = programme.envelope(ConventionSuspended(convention_id=programme.convention_id,
                                                           reason="audit financier"))
        scheduled = programme.mission_scheduled()
        await h.given(programme.convention_signed())
        await h.publish(scheduled, suspended)
        (item,) = await h.settled(1, cause_event_id=str(suspended.id))
        assert item["recipient_ref"] == ministry["recipient_ref"]
        assert item["template"] == "Generic/fr/email", "no template of its own: the generic one"
        await h.handled(scheduled)
        assert not await h.notifications(recipient_ref=cmci["recipient_ref"]), "opted out of MissionScheduled"
        (mail,) = h.smtp.messages(to="dgs@sante.gov.dz")
        assert "ConventionSuspended" in mail["Subject"].strip()


async def test_surgery_completed_reaches_funder_and_supervisor_in_their_language(notification_service: Any, programme: Any) -> None:
    async with notification_service() as h:
        cnas = await h.contact(kind="institution", institution_id=str(programme.cnas), email="dg@cnas.dz")
        ministry = await h.contact(kind="institution", institution_id=str(programme.ministry),
                                   email="dgs@sante.gov.dz", language="ar")
        cmci = await h.contact(kind="institution", institution_id=str(programme.cmci), email="direction@cmci.dz")
        completed = programme.surgery_completed()
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled())
        await h.publish(completed)
        items = await h.settled(2, cause_event_id=str(completed.id))
        assert {n["recipient_ref"] for n in items} == {cnas["recipient_ref"], ministry["recipient_ref"]}
        await h.handled(completed)
        assert not await h.notifications(cause_event_id=str(completed.id), recipient_ref=cmci["recipient_ref"])
        (arabic,) = h.smtp.messages(to="dgs@sante.gov.dz")
        html = arabic.get_body(preferencelist=("html",)).get_content()
        assert '<html lang="ar" dir="rtl">' in html
        assert "ناجحة" in html  # outcome: successful
        assert arabic["Content-Language"] == "ar"


async def test_a_new_notification_goes_out_at_once_not_at_the_next_delivery_round(
    notification_service: Any, programme: Any
) -> None:
    # Rounds an hour apart: only the hand-over at commit can send it within the test.
    async with notification_service(delivery_poll_interval=3600) as h:
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it")
        scheduled = programme.mission_scheduled()
        await h.given(*programme.institutions(), programme.convention_signed())
        await h.publish(scheduled)
        (item,) = await h.settled(1, cause_event_id=str(scheduled.id))
        assert (item["recipient_ref"], item["status"], item["attempts"]) == (surgeon["recipient_ref"], "sent", 1)
        assert len(h.smtp.messages(to="a.frigiola@grupposandonato.it")) == 1


async def test_a_notification_whose_worker_stopped_before_sending_goes_out_when_its_lease_runs_out(
    notification_service: Any, programme: Any
) -> None:

    from jumelage.testkit.waiting import eventually

    async with notification_service(delivery_lease=1.0, delivery_poll_interval=0.05) as h:
        # The process "stops" between the commit that created the notification and its
        # send: the hand-over goes nowhere, the row stays claimed under its lease.
        (worker,) = [p.job.__self__ for p in h.runtime.periodic if p.name == "deliver-notifications"]
        worker.hand_over = lambda claimed, claim: None
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it")
        scheduled = programme.mission_scheduled()
        await h.given(*programme.institutions(), programme.convention_signed(), scheduled)
        (claimed,) = await h.notifications(cause_event_id=str(scheduled.id))
        assert (claimed["status"], claimed["attempts"]) == ("sending", 1)
        assert not h.smtp.messages(), "nothing is sent while the lease holds"

        (item,) = await h.settled(1, cause_event_id=str(scheduled.id))
        assert (item["recipient_ref"], item["status"], item["attempts"]) == (surgeon["recipient_ref"], "sent", 2)
        assert len(h.smtp.messages(to="a.frigiola@grupposandonato.it")) == 1
        await eventually(lambda: _true(len(h.tap.of_type("NotificationSent")) == 1))
        await h.delivery_round_passed()
        await h.everything_published()
        assert len(h.smtp.messages(to="a.frigiola@grupposandonato.it")) == 1
        assert len(h.tap.of_type("NotificationSent")) == 1, "one NotificationSent"


async def test_an_error_after_a_send_never_sends_it_again_and_the_outcome_is_recorded_once(
    notification_service: Any, programme: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the first ``make run``: the e-mail went out, then recording its outcome
    failed (the scenario clock file read half written). The outcome is recorded once
    it can be; the lease running out meanwhile sends nothing again."""
    from datetime import UTC, datetime

    from jumelage.clock import FixedClock
    from jumelage.testkit.waiting import eventually
    from notification.store.repositories import Notifications

    recording, failed = asyncio.Event(), []
    record_attempt = Notifications.record_attempt

    async def broken_until_allowed(self: Notifications, n: Any, claim: uuid.UUID) -> bool:
        if not recording.is_set():
            failed.append(n.id)
            raise ValueError("Invalid isoformat string: ''")
        return await record_attempt(self, n, claim)

    monkeypatch.setattr(Notifications, "record_attempt", broken_until_allowed)
    async with notification_service(delivery_lease=60.0, delivery_poll_interval=0.05) as h:
        wall = FixedClock(datetime.now(UTC))  # the real time leases run on, moved by the test
        (worker,) = [p.job.__self__ for p in h.runtime.periodic if p.name == "deliver-notifications"]
        worker.wall = wall
        worker.max_record_backoff = 0.2
        await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                        email="a.frigiola@grupposandonato.it")
        scheduled = programme.mission_scheduled()
        await h.given(*programme.institutions(), programme.convention_signed(), scheduled)

        await eventually(lambda: _true(len(h.smtp.messages()) == 1 and len(failed) >= 2))
        (item,) = await h.notifications(cause_event_id=str(scheduled.id))
        assert (item["status"], item["attempts"]) == ("transmitting", 1), "sent, its outcome not recorded yet"

        wall.advance(seconds=61)  # the lease runs out while the outcome still cannot be recorded

        async def said_unknown() -> Any:
            (n,) = await h.notifications(cause_event_id=str(scheduled.id))
            return n if n["status"] == "unknown" else None

        unknown = await eventually(said_unknown)
        assert unknown["attempts"] == 1 and "outcome unknown" in unknown["last_error"]
        assert await worker.deliver_due() == 0, "a round claims nothing: in doubt is never sent again"
        assert len(h.smtp.messages()) == 1

        recording.set()  # the worker that sent it records the real outcome over "unknown"

        async def recorded() -> Any:
            (n,) = await h.notifications(cause_event_id=str(scheduled.id))
            return n if n["status"] == "sent" else None

        sent = await eventually(recorded)
        assert (sent["attempts"], sent["last_error"]) == (1, None)
        await eventually(lambda: _true(len(h.tap.of_type("NotificationSent")) == 1))
        wall.advance(seconds=3600)
        assert await worker.deliver_due() == 0
        assert len(h.smtp.messages(to="a.frigiola@grupposandonato.it")) == 1, "one e-mail, never two"
        assert len(h.tap.of_type("NotificationSent")) == 1


async def test_an_sms_request_left_unanswered_is_unknown_and_not_sent_again(
    notification_service: Any, programme: Any
) -> None:
    from jumelage.testkit.waiting import eventually

    async with notification_service() as h:  # retries 0.05 s and 0.1 s apart: a retry would show at once
        h.http.script["/sms"] = [0]  # the gateway reads the request, then hangs up
        family = await h.family(programme.patient_ref, phone="+213555123456", preferred_channel="sms")
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled())
        scheduled = programme.surgery_scheduled()
        await h.publish(scheduled)

        async def settled() -> Any:
            items = await h.notifications(cause_event_id=str(scheduled.id), recipient_ref=family["recipient_ref"])
            return items[0] if items and items[0]["status"] not in ("sending", "transmitting") else None

        n = await eventually(settled)
        assert (n["status"], n["attempts"]) == ("unknown", 1), n
        assert "outcome unknown" in n["last_error"] and "+213" not in n["last_error"]
        (worker,) = [p.job.__self__ for p in h.runtime.periodic if p.name == "deliver-notifications"]
        assert await worker.deliver_due() == 0
        assert len(h.http.to("/sms")) == 1, "the text may have reached the family: not sent twice"
        assert not [e for e in h.tap.of_type("NotificationSent") + h.tap.of_type("NotificationFailed")
                    if e["data"]["notification_id"] == n["id"]], "no event claims it was sent, or that it failed"


async def _true(value: bool) -> bool:
    return value


def test_a_replayed_webhook_fails_a_receivers_timestamp_check() -> None:
    from datetime import UTC, datetime, timedelta

    from notification.adapters.channels import standard_signature_headers

    body = b'{"template":"MissionScheduled/fr/webhook"}'
    receiver = standardwebhooks.Webhook(SECRET.encode())
    fresh = standard_signature_headers(SECRET, "n-1", body, datetime.now(UTC))
    assert receiver.verify(body, fresh) == {"template": "MissionScheduled/fr/webhook"}

    replayed = standard_signature_headers(SECRET, "n-1", body, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(standardwebhooks.WebhookVerificationError, match="too old"):
        receiver.verify(body, replayed)
    with pytest.raises(standardwebhooks.WebhookVerificationError, match="No matching signature"):
        receiver.verify(body.replace(b"fr", b"en"), fresh)
