"""Day-before reminders over the real broker, on SQLite and PostgreSQL, with a clock
the test moves: at the local hour the day before, moved by a reschedule, none
for a cancellation, never twice, not even across a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest

from jumelage.clock import FixedClock

# Programme: the mission starts 26 May 2031, the surgery is 27 May 2031 07:30Z (08:30 in Algiers).
# Reminders at 09:00 Algiers (UTC+1) the day before: mission 25 May 08:00Z, surgery 26 May 08:00Z.
MISSION_REMINDER_AT = datetime(2031, 5, 25, 8, 0, tzinfo=UTC)
SURGERY_REMINDER_AT = datetime(2031, 5, 26, 8, 0, tzinfo=UTC)


def clock() -> FixedClock:
    return FixedClock(datetime(2031, 5, 20, 8, 0, tzinfo=UTC), "Africa/Algiers")


async def reminders(h: Any, **params: Any) -> list[dict[str, Any]]:
    response = await h.client.get("/reminders", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def quiet(h: Any) -> None:
    """Until the reminder job and then the delivery worker have each made a whole pass
    after now (not a pause): what is due by the clock has been fired and sent."""
    await h.quiet()


async def test_reminders_the_day_before_at_the_local_hour(notification_service: Any, programme: Any) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        family = await h.family(programme.patient_ref, email="famille.benali@example.dz", language="ar")
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it", display_name="Dr Frigiola")
        anaesthetist = await h.contact(kind="practitioner", practitioner_id=str(programme.anaesthetist_id),
                                       phone="+393331234567", language="en")
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                      programme.surgery_scheduled())

        planned = {(r["kind"], r["status"]): r for r in await reminders(h)}
        assert planned[("mission", "scheduled")]["due_at"] == "2031-05-25T08:00:00Z"
        assert planned[("mission", "scheduled")]["due_on"] == "2031-05-25"
        assert planned[("surgery", "scheduled")]["due_at"] == "2031-05-26T08:00:00Z"

        c.at = MISSION_REMINDER_AT - timedelta(seconds=1)
        await quiet(h)
        assert not await h.notifications(cause_type="MissionReminder")

        c.at = MISSION_REMINDER_AT
        items = await h.settled(2, cause_type="MissionReminder")
        assert {(n["recipient_ref"], n["channel"], n["status"]) for n in items} == {
            (surgeon["recipient_ref"], "email", "sent"), (anaesthetist["recipient_ref"], "sms", "sent")}
        assert {n["cause_event_id"] for n in items} == {planned[("mission", "scheduled")]["id"]}
        (sms,) = [r for r in h.http.to("/sms") if "reminder" in r.json()["text"]]
        assert sms.json()["to"] == "+393331234567"
        assert sms.json()["text"] == ("Jumelage: reminder, the chirurgie cardiaque mission at CMCI Bousmail "
                                      "starts tomorrow.")
        assert not await h.notifications(cause_type="SurgeryReminder")

        c.at = SURGERY_REMINDER_AT
        items = await h.settled(2, cause_type="SurgeryReminder")
        assert {n["recipient_ref"] for n in items} == {family["recipient_ref"], surgeon["recipient_ref"]}
        (arabic,) = [m for m in h.smtp.messages(to="famille.benali@example.dz")
                     if m["Subject"].strip().startswith("تذكير")]
        assert arabic["Subject"].strip() == "تذكير: عملية جراحية غدًا، 27 ماي 2031 على الساعة 08:30"
        assert 'dir="rtl"' in arabic.get_body(preferencelist=("html",)).get_content()
        fired = await reminders(h, status="fired")
        assert len(fired) == 2


async def test_rescheduling_moves_the_reminder_and_cancelling_removes_it(
    notification_service: Any, programme: Any
) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        family = await h.family(programme.patient_ref, phone="+213555123456")
        await h.given(programme.mission_scheduled(), programme.surgery_scheduled())
        await h.given(programme.surgery_rescheduled(datetime(2031, 5, 28, 9, 0, tzinfo=UTC)))

        surgery = {r["due_on"]: r for r in await reminders(h, subject_id=str(programme.surgery_id))}
        assert surgery["2031-05-26"]["status"] == "cancelled"
        assert surgery["2031-05-27"]["status"] == "scheduled"
        assert surgery["2031-05-27"]["due_at"] == "2031-05-27T08:00:00Z"

        # The mission is cancelled: its reminder goes, and nothing fires for it.
        await h.given(programme.mission_cancelled())
        (mission,) = await reminders(h, subject_id=str(programme.mission_id))
        assert mission["status"] == "cancelled"
        c.at = MISSION_REMINDER_AT
        await quiet(h)
        assert not await h.notifications(cause_type="MissionReminder")

        c.at = SURGERY_REMINDER_AT + timedelta(hours=1)
        await quiet(h)
        assert not await h.notifications(cause_type="SurgeryReminder"), "not on the old date"

        c.at = datetime(2031, 5, 27, 8, 0, tzinfo=UTC)
        (item,) = await h.settled(1, cause_type="SurgeryReminder")
        assert item["recipient_ref"] == family["recipient_ref"]
        (sms,) = [r for r in h.http.to("/sms") if "rappel" in r.json()["text"]]
        assert "28 mai 2031 à 10:00" in sms.json()["text"], "the new time, in Algiers"


async def test_no_reminder_for_a_cancelled_surgery(notification_service: Any, programme: Any) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        await h.family(programme.patient_ref, phone="+213555123456")
        await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id), email="s@example.it")
        await h.given(programme.surgery_scheduled())
        await h.given(programme.surgery_cancelled())
        assert [r["status"] for r in await reminders(h, subject_id=str(programme.surgery_id))] == ["cancelled"]

        c.at = SURGERY_REMINDER_AT
        await quiet(h)
        assert not await h.notifications(cause_type="SurgeryReminder")
        cancelled = await h.notifications(cause_type="SurgeryCancelled")
        assert len(cancelled) == 2, "the family and the surgeon are told of the cancellation instead"

        # A late reschedule of the cancelled surgery does not bring its reminder back.
        await h.given(programme.surgery_rescheduled(datetime(2031, 5, 29, 7, 0, tzinfo=UTC)))
        assert {r["status"] for r in await reminders(h, subject_id=str(programme.surgery_id))} == {"cancelled"}


async def test_a_reminder_is_never_sent_twice_even_across_a_restart(
    notification_service: Any, programme: Any
) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        await h.family(programme.patient_ref, phone="+213555123456")
        await h.given(programme.surgery_scheduled())
        c.at = SURGERY_REMINDER_AT
        (first,) = await h.settled(1, cause_type="SurgeryReminder")
        # The same event again (a redelivery after a crash, say) does not plan it anew.
        await h.given(programme.surgery_rescheduled(programme.surgery_start))
        await quiet(h)

    c.at = SURGERY_REMINDER_AT + timedelta(minutes=30)
    async with notification_service(clock=c) as h:
        await quiet(h)
        items = await h.notifications(cause_type="SurgeryReminder")
        assert [n["id"] for n in items] == [first["id"]]
        assert len([r for r in h.http.to("/sms") if "rappel" in r.json()["text"]]) == 1
        (reminder,) = await reminders(h, subject_id=str(programme.surgery_id))
        assert reminder["status"] == "fired"


async def test_a_reminder_that_came_due_while_the_service_was_down_still_goes_before_the_surgery(
    notification_service: Any, programme: Any
) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        await h.family(programme.patient_ref, phone="+213555123456")
        await h.given(programme.surgery_scheduled())

    c.at = SURGERY_REMINDER_AT + timedelta(hours=6)  # down through the reminder hour, back the evening before
    async with notification_service(clock=c) as h:
        (item,) = await h.settled(1, cause_type="SurgeryReminder")
        assert item["status"] == "sent"

    c2 = clock()
    other = type(programme)()
    async with notification_service(clock=c2) as h:
        await h.family(other.patient_ref, phone="+213555999888")
        await h.given(other.surgery_scheduled())
    c2.at = other.surgery_start + timedelta(hours=1)  # back only after the surgery began: too late
    async with notification_service(clock=c2) as h:
        await quiet(h)
        (expired,) = await reminders(h, subject_id=str(other.surgery_id))
        assert expired["status"] == "expired"
        assert not await h.notifications(cause_event_id=expired["id"])


def _routed(key: str, patterns: tuple[str, ...]) -> bool:
    """AMQP topic matching: ``*`` one word, ``#`` any number."""
    def match(words: list[str], pattern: list[str]) -> bool:
        if not pattern:
            return not words
        if pattern[0] == "#":
            return any(match(words[i:], pattern[1:]) for i in range(len(words) + 1))
        return bool(words) and pattern[0] in ("*", words[0]) and match(words[1:], pattern[1:])

    return any(match(key.split("."), p.split(".")) for p in patterns)


