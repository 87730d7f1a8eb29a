"""One function per command or incoming event: load, call the domain, save, record events.

Incoming events update this service's replica of missions, conventions and
surgeries, move reminders, and create *pending* notifications in the
consumer's transaction (the inbox makes that idempotent, the unique key
(cause, recipient, channel) makes it so twice over). Sending is the delivery
worker's job, after commit (``worker.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from jumelage import context
from jumelage.errors import Conflict, NotFound
from jumelage.events import (
    CloudEvent, ConventionAmended, ConventionSigned, InstitutionRegistered, MissionRescheduled, MissionScheduled,
    SurgeryCancelled, SurgeryCompleted, SurgeryRescheduled, SurgeryScheduled,
)
from jumelage.events.notification import Channel
from jumelage.preconditions import IfMatch, check_if_match
from notification.domain.contacts import (
    SUBJECT_FIELD, Contact, CreateContact, Language, RecordConsent, UpdateContact,
)
from notification.domain.delivery import Message, Notification
from notification.domain.institutions import KnownInstitution
from notification.domain.programme import (
    ConventionParty, Facts, KnownConvention, KnownMission, KnownSurgery, PlanStatus, TeamMember,
)
from notification.domain.reminders import Reminder, ReminderKind
from notification.domain.routing import Occurrence, Recipient, Subscription, recipients
from notification.domain.templates import GENERIC, TemplateText
from notification.store import NotificationFilter, NotificationUnitOfWork

# -- contacts ------------------------------------------------------------------------------


async def create_contact(cmd: CreateContact, uow: NotificationUnitOfWork) -> Contact:
    contact = Contact.create(cmd)
    async with uow:
        existing = await uow.contacts.for_subject(contact.kind, contact.subject_ref)
        if existing is not None:
            raise _duplicate(contact, existing.id)
        await uow.contacts.save(contact, uow.now)
        try:
            await uow.commit()
        except IntegrityError:  # created concurrently by another request
            raise _duplicate(contact, None) from None
    return contact


def _duplicate(contact: Contact, existing: uuid.UUID | None) -> Conflict:
    field = SUBJECT_FIELD[contact.kind]
    which = f" (id {existing})" if existing else ""
    return Conflict(f"a contact for {field} {contact.subject_ref} already exists{which}")


async def get_contact(contact_id: uuid.UUID, uow: NotificationUnitOfWork) -> Contact:
    async with uow:
        return await _contact(uow, contact_id)


async def _contact(uow: NotificationUnitOfWork, contact_id: uuid.UUID) -> Contact:
    contact = await uow.contacts.get(contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


async def _contact_to_change(uow: NotificationUnitOfWork, contact_id: uuid.UUID, expected: IfMatch | None) -> Contact:
    """The contact, locked for a change of it; PreconditionFailed if ``expected`` (the caller's
    If-Match) is stale: checked on the locked row, so nothing comes between it and the write."""
    contact = await uow.contacts.get(contact_id, for_update=True)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    check_if_match(expected, f"contact {contact.id}", contact)
    return contact


async def update_contact(cmd: UpdateContact, uow: NotificationUnitOfWork, *,
                         expected: IfMatch | None = None) -> Contact:
    async with uow:
        contact = (await _contact_to_change(uow, cmd.contact_id, expected)).update(cmd)
        await uow.contacts.save(contact, uow.now)
        await uow.commit()
    return contact


async def delete_contact(contact_id: uuid.UUID, uow: NotificationUnitOfWork, *,
                         expected: IfMatch | None = None) -> None:
    """Forget a contact (and its subscriptions); what was not sent yet never will be.
    Sent notifications stay in the history under the contact's ref, which names nobody."""
    async with uow:
        await _contact_to_change(uow, contact_id, expected)
        await uow.notifications.cancel_pending(contact_id)
        await uow.contacts.delete(contact_id)
        await uow.commit()


async def record_consent(cmd: RecordConsent, uow: NotificationUnitOfWork, *,
                         expected: IfMatch | None = None) -> Contact:
    async with uow:
        contact = (await _contact_to_change(uow, cmd.contact_id, expected)).record_consent(
            cmd.given_by, cmd.given_at or uow.now)
        await uow.contacts.save(contact, uow.now)
        await uow.commit()
    return contact


