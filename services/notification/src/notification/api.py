"""HTTP API: body -> command -> handler -> response; nothing else."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from jumelage.api import Command, Limit, Offset, Patch, clearable
from jumelage.auth import CallerDep
from jumelage.errors import NotFound
from jumelage.events.notification import Channel
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import unit_of_work
from notification import access, handlers
from notification.domain.contacts import (
    SUBJECT_FIELD, Contact, ContactKind, CreateContact, Language, RecordConsent, UpdateContact,
)
from notification.domain.delivery import Notification, NotificationStatus
from notification.domain.reminders import ReminderKind, ReminderStatus
from notification.domain.routing import Subscription, notifiable_types
from notification.domain.templates import GENERIC, PARTS, TemplateText
from notification.store import NotificationFilter, NotificationUnitOfWork

UoW = Annotated[NotificationUnitOfWork, Depends(unit_of_work)]

# -- institutions (the replica) --------------------------------------------------------------

institutions = APIRouter(prefix="/institutions", tags=["institutions"])


class KnownInstitutionOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    country: str
    city: str


@institutions.get("", response_model=list[KnownInstitutionOut], summary="Institutions known to this service")
async def list_institutions(uow: UoW) -> list[KnownInstitutionOut]:
    async with uow:
        return [KnownInstitutionOut(**vars(i)) for i in await uow.institutions.all()]


@institutions.get("/{institution_id}", response_model=KnownInstitutionOut)
async def get_institution(institution_id: uuid.UUID, uow: UoW) -> KnownInstitutionOut:
    async with uow:
        institution = await uow.institutions.get(institution_id)
    if institution is None:
        raise NotFound(f"no institution {institution_id} known here")
    return KnownInstitutionOut(**vars(institution))


# -- contacts ---------------------------------------------------------------------------------

contacts = APIRouter(prefix="/contacts", tags=["contacts"])


class ContactIn(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"kind": "institution", "institution_id": "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6",
         "display_name": "Secrétariat CMCI Bousmail", "email": "secretariat@cmci-bousmail.dz",
         "phone": "+213555123456", "language": "fr"}]})

    kind: ContactKind
    practitioner_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    patient_ref: str | None = Field(default=None, max_length=200, examples=["P-2024-0042"])
    display_name: str | None = Field(default=None, max_length=300, examples=["Famille Benali"])
    email: str | None = Field(default=None, max_length=254, examples=["secretariat@cmci-bousmail.dz"])
    phone: str | None = Field(default=None, max_length=32, description="E.164", examples=["+213555123456"])
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret: str | None = Field(default=None, max_length=500, description="signs each webhook; never returned")
    language: Language = Language.fr
    preferred_channel: Channel | None = Field(default=None, description="send on this channel only")


class ContactPatch(Patch):
    """A contact's details; its addresses, name and preferred channel can be cleared."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "+213555987654", "language": "ar"}]})

    display_name: str | None = clearable(max_length=300)
    email: str | None = clearable(max_length=254)
    phone: str | None = clearable("E.164", max_length=32)
    webhook_url: str | None = clearable(max_length=2000)
    webhook_secret: str | None = clearable("signs each webhook; never returned", max_length=500)
    language: Language | None = None
    preferred_channel: Channel | None = clearable("send on this channel only")


class ConsentOut(BaseModel):
    given_by: str
    given_at: datetime


class ContactOut(BaseModel):
    id: uuid.UUID
    recipient_ref: str = Field(description="how events and logs name this contact")
    kind: ContactKind
    practitioner_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    patient_ref: str | None = None
    display_name: str | None
    email: str | None
    phone: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    language: Language
    preferred_channel: Channel | None
    channels: list[Channel] = Field(description="where notifications go")
    consent: ConsentOut | None
    managed_by: uuid.UUID | None = Field(description="the institution that keeps this contact")
    version: int = Field(description="raised by every change; the `ETag` header is this, quoted")
    updated_at: datetime = Field(description="when it last changed")

    @classmethod
    def of(cls, c: Contact) -> ContactOut:
        return cls(
            id=c.id, recipient_ref=c.recipient_ref, kind=c.kind, **{SUBJECT_FIELD[c.kind]: c.subject_ref},
            display_name=c.display_name, email=c.email, phone=c.phone, webhook_url=c.webhook_url,
            webhook_secret_set=bool(c.webhook_secret), language=c.language, preferred_channel=c.preferred_channel,
            channels=c.channels(), consent=ConsentOut(**vars(c.consent)) if c.consent else None,
            managed_by=c.managed_by, version=c.version, updated_at=c.updated_at,
        )


