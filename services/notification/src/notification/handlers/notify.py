"""From an occurrence (an incoming event, a due reminder) to pending notifications:
route it to its recipients, render each one's message, store them claimed for
their first attempt, and hand them to the delivery worker once the transaction
has committed (``hand_over``), with no claiming round trip: the latency path from
a command to its e-mail. If the process stops before sending, the lease runs out
and a delivery round sends them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from jumelage import context
from jumelage.clock import Clock
from jumelage.events import CloudEvent
from jumelage.events.notification import Channel
from notification.adapters.templates import TemplateRenderer
from notification.domain.contacts import SUBJECT_FIELD, Contact, Language
from notification.domain.delivery import Message, Notification, RetryPolicy
from notification.domain.programme import Facts, KnownSurgery
from notification.domain.routing import Occurrence, Recipient, recipients
from notification.domain.templates import GENERIC
from notification.store.unit_of_work import NotificationUnitOfWork

# Notifications claimed under one claim, with their contacts, handed to the delivery worker.
HandOver = Callable[[Sequence[tuple[Notification, Contact | None]], uuid.UUID], None]


async def notify_event(event: CloudEvent[Any], uow: NotificationUnitOfWork, occurrence: Occurrence, *,
                       clock: Clock, wall: Clock, renderer: TemplateRenderer, retry: RetryPolicy,
                       hand_over: HandOver, extra: dict[str, Any] | None = None) -> int:
    """``extra``: what the templates of this type are told besides the facts (``SurgeryResumed``:
    ``date_stands``, ``previous_start``)."""
    return await notify(uow, occurrence, cause_id=event.id, subject=event.subject, event_data=event.data,
                        webhook_cause={"event": event.model_dump(mode="json")}, clock=clock, wall=wall,
                        renderer=renderer, retry=retry, hand_over=hand_over, extra=extra)


async def notify(uow: NotificationUnitOfWork, occurrence: Occurrence, *, cause_id: uuid.UUID,
                 subject: str | None, event_data: Any, webhook_cause: dict[str, Any], clock: Clock, wall: Clock,
                 renderer: TemplateRenderer, retry: RetryPolicy, hand_over: HandOver,
                 extra: dict[str, Any] | None = None) -> int:
    """Create one pending notification per recipient and channel; none if nobody is concerned."""
    candidates = await uow.contacts.candidates(occurrence.type, occurrence.default_audience())
    chosen = recipients(occurrence, candidates)
    if not chosen:
        return 0
    facts = occurrence.facts
    if facts.mission and not facts.institution_names:
        # Names for the templates: "the cardiology mission of San Donato at CMCI Bousmail".
        site = facts.surgery.site_institution_id if facts.surgery else None
        facts = Facts(facts.mission, facts.convention, facts.surgery,
                      await uow.institutions.names(facts.mission.institutions() | ({site} if site else set())))
    overrides = await uow.templates.overrides([occurrence.type, GENERIC])
    base = {**(extra or {}), **_template_context(occurrence.type, facts, subject, event_data)}
    now, claim = clock.now(), uuid.uuid4()  # the first attempt of the notifications created here
    claimed: list[tuple[Notification, Contact | None]] = []
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
            template=rendered.template, message=message, created_at=now,
            correlation_id=context.correlation_id.get(),
        )
        notification.take(now, retry, claim, wall.now())
        if await uow.notifications.add(notification):  # else it existed (a redelivered event)
            claimed.append((notification, contact))
    if claimed:
        uow.after_commit(lambda: hand_over(claimed, claim))
    return len(claimed)


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
            "patient_ref": s.patient_ref, "completed_at": s.completed_at,
            # Where it takes place: its host site's name (the mission's host where it names none).
            "site": names.get(m.site_of(s.site_institution_id) if m else s.site_institution_id, ""),
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


async def surgery_facts(uow: NotificationUnitOfWork, surgery: KnownSurgery) -> Facts:
    mission = await uow.missions.get(surgery.mission_id)
    convention_id = surgery.convention_id or (mission.convention_id if mission else None)
    return Facts(mission=mission, convention=await uow.conventions.get(convention_id), surgery=surgery)