async def withdraw_consent(contact_id: uuid.UUID, uow: NotificationUnitOfWork, *,
                           expected: IfMatch | None = None) -> Contact:
    async with uow:
        contact = (await _contact_to_change(uow, contact_id, expected)).withdraw_consent()
        await uow.contacts.save(contact, uow.now)
        await uow.notifications.cancel_pending(contact_id)  # nothing more leaves for this family
        await uow.commit()
    return contact


@dataclass(frozen=True)
class AddSubscription:
    contact_id: uuid.UUID
    event_type: str
    convention_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    opt_out: bool = False


async def add_subscription(cmd: AddSubscription, uow: NotificationUnitOfWork) -> Subscription:
    subscription = Subscription.new(cmd.contact_id, cmd.event_type, convention_id=cmd.convention_id,
                                    institution_id=cmd.institution_id, opt_out=cmd.opt_out)
    async with uow:
        await _contact(uow, cmd.contact_id)
        same = await uow.subscriptions.same_rule(subscription)
        if same is not None:
            raise Conflict(f"contact already has a rule for {cmd.event_type} ({subscription.scope}): {same.id}")
        await uow.subscriptions.add(subscription, uow.now)
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(f"contact already has a rule for {cmd.event_type} ({subscription.scope})") from None
    return subscription


async def list_subscriptions(contact_id: uuid.UUID, uow: NotificationUnitOfWork) -> list[Subscription]:
    async with uow:
        await _contact(uow, contact_id)
        return await uow.subscriptions.of(contact_id)


async def remove_subscription(contact_id: uuid.UUID, subscription_id: uuid.UUID, uow: NotificationUnitOfWork) -> None:
    async with uow:
        await _contact(uow, contact_id)
        if not await uow.subscriptions.delete(contact_id, subscription_id):
            raise NotFound(f"contact {contact_id} has no subscription {subscription_id}")
        await uow.commit()


# -- templates ---------------------------------------------------------------------------------


async def effective_template(name: str, language: Language, channel: Channel, uow: NotificationUnitOfWork) -> TemplateText:
    """The override if one is stored, else the shipped default (no fallback: this is
    what an editor would change)."""
    async with uow:
        override = await uow.templates.get(name, language, channel)
    if override is not None:
        return override
    default = _renderer(uow).default(name, language, channel)
    if default is None:
        raise NotFound(f"no {channel} template {name} in {language}; notifications fall back to French, "
                       "then to the generic template")
    return default


async def put_template(name: str, language: Language, channel: Channel, parts: dict[str, str | None],
                       uow: NotificationUnitOfWork) -> TemplateText:
    async with uow:
        text = TemplateText.override(name, language, channel, parts, uow.now)
        _renderer(uow).check(text)
        await uow.templates.put(text)
        await uow.commit()
    return text


async def delete_template(name: str, language: Language, channel: Channel, uow: NotificationUnitOfWork) -> None:
    async with uow:
        if not await uow.templates.delete(name, language, channel):
            raise NotFound(f"no override of {name}/{language}/{channel}")
        await uow.commit()


def _renderer(uow: NotificationUnitOfWork) -> Any:
    renderer = uow.services.renderer
    if renderer is None:
        raise RuntimeError("no template renderer configured")
    return renderer


# -- notifications (reads) ---------------------------------------------------------------------


async def find_notifications(f: NotificationFilter, limit: int, offset: int,
                             uow: NotificationUnitOfWork) -> tuple[list[Notification], int]:
    async with uow:
        return await uow.notifications.search(f, limit=limit, offset=offset)


# -- incoming events: replicas ----------------------------------------------------------------


async def record_institution(event: CloudEvent[InstitutionRegistered], uow: NotificationUnitOfWork) -> None:
    """``InstitutionRegistered`` and ``InstitutionUpdated``: upsert the replica."""
    data = event.data
    await uow.institutions.save(
        KnownInstitution(id=data.institution_id, name=data.name, kind=data.kind.value, country=data.country,
                         city=data.city),
        event_id=event.id, as_of=event.time,
    )
    await notify_event(event, uow, Occurrence(event.type, institution_id=data.institution_id))