class ContactPage(BaseModel):
    items: list[ContactOut]
    total: int
    limit: int
    offset: int


@contacts.post("", status_code=201, response_model=ContactOut, summary="Add a contact",
               responses={409: {"description": "a contact for this practitioner, institution or patient exists"},
                          **read_responses(201)},
               dependencies=[access.ANY_CONTACT_ROLE])
async def create_contact(body: ContactIn, uow: UoW, caller: CallerDep, response: Response) -> ContactOut:
    keeper = access.creating(caller, body.kind, body.practitioner_id, body.institution_id)
    cmd = CreateContact(**body.model_dump(), managed_by=keeper)
    return tagged(response, ContactOut.of(await handlers.create_contact(cmd, uow)))


@contacts.get("", response_model=ContactPage, summary="List contacts")
async def list_contacts(
    uow: UoW,
    caller: CallerDep,
    kind: ContactKind | None = None,
    practitioner_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    patient_ref: Annotated[str | None, Query(max_length=200)] = None,
    managed_by: Annotated[uuid.UUID | None, Query(description="kept by this institution")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ContactPage:
    subject = next((str(v) for v in (practitioner_id, institution_id, patient_ref) if v), None)
    if kind is None and subject is not None:
        kind = (ContactKind.practitioner if practitioner_id else
                ContactKind.institution if institution_id else ContactKind.family)
    visible = access.listing(caller, kind, managed_by, institution_id)  # the caller's own contacts only
    async with uow:
        items, total = await uow.contacts.search(kind=kind.value if kind else None, subject_ref=subject,
                                                 visible=visible, limit=limit, offset=offset)
    return ContactPage(items=[ContactOut.of(c) for c in items], total=total, limit=limit, offset=offset)


@contacts.get("/{contact_id}", response_model=ContactOut, dependencies=[access.KEPT_CONTACT],
              responses=read_responses())
async def get_contact(contact_id: uuid.UUID, uow: UoW, response: Response) -> ContactOut:
    return tagged(response, ContactOut.of(await handlers.get_contact(contact_id, uow)))


# The contact's changes take an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@contacts.patch("/{contact_id}", response_model=ContactOut, summary="Change a contact's details",
                dependencies=[access.KEPT_CONTACT], responses=change_responses())
async def update_contact(contact_id: uuid.UUID, body: ContactPatch, uow: UoW, expected: IfMatchDep,
                         response: Response) -> ContactOut:
    cmd = UpdateContact(contact_id, body.changes())
    return tagged(response, ContactOut.of(await handlers.update_contact(cmd, uow, expected=expected)))


@contacts.delete("/{contact_id}", status_code=204, summary="Forget a contact; unsent notifications are cancelled",
                 dependencies=[access.KEPT_CONTACT], responses=change_responses(None))
async def delete_contact(contact_id: uuid.UUID, uow: UoW, expected: IfMatchDep) -> Response:
    await handlers.delete_contact(contact_id, uow, expected=expected)
    return Response(status_code=204)


class ConsentIn(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"given_by": "mother, by signed form", "given_at": "2030-05-02T10:00:00+01:00"}]})

    given_by: str = Field(min_length=1, max_length=300, examples=["mother, by signed form"])
    given_at: AwareDatetime | None = Field(default=None, description="default: now")


@contacts.post("/{contact_id}/consent", response_model=ContactOut,
               summary="Record a family's consent to be notified (families only)", dependencies=[access.KEPT_CONTACT],
               responses=change_responses())
async def record_consent(contact_id: uuid.UUID, body: ConsentIn, uow: UoW, expected: IfMatchDep,
                         response: Response) -> ContactOut:
    cmd = RecordConsent(contact_id, body.given_by, body.given_at)
    return tagged(response, ContactOut.of(await handlers.record_consent(cmd, uow, expected=expected)))


@contacts.delete("/{contact_id}/consent", response_model=ContactOut,
                 summary="Withdraw a family's consent; its unsent notifications are cancelled",
                 dependencies=[access.KEPT_CONTACT], responses=change_responses())
async def withdraw_consent(contact_id: uuid.UUID, uow: UoW, expected: IfMatchDep,
                           response: Response) -> ContactOut:
    return tagged(response, ContactOut.of(await handlers.withdraw_consent(contact_id, uow, expected=expected)))