@pytest.mark.parametrize("event_type", ["MissionSuspended", "MissionResumed"])
def test_the_notification_queue_is_bound_to_the_hold_events(event_type: str) -> None:
    from jumelage.events import registry
    from jumelage.messaging.topology import BINDINGS

    key = registry.by_type(event_type).routing_key
    assert _routed(key, BINDINGS["notification"]), f"{event_type} goes out as {key!r}, bound by nothing"


async def test_a_mission_on_hold_has_no_reminder_until_released(notification_service: Any, programme: Any) -> None:
    from jumelage.events import registry

    put_on_hold, released = registry.by_type("MissionSuspended"), registry.by_type("MissionResumed")
    c = clock()
    async with notification_service(clock=c) as h:

        async def straight_to_our_queue(envelope: Any) -> None:
            # Through the exchange, as the scheduling service publishes it.
            conn = await aio_pika.connect(h.amqp_url)
            try:
                ch = await conn.channel()
                ex = await ch.get_exchange(f"{h.namespace}jumelage.events")
                await ex.publish(
                    aio_pika.Message(envelope.to_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                     message_id=str(envelope.id)),
                    routing_key=envelope.routing_key)
            finally:
                await conn.close()
            await h.handled(envelope)

        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it", language="en")
        await h.given(*programme.institutions(), programme.mission_scheduled())
        await straight_to_our_queue(programme.envelope(put_on_hold(
            mission_id=programme.mission_id, convention_id=programme.convention_id, reason="convention suspendue")))
        (held,) = await reminders(h, subject_id=str(programme.mission_id))
        assert held["status"] == "cancelled"
        (told,) = await h.settled(1, cause_type="MissionSuspended", recipient_ref=surgeon["recipient_ref"])
        assert told["template"] == "MissionSuspended/en/email"

        await straight_to_our_queue(programme.envelope(released(mission_id=programme.mission_id,
                                                                convention_id=programme.convention_id)))
        (again,) = await reminders(h, subject_id=str(programme.mission_id))
        assert again["status"] == "scheduled", "the same date's reminder comes back"
        c.at = MISSION_REMINDER_AT
        (item,) = await h.settled(1, cause_type="MissionReminder")
        assert item["recipient_ref"] == surgeon["recipient_ref"]