async def on_convention_signed(event: CloudEvent[ConventionSigned], uow: NotificationUnitOfWork) -> None:
    d = event.data
    convention = await uow.conventions.get(d.convention_id, lock=True) or KnownConvention(d.convention_id)
    convention.reference, convention.title = d.reference, d.title
    convention.parties = tuple(ConventionParty(p.institution_id, p.role.value) for p in d.parties)
    await uow.conventions.save(convention)
    await notify_event(event, uow, Occurrence(event.type, Facts(convention=convention)))


async def on_convention_amended(event: CloudEvent[ConventionAmended], uow: NotificationUnitOfWork) -> None:
    d = event.data
    convention = await uow.conventions.get(d.convention_id, lock=True) or KnownConvention(d.convention_id)
    changes = d.changes
    if "parties" in changes:
        convention.parties = tuple(ConventionParty(p.institution_id, p.role.value) for p in changes["parties"])
    convention.reference = changes.get("reference", convention.reference)
    convention.title = changes.get("title", convention.title)
    await uow.conventions.save(convention)
    await notify_event(event, uow, Occurrence(event.type, Facts(convention=convention)))


async def on_convention_status(event: CloudEvent[Any], uow: NotificationUnitOfWork) -> None:
    """Suspended, resumed, terminated, expired: nobody by default; subscribers are told."""
    convention_id = event.data.convention_id
    convention = await uow.conventions.get(convention_id, lock=True)
    if convention is not None:
        convention.status = event.type.removeprefix("Convention").lower()
        await uow.conventions.save(convention)
    await notify_event(event, uow, Occurrence(event.type, Facts(convention=convention), convention_id=convention_id))


async def on_mission_scheduled(event: CloudEvent[MissionScheduled], uow: NotificationUnitOfWork) -> None:
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    mission.convention_id, mission.specialty = d.convention_id, d.specialty
    mission.host_institution_id, mission.visiting_institution_id = d.host_institution_id, d.visiting_institution_id
    mission.team = tuple(TeamMember(m.practitioner_id, m.full_name, m.role.value) for m in d.team)
    mission.plan(d.starts_on, d.ends_on, event.time)
    await _mission_changed(event, mission, uow)


async def on_mission_rescheduled(event: CloudEvent[MissionRescheduled], uow: NotificationUnitOfWork) -> None:
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    mission.plan(d.starts_on, d.ends_on, event.time)
    await _mission_changed(event, mission, uow)


async def on_mission_status(event: CloudEvent[Any], uow: NotificationUnitOfWork) -> None:
    """Cancelled, started, completed, put on hold, released (whatever the contract adds)."""
    status = {
        "MissionCancelled": PlanStatus.cancelled, "MissionStarted": PlanStatus.started,
        "MissionCompleted": PlanStatus.completed, "MissionSuspended": PlanStatus.on_hold,
        "MissionResumed": PlanStatus.scheduled,
    }.get(event.type)
    d = event.data
    mission = await uow.missions.get(d.mission_id, lock=True) or KnownMission(d.mission_id)
    if mission.convention_id is None:
        mission.convention_id = getattr(d, "convention_id", None)
    if status is not None:
        if status is PlanStatus.scheduled and mission.status is PlanStatus.on_hold:
            mission.status = status  # released: the only way back from a hold
        elif status is not PlanStatus.scheduled:
            mission.move_to(status)
    await _mission_changed(event, mission, uow)


async def _mission_changed(event: CloudEvent[Any], mission: KnownMission, uow: NotificationUnitOfWork) -> None:
    new = await uow.missions.save(mission)
    starts_at = _policy(uow).mission_start(mission.starts_on) if mission.starts_on else None
    await _sync_reminder(uow, ReminderKind.mission, mission.id, starts_at if mission.active else None, new_subject=new)
    facts = Facts(mission=mission, convention=await uow.conventions.get(
        mission.convention_id or getattr(event.data, "convention_id", None)))
    await notify_event(event, uow, Occurrence(event.type, facts))


async def on_surgery_scheduled(event: CloudEvent[SurgeryScheduled], uow: NotificationUnitOfWork) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id, surgery.convention_id, surgery.patient_ref = d.mission_id, d.convention_id, d.patient_ref
    surgery.procedure, surgery.lead_surgeon_id = d.procedure, d.lead_surgeon_id
    surgery.plan(d.operating_room, d.scheduled_start, event.time)
    await _surgery_changed(event, surgery, uow)


