"""The 30-day follow-up reminder (issue 21) over the real broker, on SQLite and PostgreSQL, with a
clock the test moves: planned on SurgeryCompleted for the thirtieth local day at the reminder
hour, sent to the host's contacts (and to the lead surgeon when a local surgeon led it), none
after a death at surgery, cancelled once SurgeryFollowedUp says the follow-up is recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from jumelage.clock import FixedClock
from jumelage.events import SurgeryCompleted, SurgeryFollowedUp

# The surgery ends 27 May 2031 12:00Z (13:00 in Algiers): day 30 is 26 June, at 09:00 Algiers.
FOLLOW_UP_AT = datetime(2031, 6, 26, 8, 0, tzinfo=UTC)


def clock() -> FixedClock:
    return FixedClock(datetime(2031, 5, 27, 12, 30, tzinfo=UTC), "Africa/Algiers")


def completed(p: Any, **over: Any) -> Any:
    values: dict[str, Any] = dict(
        surgery_id=p.surgery_id, mission_id=p.mission_id, convention_id=p.convention_id, patient_ref=p.patient_ref,
        procedure="Fermeture de CIV", completed_at=datetime(2031, 5, 27, 12, 0, tzinfo=UTC), duration_minutes=260,
        outcome="successful", previously_referred_abroad=True, lead_side="local", risk_scheme="RACHS-1",
        risk_category=2)
    return p.envelope(SurgeryCompleted(**{**values, **over}))


def followed_up(p: Any, outcome: str = "deceased") -> Any:
    return p.envelope(SurgeryFollowedUp(
        surgery_id=p.surgery_id, mission_id=p.mission_id, convention_id=p.convention_id, outcome=outcome,
        completed_at=datetime(2031, 5, 27, 12, 0, tzinfo=UTC), followed_up_on=date(2031, 6, 10),
        days_after_surgery=14, risk_scheme="RACHS-1", risk_category=2))


async def follow_up_reminders(h: Any, p: Any) -> list[dict[str, Any]]:
    response = await h.client.get("/reminders", params={"subject_id": str(p.surgery_id)})
    assert response.status_code == 200, response.text
    return [r for r in response.json()["items"] if r["kind"] == "follow_up"]


async def test_the_responsible_clinicians_are_reminded_on_day_thirty(notification_service: Any,
                                                                     programme: Any) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        host = await h.contact(kind="institution", institution_id=str(programme.cmci),
                               email="chirurgie@cmci-bousmail.dz", language="fr")
        lead = await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id),
                               email="k.haddad@cmci-bousmail.dz", language="ar")
        family = await h.family(programme.patient_ref, email="famille@example.dz")
        for envelope in (*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                         programme.surgery_scheduled(), completed(programme)):
            await h.given(envelope)

        (planned,) = await follow_up_reminders(h, programme)
        assert (planned["status"], planned["due_on"], planned["due_at"]) == ("scheduled", "2031-06-26",
                                                                            "2031-06-26T08:00:00Z")
        c.at = FOLLOW_UP_AT - timedelta(seconds=1)
        await h.quiet()
        assert not await h.notifications(cause_type="FollowUpReminder")

        c.at = FOLLOW_UP_AT
        items = await h.settled(2, cause_type="FollowUpReminder")
        assert {(n["recipient_ref"], n["status"]) for n in items} == {
            (host["recipient_ref"], "sent"), (lead["recipient_ref"], "sent")}
        assert family["recipient_ref"] not in {n["recipient_ref"] for n in items}, "families are not asked"
        (french,) = [m for m in h.smtp.messages(to="chirurgie@cmci-bousmail.dz")
                     if "30 jours" in m["Subject"]]
        assert french["Subject"].strip() == "Suivi à 30 jours à enregistrer : Fermeture de CIV"
        (arabic,) = [m for m in h.smtp.messages(to="k.haddad@cmci-bousmail.dz") if "30" in m["Subject"]]
        assert 'dir="rtl"' in arabic.get_body(preferencelist=("html",)).get_content()
        assert [r["status"] for r in await follow_up_reminders(h, programme)] == ["fired"]


async def test_a_visiting_lead_is_not_asked_and_a_recorded_follow_up_cancels_the_reminder(
    notification_service: Any, programme: Any
) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        host = await h.contact(kind="institution", institution_id=str(programme.cmci), email="chir@cmci.dz")
        await h.contact(kind="practitioner", practitioner_id=str(programme.surgeon_id), email="s@example.it")
        for envelope in (*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                         programme.surgery_scheduled(), completed(programme, lead_side="visiting")):
            await h.given(envelope)
        assert [r["status"] for r in await follow_up_reminders(h, programme)] == ["scheduled"]

        await h.given(followed_up(programme))  # a death recorded on day 14
        assert [r["status"] for r in await follow_up_reminders(h, programme)] == ["cancelled"]
        c.at = FOLLOW_UP_AT
        await h.quiet()
        assert not await h.notifications(cause_type="FollowUpReminder")
        assert host["recipient_ref"]  # the host's contact exists, and was not reminded


async def test_no_follow_up_reminder_after_a_death_at_surgery(notification_service: Any, programme: Any) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        await h.contact(kind="institution", institution_id=str(programme.cmci), email="chir@cmci.dz")
        for envelope in (*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                         programme.surgery_scheduled(), completed(programme, outcome="deceased")):
            await h.given(envelope)
        assert await follow_up_reminders(h, programme) == []
        c.at = FOLLOW_UP_AT
        await h.quiet()
        assert not await h.notifications(cause_type="FollowUpReminder")


async def test_a_follow_up_recorded_before_the_completion_arrives_leaves_no_reminder(
    notification_service: Any, programme: Any
) -> None:
    c = clock()
    async with notification_service(clock=c) as h:
        for envelope in (*programme.institutions(), programme.convention_signed(), programme.mission_scheduled(),
                         followed_up(programme, "alive"), completed(programme)):
            await h.given(envelope)
        assert await follow_up_reminders(h, programme) == []