class SubscriptionIn(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"event_type": "ConventionSuspended", "convention_id": "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"}]})

    event_type: str = Field(min_length=1, max_length=100, examples=["ConventionSuspended"],
                            description="an event type or SurgeryReminder/MissionReminder",
                            json_schema_extra={"enum": list(notifiable_types())})  # the registry's, as checked
    convention_id: uuid.UUID | None = Field(default=None, description="only this convention's events")
    institution_id: uuid.UUID | None = Field(default=None, description="only events concerning this institution")
    opt_out: bool = Field(default=False, description="true: never receive this type (defaults included)")


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    contact_id: uuid.UUID
    event_type: str
    convention_id: uuid.UUID | None
    institution_id: uuid.UUID | None
    opt_out: bool

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(**vars(s))


@contacts.post("/{contact_id}/subscriptions", status_code=201, response_model=SubscriptionOut,
               summary="Subscribe to an event type (in addition to the defaults), or opt out of it",
               dependencies=[access.KEPT_CONTACT])
async def add_subscription(contact_id: uuid.UUID, body: SubscriptionIn, uow: UoW) -> SubscriptionOut:
    cmd = handlers.AddSubscription(contact_id, **body.model_dump())
    return SubscriptionOut.of(await handlers.add_subscription(cmd, uow))


@contacts.get("/{contact_id}/subscriptions", response_model=list[SubscriptionOut],
              summary="A contact's explicit subscriptions and opt-outs (the defaults come from events)",
              dependencies=[access.KEPT_CONTACT])
async def list_subscriptions(contact_id: uuid.UUID, uow: UoW) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in await handlers.list_subscriptions(contact_id, uow)]


@contacts.delete("/{contact_id}/subscriptions/{subscription_id}", status_code=204, dependencies=[access.KEPT_CONTACT])
async def remove_subscription(contact_id: uuid.UUID, subscription_id: uuid.UUID, uow: UoW) -> Response:
    await handlers.remove_subscription(contact_id, subscription_id, uow)
    return Response(status_code=204)


# -- templates --------------------------------------------------------------------------------

templates = APIRouter(prefix="/templates", tags=["templates"])


def _template_name(value: str) -> str:
    if value != GENERIC and value not in notifiable_types():
        raise ValueError(f"unknown event type {value!r}")
    return value


TemplateName = Annotated[str, Path(max_length=100, description="an event type, a reminder type, or Generic",
                                   json_schema_extra={"enum": [GENERIC, *notifiable_types()]}),
                         AfterValidator(_template_name)]


class TemplateIn(Command):
    """Jinja2 sources. Email: subject, text and html (a body fragment, wrapped in the
    layout with ``lang``/``dir``); SMS and webhook (the payload's summary): text."""

    # Not stripped: a template's spacing is its own.
    model_config = ConfigDict(str_strip_whitespace=False, json_schema_extra={"examples": [{
        "subject": "Mission scheduled: {{ mission.specialty }} at {{ mission.host }}",
        "text": "Hello {{ recipient.name }},\n\nThe mission starts on {{ mission.starts_on|day }}.\n",
        "html": "<p>Hello {{ recipient.name }},</p><p>The mission starts on {{ mission.starts_on|day }}.</p>"}]})

    subject: str | None = Field(default=None, max_length=1000)
    text: str = Field(min_length=1, max_length=50_000)
    html: str | None = Field(default=None, max_length=200_000)


class TemplateOut(BaseModel):
    event_type: str
    language: Language
    channel: Channel
    source: str = Field(description="default (shipped) or override (stored)")
    subject: str | None = None
    text: str
    html: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, t: TemplateText) -> TemplateOut:
        return cls(event_type=t.name, language=t.language, channel=t.channel, source=t.source,
                   updated_at=t.updated_at, **t.parts)


class TemplateListItem(BaseModel):
    event_type: str
    language: Language
    channel: Channel
    source: str


@templates.get("", response_model=list[TemplateListItem], summary="Every template, shipped or overridden",
               dependencies=[access.DESK])
async def list_templates(uow: UoW) -> list[TemplateListItem]:
    async with uow:
        overrides = await uow.templates.overrides()
    renderer: Any = uow.services.renderer
    found: dict[tuple[str, Language, Channel], str] = {}
    for name, language in renderer.names():
        for channel in PARTS:
            if renderer.default(name, language, channel) is not None:
                found[(name, language, channel)] = "default"
    for key in overrides:
        found[key] = "override"
    return [TemplateListItem(event_type=n, language=lang, channel=ch, source=src)
            for (n, lang, ch), src in sorted(found.items())]