async def on_surgery_rescheduled(event: CloudEvent[SurgeryRescheduled], uow: NotificationUnitOfWork) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.plan(d.operating_room, d.scheduled_start, event.time)
    await _surgery_changed(event, surgery, uow)


async def on_surgery_cancelled(event: CloudEvent[SurgeryCancelled], uow: NotificationUnitOfWork) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id, mission_id=d.mission_id)
    surgery.move_to(PlanStatus.cancelled)
    await _surgery_changed(event, surgery, uow)


async def on_surgery_completed(event: CloudEvent[SurgeryCompleted], uow: NotificationUnitOfWork) -> None:
    d = event.data
    surgery = await uow.surgeries.get(d.surgery_id, lock=True) or KnownSurgery(d.surgery_id)
    surgery.mission_id = surgery.mission_id or d.mission_id
    surgery.convention_id = surgery.convention_id or d.convention_id
    surgery.patient_ref = surgery.patient_ref or d.patient_ref
    surgery.procedure = surgery.procedure or d.procedure
    surgery.move_to(PlanStatus.completed)
    await _surgery_changed(event, surgery, uow)


async def _surgery_changed(event: CloudEvent[Any], surgery: KnownSurgery, uow: NotificationUnitOfWork) -> None:
    new = await uow.surgeries.save(surgery)
    await _sync_reminder(uow, ReminderKind.surgery, surgery.id, surgery.scheduled_start if surgery.active else None,
                         new_subject=new)
    await notify_event(event, uow, Occurrence(event.type, await _surgery_facts(uow, surgery)))


async def _surgery_facts(uow: NotificationUnitOfWork, surgery: KnownSurgery) -> Facts:
    mission = await uow.missions.get(surgery.mission_id)
    convention_id = surgery.convention_id or (mission.convention_id if mission else None)
    return Facts(mission=mission, convention=await uow.conventions.get(convention_id), surgery=surgery)


async def on_activity(event: CloudEvent[Any], uow: NotificationUnitOfWork) -> None:
    """Consultations and training sessions: nobody by default; subscribers are told."""
    d = event.data
    facts = Facts(mission=await uow.missions.get(d.mission_id), convention=await uow.conventions.get(d.convention_id))
    await notify_event(event, uow, Occurrence(event.type, facts, convention_id=d.convention_id,
                                              patient_ref=getattr(d, "patient_ref", None)))


# -- reminders -----------------------------------------------------------------------------------


def _policy(uow: NotificationUnitOfWork) -> Any:
    policy = uow.services.reminders
    if policy is None:
        raise RuntimeError("no reminder policy configured")
    return policy


async def _sync_reminder(uow: NotificationUnitOfWork, kind: ReminderKind, subject_id: uuid.UUID,
                         starts_at: datetime | None, *, new_subject: bool) -> None:
    """Plan the reminder for the subject's current start (none if cancelled, on hold or past)."""
    now = uow.now
    plan = _policy(uow).plan(kind, subject_id, starts_at, now) if starts_at else None
    await uow.reminders.reconcile(kind, subject_id, plan, correlation_id=context.correlation_id.get(), now=now,
                                  new_subject=new_subject)


async def fire_due_reminders(uow: NotificationUnitOfWork, limit: int = 100) -> int:
    """Turn due reminders into notifications, in one transaction with their
    ``fired`` mark: a reminder is never sent twice, not even across a restart."""
    fired = 0
    async with uow:
        now = uow.now
        for reminder, correlation_id in await uow.reminders.due(now, limit):
            if reminder.fire(now):
                with context.chain(correlation=correlation_id, causation=str(reminder.id)):
                    await _notify_reminder(reminder, uow)
                fired += 1
            await uow.reminders.save(reminder)
        await uow.commit()
    return fired