async def test_a_held_mission_sends_no_surgery_reminder_and_tells_the_family_and_the_surgeon(
    notification_service: Any, programme: Any
) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        family = await h.family(programme.patient_ref, email="famille.benali@example.dz", language="ar")
        surgeon = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                                  email="a.frigiola@grupposandonato.it", language="en")
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                      programme.surgery_scheduled())
        # The mission's hold alone (its surgeries' events not there yet) already stops the surgery's reminder.
        await h.given(programme.mission_suspended())
        assert {r["status"] for r in await reminders(h, subject_id=str(programme.surgery_id))} == {"cancelled"}
        await h.given(programme.surgery_suspended())
        told = await h.settled(2, cause_type="SurgerySuspended")
        assert {(n["recipient_ref"], n["template"]) for n in told} == {
            (family["recipient_ref"], "SurgerySuspended/ar/email"), (surgeon["recipient_ref"], "SurgerySuspended/en/email")}
        (arabic,) = [m for m in h.smtp.messages(to="famille.benali@example.dz")
                     if m["Subject"].strip().startswith("عملية جراحية معلّقة")]
        assert arabic["Subject"].strip() == "عملية جراحية معلّقة: Fermeture de CIV"
        body = arabic.get_body(preferencelist=("plain",)).get_content()
        assert "الموعد محفوظ" in body and "27 ماي 2031" in body and programme.patient_ref not in body
        (english,) = [m for m in h.smtp.messages(to="a.frigiola@grupposandonato.it")
                      if m["Subject"].strip().startswith("Surgery on hold")]
        assert "The slot is kept" in english.get_body(preferencelist=("plain",)).get_content()

        # The day before the surgery, while the mission waits: nobody is told "tomorrow".
        c.at = SURGERY_REMINDER_AT
        await quiet(h)
        assert not await h.notifications(cause_type="SurgeryReminder")
        assert not await h.notifications(cause_type="MissionReminder")

        # Released the same morning: the reminder is armed again (late, so at once), the date stands.
        await h.given(programme.surgery_resumed(), programme.mission_resumed())
        (again,) = await h.settled(1, cause_type="SurgeryResumed", recipient_ref=family["recipient_ref"])
        assert again["template"] == "SurgeryResumed/ar/email"
        resumed = [m for m in h.smtp.messages(to="famille.benali@example.dz")
                   if m["Subject"].strip().startswith("تأكيد")]
        assert [m["Subject"].strip() for m in resumed] == ["تأكيد العملية يوم 27 ماي 2031"]
        assert "موعدها ثابت" in resumed[0].get_body(preferencelist=("plain",)).get_content()
        reminded = await h.settled(2, cause_type="SurgeryReminder")
        assert {n["recipient_ref"] for n in reminded} == {family["recipient_ref"], surgeon["recipient_ref"]}


