"""The notification domain, pure Python: who is told what (default audiences,
subscriptions, opt-outs, consent), contact rules, reminder dates, and a
notification's delivery state machine. No database, no broker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jumelage.errors import Conflict, Invalid
from jumelage.events.notification import Channel
from notification.domain.commands import CreateContact, UpdateContact
from notification.domain.contacts import Contact, ContactKind, Language, check_email, check_phone
from notification.domain.delivery import (
    Message, Notification, NotificationStatus, PermanentFailure, RetryPolicy, TransientFailure,
)
from notification.domain.programme import (
    ConventionParty, Facts, KnownConvention, KnownMission, KnownSurgery, PlanStatus, TeamMember,
)
from notification.domain.reminders import ReminderKind, ReminderPolicy, ReminderStatus
from notification.domain.routing import Candidate, Occurrence, Subscription, notifiable_types, recipients
from notification.domain.templates import GENERIC, resolution_order

NOW = datetime(2031, 5, 20, 8, 0, tzinfo=UTC)
REAL = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the wall clock, when a scenario clock shows NOW

# -- a programme ---------------------------------------------------------------------------------

CNAS, GSD, CMCI, MINISTRY = (uuid.uuid4() for _ in range(4))
SURGEON, ANAESTHETIST, OUTSIDER = (uuid.uuid4() for _ in range(3))
CONVENTION = KnownConvention(uuid.uuid4(), "CNAS-GSD-2031-01", "Chirurgie cardiaque", (
    ConventionParty(CNAS, "funder"), ConventionParty(GSD, "provider"), ConventionParty(CMCI, "beneficiary"),
    ConventionParty(MINISTRY, "supervisor")))
MISSION = KnownMission(uuid.uuid4(), CONVENTION.id, CMCI, GSD, "chirurgie cardiaque", date(2031, 5, 26),
                       date(2031, 5, 30), (TeamMember(SURGEON, "Dr Frigiola", "surgeon"),
                                           TeamMember(ANAESTHETIST, "Dr Rossi", "anaesthetist")))
SURGERY = KnownSurgery(uuid.uuid4(), MISSION.id, CONVENTION.id, "P-42", "Fermeture de CIV", "Bloc 2",
                       datetime(2031, 5, 27, 7, 30, tzinfo=UTC), SURGEON)
FACTS = Facts(MISSION, CONVENTION, SURGERY)


def contact(kind: ContactKind, ref: object, **kw: object) -> Contact:
    values = {"email": "x@example.dz", **kw}
    subject = {"practitioner": "practitioner_id", "institution": "institution_id", "family": "patient_ref"}[kind]
    return Contact.create(CreateContact(kind=kind, **{subject: ref}, **values))  # type: ignore[arg-type]


def practitioner(pid: uuid.UUID, **kw: object) -> Contact:
    return contact(ContactKind.practitioner, pid, **kw)


def institution(iid: uuid.UUID, **kw: object) -> Contact:
    return contact(ContactKind.institution, iid, **kw)


def family(patient_ref: str = "P-42", consent: bool = True, **kw: object) -> Contact:
    c = contact(ContactKind.family, patient_ref, **kw)
    return c.record_consent("la mère", NOW) if consent else c


def told(occurrence: Occurrence, *candidates: Contact | Candidate) -> set[uuid.UUID]:
    found = recipients(occurrence, [c if isinstance(c, Candidate) else Candidate(c) for c in candidates])
    return {r.contact.id for r in found}


# -- default audiences ------------------------------------------------------------------------------


def test_a_mission_s_team_gets_that_mission_s_events() -> None:
    surgeon, anaesthetist, outsider = practitioner(SURGEON), practitioner(ANAESTHETIST), practitioner(OUTSIDER)
    for kind in ("MissionScheduled", "MissionRescheduled", "MissionCancelled", "MissionStarted", "MissionCompleted",
                 "MissionSuspended", "MissionResumed", "MissionReminder"):
        assert told(Occurrence(kind, FACTS), surgeon, anaesthetist, outsider) == {surgeon.id, anaesthetist.id}, kind


def test_host_and_visiting_institutions_get_the_mission_s_plan_changes_only() -> None:
    host, visiting, funder = institution(CMCI), institution(GSD), institution(CNAS)
    for kind in ("MissionScheduled", "MissionRescheduled", "MissionCancelled"):
        assert told(Occurrence(kind, FACTS), host, visiting, funder) == {host.id, visiting.id}, kind
    for kind in ("MissionStarted", "MissionReminder", "SurgeryScheduled"):
        assert told(Occurrence(kind, FACTS), host, visiting) == set(), kind


def test_funders_and_supervisors_get_what_their_convention_achieved() -> None:
    funder, supervisor, provider = institution(CNAS), institution(MINISTRY), institution(GSD)
    for kind in ("SurgeryCompleted", "MissionCompleted"):
        assert told(Occurrence(kind, FACTS), funder, supervisor, provider) == {funder.id, supervisor.id}, kind
    assert told(Occurrence("SurgeryCompleted", FACTS), provider) == set()
    assert told(Occurrence("MissionScheduled", Facts(mission=None, convention=CONVENTION)), funder) == set()


def test_a_family_with_consent_gets_its_child_s_surgery_plan_and_reminder() -> None:
    consenting, without_consent, other_child = family(), family(consent=False), family("P-7")
    for kind in ("SurgeryScheduled", "SurgeryRescheduled", "SurgeryCancelled", "SurgeryReminder"):
        assert told(Occurrence(kind, FACTS), consenting, without_consent, other_child) == {consenting.id}, kind
    for kind in ("SurgeryCompleted", "MissionScheduled", "MissionReminder"):
        assert told(Occurrence(kind, FACTS), consenting) == set(), kind


def test_the_lead_surgeon_gets_the_surgery_plan_and_reminder() -> None:
    surgeon, anaesthetist = practitioner(SURGEON), practitioner(ANAESTHETIST)
    assert told(Occurrence("SurgeryReminder", FACTS), surgeon, anaesthetist) == {surgeon.id}
    assert told(Occurrence("SurgeryRescheduled", FACTS), surgeon, anaesthetist) == {surgeon.id}


def test_nothing_known_means_no_default_audience() -> None:
    assert Occurrence("SurgeryScheduled").default_audience() == frozenset()
    assert Occurrence("ConventionSuspended", Facts(convention=CONVENTION)).default_audience() == frozenset()
    assert told(Occurrence("ConsultationHeld", FACTS), practitioner(SURGEON), institution(CMCI)) == set()


# -- explicit subscriptions and opt-outs -----------------------------------------------------------


def rule(c: Contact, kind: str, **kw: object) -> Subscription:
    return Subscription.new(c.id, kind, **kw)  # type: ignore[arg-type]


def test_explicit_subscription_adds_to_the_defaults_within_its_scope() -> None:
    ministry = institution(MINISTRY)
    everywhere = Candidate(ministry, (rule(ministry, "ConventionSuspended"),))
    this_one = Candidate(ministry, (rule(ministry, "ConventionSuspended", convention_id=CONVENTION.id),))
    other_one = Candidate(ministry, (rule(ministry, "ConventionSuspended", convention_id=uuid.uuid4()),))
    occurrence = Occurrence("ConventionSuspended", Facts(convention=CONVENTION))
    assert told(occurrence, everywhere) == {ministry.id}
    assert told(occurrence, this_one) == {ministry.id}
    assert told(occurrence, other_one) == set()
    assert told(Occurrence("ConventionResumed", Facts(convention=CONVENTION)), everywhere) == set()


def test_institution_scope_matches_events_concerning_the_institution() -> None:
    observer = institution(uuid.uuid4())
    at_cmci = Candidate(observer, (rule(observer, "SurgeryCompleted", institution_id=CMCI),))
    elsewhere = Candidate(observer, (rule(observer, "SurgeryCompleted", institution_id=uuid.uuid4()),))
    assert told(Occurrence("SurgeryCompleted", FACTS), at_cmci) == {observer.id}
    assert told(Occurrence("SurgeryCompleted", FACTS), elsewhere) == set()
    registered = Occurrence("InstitutionRegistered", institution_id=CMCI)
    assert told(registered, Candidate(observer, (rule(observer, "InstitutionRegistered", institution_id=CMCI),))) \
        == {observer.id}


def test_opt_out_wins_over_defaults_and_subscriptions() -> None:
    host = institution(CMCI)
    assert told(Occurrence("MissionScheduled", FACTS), Candidate(host, (rule(host, "MissionScheduled", opt_out=True),))) \
        == set()
    # Scoped: only that convention's events are refused.
    scoped = Candidate(host, (rule(host, "MissionScheduled", opt_out=True, convention_id=uuid.uuid4()),))
    assert told(Occurrence("MissionScheduled", FACTS), scoped) == {host.id}
    surgeon = practitioner(SURGEON)
    assert told(Occurrence("MissionReminder", FACTS),
                Candidate(surgeon, (rule(surgeon, "MissionReminder", opt_out=True),))) == set()


def test_a_family_hears_of_its_own_child_only_even_through_a_subscription() -> None:
    curious = family("P-7")
    subscribed = Candidate(curious, (rule(curious, "SurgeryCompleted"), rule(curious, "SurgeryScheduled")))
    assert told(Occurrence("SurgeryCompleted", FACTS), subscribed) == set()
    assert told(Occurrence("SurgeryScheduled", FACTS), subscribed) == set()
    no_consent = family(consent=False)
    assert told(Occurrence("SurgeryCompleted", FACTS),
                Candidate(no_consent, (rule(no_consent, "SurgeryCompleted"),))) == set()
    own = family()
    assert told(Occurrence("SurgeryCompleted", FACTS), Candidate(own, (rule(own, "SurgeryCompleted"),))) == {own.id}


def test_subscription_rules() -> None:
    c = institution(CMCI)
    with pytest.raises(Invalid) as caught:
        Subscription.new(c.id, "PatientDischarged")
    assert caught.value.field == "event_type"
    with pytest.raises(Invalid) as caught:
        Subscription.new(c.id, "MissionScheduled", convention_id=uuid.uuid4(), institution_id=uuid.uuid4())
    assert caught.value.field == "institution_id"
    assert {"SurgeryReminder", "MissionReminder", "ConventionSigned", "TrainingSessionHeld"} <= set(notifiable_types())
    assert "NotificationSent" not in notifiable_types()


def test_channels_are_the_preferred_one_or_every_address() -> None:
    both = practitioner(SURGEON, phone="+213555123456")
    assert [r.channel for r in recipients(Occurrence("MissionScheduled", FACTS), [Candidate(both)])] == [
        Channel.email, Channel.sms]
    sms_only = practitioner(SURGEON, phone="+213555123456", preferred_channel="sms")
    assert [r.channel for r in recipients(Occurrence("MissionScheduled", FACTS), [Candidate(sms_only)])] == [
        Channel.sms]


# -- contacts ---------------------------------------------------------------------------------------


def test_contact_details_are_checked_and_normalised() -> None:
    assert check_phone("+213 (555) 12-34.56") == "+213555123456"
    assert check_email("  Secretariat@CMCI-Bousmail.dz ") == "Secretariat@CMCI-Bousmail.dz"
    for bad in ("0555123456", "+213", "+2135551234567890", "00213555123456", "+213abc"):
        with pytest.raises(Invalid):
            check_phone(bad)
    for bad in ("a@b", "a..b@example.dz", "@example.dz", "a@example.dz>", "a@-example.dz"):
        with pytest.raises(Invalid):
            check_email(bad)
    c = practitioner(SURGEON, language="ar")
    assert c.language is Language.ar
    with pytest.raises(Invalid) as caught:
        practitioner(SURGEON, language="kab")
    assert caught.value.field == "language"


def test_a_webhook_needs_a_secret_and_a_contact_needs_a_channel() -> None:
    with pytest.raises(Invalid) as caught:
        institution(CMCI, email=None, webhook_url="https://hooks.cmci.dz/j")
    assert caught.value.field == "webhook_secret"
    hooked = institution(CMCI, email=None, webhook_url="https://hooks.cmci.dz/j", webhook_secret="s" * 16)
    assert hooked.channels() == [Channel.webhook]
    without_hook = hooked.update(UpdateContact(hooked.id, {"webhook_url": None, "email": "d@cmci.dz"}))
    assert without_hook.webhook_secret is None, "a secret without a webhook is dropped"
    with pytest.raises(Invalid) as caught:
        hooked.update(UpdateContact(hooked.id, {"webhook_url": None}))
    assert caught.value.field == "email"
    with pytest.raises(Invalid) as caught:
        hooked.update(UpdateContact(hooked.id, {"kind": "family"}))
    assert caught.value.field == "kind"


def test_consent_is_for_families() -> None:
    with pytest.raises(Conflict):
        practitioner(SURGEON).record_consent("lui-même", NOW)
    f = family(consent=False)
    assert not f.may_be_told
    consented = f.record_consent(" la mère ", NOW)
    assert consented.may_be_told and consented.consent and consented.consent.given_by == "la mère"
    assert not consented.withdraw_consent().may_be_told
    with pytest.raises(Invalid):
        f.record_consent("  ", NOW)


# -- reminders ----------------------------------------------------------------------------------------

ALGIERS = ReminderPolicy(9, ZoneInfo("Africa/Algiers"))


def test_reminder_is_due_the_local_day_before_at_the_hour() -> None:
    plan = ALGIERS.plan(ReminderKind.surgery, SURGERY.id, datetime(2031, 5, 27, 7, 30, tzinfo=UTC), NOW)
    assert plan is not None
    assert plan.due_on == date(2031, 5, 26)
    assert plan.due_at == datetime(2031, 5, 26, 8, 0, tzinfo=UTC), "09:00 in Algiers is 08:00Z"
    # 23:30Z on the 26th is already the 27th in Algiers: the reminder is on the 26th, not the 25th.
    late = ALGIERS.plan(ReminderKind.surgery, SURGERY.id, datetime(2031, 5, 26, 23, 30, tzinfo=UTC), NOW)
    assert late is not None and late.due_on == date(2031, 5, 26)
    mission = ALGIERS.plan(ReminderKind.mission, MISSION.id, ALGIERS.mission_start(date(2031, 5, 26)), NOW)
    assert mission is not None and mission.due_at == datetime(2031, 5, 25, 8, 0, tzinfo=UTC)


def test_no_reminder_for_what_has_begun_and_a_late_plan_is_due_at_once() -> None:
    start = datetime(2031, 5, 20, 10, 0, tzinfo=UTC)
    assert ALGIERS.plan(ReminderKind.surgery, SURGERY.id, start, start) is None
    soon = ALGIERS.plan(ReminderKind.surgery, SURGERY.id, start, NOW)
    assert soon is not None and soon.due_at <= NOW


def test_a_reminder_fires_once_and_expires_when_too_late() -> None:
    plan = ALGIERS.plan(ReminderKind.surgery, SURGERY.id, datetime(2031, 5, 27, 7, 30, tzinfo=UTC), NOW)
    assert plan is not None
    assert plan.fire(plan.due_at) is True
    assert plan.status is ReminderStatus.fired
    assert plan.fire(plan.due_at) is False, "never twice"
    late = ALGIERS.plan(ReminderKind.surgery, SURGERY.id, datetime(2031, 5, 27, 7, 30, tzinfo=UTC), NOW)
    assert late is not None
    assert late.fire(datetime(2031, 5, 27, 8, 0, tzinfo=UTC)) is False
    assert late.status is ReminderStatus.expired


# -- the replica tolerates events out of order -------------------------------------------------------------


def test_an_older_plan_does_not_undo_a_newer_one_and_cancellation_is_final() -> None:
    s = KnownSurgery(uuid.uuid4())
    s.plan("Bloc 1", datetime(2031, 5, 28, 9, 0, tzinfo=UTC), at=NOW + timedelta(minutes=5))  # rescheduled
    s.plan("Bloc 2", datetime(2031, 5, 27, 7, 30, tzinfo=UTC), at=NOW)  # the original, arriving late
    assert s.operating_room == "Bloc 1"
    s.move_to(PlanStatus.cancelled)
    s.move_to(PlanStatus.scheduled)
    assert s.status is PlanStatus.cancelled and not s.active


# -- delivery ---------------------------------------------------------------------------------------------


def notification() -> Notification:
    return Notification(id=uuid.uuid4(), cause_event_id=uuid.uuid4(), cause_type="MissionScheduled",
                        contact_id=uuid.uuid4(), recipient_ref="contact:x", channel=Channel.webhook, language="fr",
                        template="MissionScheduled/fr/webhook", message=Message(text="x"), created_at=NOW)


def test_transient_failures_back_off_then_fail_after_the_last_attempt() -> None:
    policy = RetryPolicy(delays=(30, 120), lease=60)
    n = notification()
    assert n.due(NOW)
    claim = uuid.uuid4()
    n.take(NOW, policy, claim)
    assert n.status is NotificationStatus.sending and n.attempts == 1 and n.holds(claim)
    assert not n.due(NOW + timedelta(seconds=59)), "held under the lease"
    assert n.attempt_failed(TransientFailure("webhook answered 503"), NOW, policy) is False
    assert n.status is NotificationStatus.pending
    assert n.next_attempt_at == NOW + timedelta(seconds=30)
    assert not n.due(NOW + timedelta(seconds=29))

    n.take(NOW + timedelta(seconds=30), policy, uuid.uuid4())
    assert n.attempt_failed(TransientFailure("webhook answered 502"), NOW, policy) is False
    assert n.next_attempt_at == NOW + timedelta(seconds=120)
    n.take(NOW + timedelta(seconds=120), policy, uuid.uuid4())
    assert n.attempt_failed(TransientFailure("webhook answered 500"), NOW, policy) is True
    assert n.status is NotificationStatus.failed and n.attempts == 3 and n.last_error == "webhook answered 500"


def test_permanent_failure_fails_at_once_and_success_is_final() -> None:
    policy = RetryPolicy(delays=(30, 120))
    n = notification()
    n.take(NOW, policy, uuid.uuid4())
    assert n.attempt_failed(PermanentFailure("webhook answered 410"), NOW, policy) is True
    assert n.status is NotificationStatus.failed and n.attempts == 1

    ok = notification()
    ok.take(NOW, policy, uuid.uuid4())
    ok.delivered(NOW)
    assert ok.status is NotificationStatus.sent and not ok.due(NOW + timedelta(days=1))


def test_an_abandoned_claim_is_taken_over_after_its_lease() -> None:
    policy = RetryPolicy(delays=(30,), lease=60)
    n = notification()
    first = uuid.uuid4()
    n.take(NOW, policy, first)  # the worker stops here, after claiming, before its send began
    later = NOW + timedelta(seconds=61)
    assert n.due(later)
    second = uuid.uuid4()
    n.take(later, policy, second)
    assert n.attempts == 2 and n.holds(second) and not n.holds(first), "the first worker's outcome is ignored"


def test_a_send_that_began_is_never_taken_over_its_outcome_becomes_unknown_until_recorded() -> None:
    from notification.domain.delivery import OUTCOME_UNKNOWN

    policy = RetryPolicy(delays=(30,), lease=60)
    n = notification()
    claim = uuid.uuid4()
    n.take(NOW, policy, claim)
    n.begin(policy, claim, NOW + timedelta(seconds=1))  # written before the send
    assert n.status is NotificationStatus.transmitting and n.holds(claim)
    later = NOW + timedelta(seconds=62)
    assert not n.due(later), "never taken over: it may have gone out"
    assert not n.in_doubt(NOW + timedelta(seconds=60)) and n.in_doubt(later)
    n.outcome_unknown()
    assert (n.status, n.last_error, n.attempts) == (NotificationStatus.unknown, OUTCOME_UNKNOWN, 1)
    assert not n.due(later + timedelta(days=1)) and n.holds(claim), "not due again, still its worker's"
    n.delivered(later)  # the worker that sent it records the real outcome after all
    assert n.status is NotificationStatus.sent and n.attempts == 1
    with pytest.raises(ValueError):
        notification().begin(policy, claim, NOW)  # only a claimed notification begins


def test_a_lease_runs_on_real_time_not_on_a_clock_that_jumps() -> None:
    # A demonstration moves its scenario clock days ahead while a notification is being sent:
    # the lease, a technical timeout, still holds, so no second worker sends it again.
    policy = RetryPolicy(delays=(30,), lease=60)
    n = notification()
    n.take(NOW, policy, uuid.uuid4(), wall=REAL)
    assert not n.due(NOW + timedelta(days=3), REAL + timedelta(seconds=5))
    assert n.due(NOW + timedelta(days=3), REAL + timedelta(seconds=61))


def test_cancel_only_what_is_pending() -> None:
    n = notification()
    n.cancel()
    assert n.status is NotificationStatus.cancelled and not n.due(NOW)
    sent = notification()
    sent.take(NOW, RetryPolicy(()), uuid.uuid4())
    sent.delivered(NOW)
    sent.cancel()
    assert sent.status is NotificationStatus.sent


def test_template_resolution_order() -> None:
    assert resolution_order("SurgeryScheduled", Language.ar) == [
        ("SurgeryScheduled", Language.ar), ("SurgeryScheduled", Language.fr), (GENERIC, Language.ar),
        (GENERIC, Language.fr)]
    assert resolution_order("SurgeryScheduled", Language.fr) == [("SurgeryScheduled", Language.fr),
                                                                  (GENERIC, Language.fr)]