async def _notify_reminder(reminder: Reminder, uow: NotificationUnitOfWork) -> None:
    if reminder.kind is ReminderKind.surgery:
        surgery = await uow.surgeries.get(reminder.subject_id)
        if surgery is None or not surgery.active:
            return
        facts = await _surgery_facts(uow, surgery)
    else:
        mission = await uow.missions.get(reminder.subject_id)
        if mission is None or not mission.active:
            return
        facts = Facts(mission=mission, convention=await uow.conventions.get(mission.convention_id))
    info = {"kind": reminder.kind.value, f"{reminder.kind.value}_id": str(reminder.subject_id),
            "due_on": reminder.due_on.isoformat(), "starts_at": _iso(reminder.subject_starts_at)}
    await _notify(uow, Occurrence(reminder.kind.occurrence_type, facts), cause_id=reminder.id,
                  subject=f"{reminder.kind.value}s/{reminder.subject_id}", event_data=None,
                  webhook_cause={"reminder": info})


# -- routing and rendering -------------------------------------------------------------------------


async def notify_event(event: CloudEvent[Any], uow: NotificationUnitOfWork, occurrence: Occurrence) -> int:
    return await _notify(uow, occurrence, cause_id=event.id, subject=event.subject, event_data=event.data,
                         webhook_cause={"event": event.model_dump(mode="json")})


async def _notify(uow: NotificationUnitOfWork, occurrence: Occurrence, *, cause_id: uuid.UUID,
                  subject: str | None, event_data: Any, webhook_cause: dict[str, Any]) -> int:
    """Create one pending notification per recipient and channel; none if nobody is concerned."""
    candidates = await uow.contacts.candidates(occurrence.type, occurrence.default_audience())
    chosen = recipients(occurrence, candidates)
    if not chosen:
        return 0
    facts = occurrence.facts
    if facts.mission and not facts.institution_names:
        # Names for the templates: "the cardiology mission of San Donato at CMCI Bousmail".
        facts = Facts(facts.mission, facts.convention, facts.surgery,
                      await uow.institutions.names(facts.mission.institutions()))
    overrides = await uow.templates.overrides([occurrence.type, GENERIC])
    base = _template_context(occurrence.type, facts, subject, event_data)
    renderer = _renderer(uow)
    created = 0
    for recipient in chosen:
        contact = recipient.contact
        context_ = {**base, "recipient": {"name": contact.display_name or "", "kind": contact.kind.value}}
        rendered = renderer.render(occurrence.type, contact.language, recipient.channel, context_, overrides)
        message = rendered.message
        if recipient.channel is Channel.webhook:
            message = Message(text=message.text, payload=_webhook_payload(
                recipient, rendered.template, rendered.language, message.text, webhook_cause))
        notification = Notification(
            id=uuid.uuid4(), cause_event_id=cause_id, cause_type=occurrence.type, contact_id=contact.id,
            recipient_ref=contact.recipient_ref, channel=recipient.channel, language=rendered.language.value,
            template=rendered.template, message=message, created_at=uow.now,
            correlation_id=context.correlation_id.get(),
        )
        created += await uow.add_notification(notification, contact)
    return created


def _template_context(kind: str, facts: Facts, subject: str | None, event_data: Any) -> dict[str, Any]:
    m, c, s = facts.mission, facts.convention, facts.surgery
    names = facts.institution_names
    return {
        "type": kind,
        "subject": subject or "",
        "event": event_data.model_dump() if event_data is not None else None,
        "mission": {
            "specialty": m.specialty, "starts_on": m.starts_on, "ends_on": m.ends_on,
            "host": names.get(m.host_institution_id, "") if m.host_institution_id else "",
            "visiting": names.get(m.visiting_institution_id, "") if m.visiting_institution_id else "",
        } if m else None,
        "convention": {"reference": c.reference, "title": c.title} if c else None,
        "surgery": {
            "procedure": s.procedure, "operating_room": s.operating_room, "scheduled_start": s.scheduled_start,
            "patient_ref": s.patient_ref,
        } if s else None,
    }


def _webhook_payload(recipient: Recipient, template: str, language: Language, summary: str,
                     cause: dict[str, Any]) -> dict[str, Any]:
    """What a webhook receives: the event envelope (or the reminder) and who it is for,
    by reference only: never an address."""
    contact = recipient.contact
    return {
        "recipient": {"recipient_ref": contact.recipient_ref, "kind": contact.kind.value,
                      SUBJECT_FIELD[contact.kind]: contact.subject_ref},
        "template": template,
        "language": language.value,
        "summary": summary,
        **cause,
    }


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