async def test_a_surgery_resumed_on_another_date_tells_the_family_the_new_one(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service(clock=clock()) as h:
        family = await h.family(programme.patient_ref, email="famille.haddad@example.dz", language="fr")
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                      programme.surgery_scheduled(), programme.mission_suspended(), programme.surgery_suspended())
        await h.settled(1, cause_type="SurgerySuspended", recipient_ref=family["recipient_ref"])
        moved = datetime(2031, 5, 28, 9, 0, tzinfo=UTC)
        await h.given(programme.mission_resumed(), programme.surgery_resumed(moved))
        await h.settled(1, cause_type="SurgeryResumed", recipient_ref=family["recipient_ref"])
        (message,) = [m for m in h.smtp.messages(to="famille.haddad@example.dz")
                      if m["Subject"].strip().startswith("Intervention à une nouvelle date")]
        assert message["Subject"].strip() == "Intervention à une nouvelle date : 28 mai 2031"
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "elle était prévue le 27 mai 2031" in text and "28 mai 2031 à 10:00" in text
        (planned,) = await reminders(h, subject_id=str(programme.surgery_id), status="scheduled")
        assert planned["due_on"] == "2031-05-27", "the reminder follows the new date"


async def test_a_held_consultation_and_a_cancelled_surgery_reach_the_family_in_its_language(
    notification_service: Any, programme: Any
) -> None:
    async with notification_service(clock=clock()) as h:
        family = await h.family(programme.patient_ref, email="famille.benali@example.dz", language="en")
        other = await h.family("P-consult01", email="famille.kaci@example.dz", language="fr")
        await h.given(*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                      programme.surgery_scheduled())
        await h.given(programme.consultation_held_up("P-consult01"))
        (held,) = await h.settled(1, cause_type="ConsultationSuspended")
        assert (held["recipient_ref"], held["template"]) == (other["recipient_ref"], "ConsultationSuspended/fr/email")
        (kaci,) = h.smtp.messages(to="famille.kaci@example.dz")
        assert kaci["Subject"].strip() == "Consultation en attente : chirurgie cardiaque"
        await h.given(programme.consultation_held_up("P-consult01", resumed=True))
        (back,) = await h.settled(1, cause_type="ConsultationResumed")
        assert back["recipient_ref"] == other["recipient_ref"]

        # The mission cancelled: its surgery is cancelled, and the family learns the case stays on the list.
        await h.given(programme.mission_cancelled(), programme.surgery_cancelled())
        (cancelled,) = await h.settled(1, cause_type="SurgeryCancelled", recipient_ref=family["recipient_ref"])
        assert cancelled["template"] == "SurgeryCancelled/en/email"
        (message,) = [m for m in h.smtp.messages(to="famille.benali@example.dz")
                      if m["Subject"].strip() == "Surgery cancelled"]
        assert "The case stays on the waiting list." in message.get_body(preferencelist=("plain",)).get_content()
        assert {r["status"] for r in await reminders(h, subject_id=str(programme.surgery_id))} == {"cancelled"}