@templates.get("/{event_type}/{language}/{channel}", response_model=TemplateOut, dependencies=[access.DESK])
async def get_template(event_type: TemplateName, language: Language, channel: Channel, uow: UoW) -> TemplateOut:
    return TemplateOut.of(await handlers.effective_template(event_type, language, channel, uow))


@templates.put("/{event_type}/{language}/{channel}", response_model=TemplateOut,
               summary="Override a template (compiled before it is stored)", dependencies=[access.DESK])
async def put_template(event_type: TemplateName, language: Language, channel: Channel, body: TemplateIn,
                       uow: UoW) -> TemplateOut:
    parts = body.model_dump()
    return TemplateOut.of(await handlers.put_template(event_type, language, channel, parts, uow))


@templates.delete("/{event_type}/{language}/{channel}", status_code=204, summary="Back to the shipped default",
                  dependencies=[access.DESK])
async def delete_template(event_type: TemplateName, language: Language, channel: Channel, uow: UoW) -> Response:
    await handlers.delete_template(event_type, language, channel, uow)
    return Response(status_code=204)


# -- notifications ------------------------------------------------------------------------------

notifications = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    id: uuid.UUID
    cause_event_id: uuid.UUID = Field(description="the event, or the reminder, that caused it")
    cause_type: str
    recipient_ref: str
    channel: Channel
    language: str
    template: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(id=n.id, cause_event_id=n.cause_event_id, cause_type=n.cause_type, recipient_ref=n.recipient_ref,
                   channel=n.channel, language=n.language, template=n.template, status=n.status,
                   attempts=n.attempts,
                   next_attempt_at=n.next_attempt_at if n.status is NotificationStatus.pending else None,
                   last_error=n.last_error, created_at=n.created_at, sent_at=n.sent_at)


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    limit: int
    offset: int


@notifications.get("", response_model=NotificationPage, summary="Notifications and their delivery status, newest first",
                   dependencies=[access.DESK])
async def list_notifications(
    uow: UoW,
    cause_event_id: uuid.UUID | None = None,
    recipient_ref: Annotated[str | None, Query(max_length=200)] = None,
    status: NotificationStatus | None = None,
    cause_type: Annotated[str | None, Query(max_length=100,
                                            description="an event type, SurgeryReminder or MissionReminder")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> NotificationPage:
    f = NotificationFilter(cause_event_id=cause_event_id, recipient_ref=recipient_ref, status=status,
                           cause_type=cause_type)
    items, total = await handlers.find_notifications(f, limit, offset, uow)
    return NotificationPage(items=[NotificationOut.of(n) for n in items], total=total, limit=limit, offset=offset)


@notifications.get("/{notification_id}", response_model=NotificationOut, dependencies=[access.DESK])
async def get_notification(notification_id: uuid.UUID, uow: UoW) -> NotificationOut:
    async with uow:
        n = await uow.notifications.get(notification_id)
    if n is None:
        raise NotFound(f"no notification {notification_id}")
    return NotificationOut.of(n)


# -- reminders ------------------------------------------------------------------------------------

reminders = APIRouter(prefix="/reminders", tags=["reminders"])


class ReminderOut(BaseModel):
    id: uuid.UUID = Field(description="the cause_event_id of the notifications it fires")
    kind: ReminderKind
    subject_id: uuid.UUID = Field(description="the surgery or mission")
    due_on: date
    due_at: datetime
    subject_starts_at: datetime
    status: ReminderStatus
    fired_at: datetime | None


class ReminderPage(BaseModel):
    items: list[ReminderOut]
    total: int
    limit: int
    offset: int


@reminders.get("", response_model=ReminderPage, summary="Day-before reminders: planned, fired, cancelled",
               dependencies=[access.DESK])
async def list_reminders(uow: UoW, subject_id: uuid.UUID | None = None, status: ReminderStatus | None = None,
                         limit: Limit = 50, offset: Offset = 0) -> ReminderPage:
    async with uow:
        items, total = await uow.reminders.search(subject_id=subject_id, status=status, limit=limit, offset=offset)
    return ReminderPage(items=[ReminderOut(**vars(r)) for r in items], total=total, limit=limit, offset=offset)


routers = [institutions, contacts, templates, notifications, reminders]
