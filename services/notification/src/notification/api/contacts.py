"""``/contacts``: contacts, their consent and their subscriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jumelage.api import Command, Limit, Offset, Patch, clearable
from jumelage.auth import CallerDep
from jumelage.events.notification import Channel
from jumelage.preconditions import IfMatchDep, change_responses, read_responses, tagged
from jumelage.service import BusDep
from notification import access
from notification.access import UoW
from notification.domain.commands import (
    AddSubscription, CreateContact, DeleteContact, GetContact, ListContacts, ListSubscriptions, RecordConsent,
    RemoveSubscription, UpdateContact, WithdrawConsent,
)
from notification.domain.contacts import SUBJECT_FIELD, Contact, ContactKind, Language
from notification.domain.routing import Subscription, notifiable_types


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
async def create_contact(body: ContactIn, uow: UoW, bus: BusDep, caller: CallerDep, response: Response) -> ContactOut:
    keeper = access.creating(caller, body.kind, body.practitioner_id, body.institution_id)
    cmd = CreateContact(**body.model_dump(), managed_by=keeper)
    return tagged(response, ContactOut.of(await bus.handle(cmd, uow)))


@contacts.get("", response_model=ContactPage, summary="List contacts")
async def list_contacts(
    uow: UoW,
    bus: BusDep,
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
    items, total = await bus.handle(ListContacts(visible, kind, subject, limit, offset), uow)
    return ContactPage(items=[ContactOut.of(c) for c in items], total=total, limit=limit, offset=offset)


@contacts.get("/{contact_id}", response_model=ContactOut, dependencies=[access.KEPT_CONTACT],
              responses=read_responses())
async def get_contact(contact_id: uuid.UUID, uow: UoW, bus: BusDep, response: Response) -> ContactOut:
    return tagged(response, ContactOut.of(await bus.handle(GetContact(contact_id), uow)))


# The contact's changes take an optional If-Match (the ETag of the caller's read): stale, it is a 412.


@contacts.patch("/{contact_id}", response_model=ContactOut, summary="Change a contact's details",
                dependencies=[access.KEPT_CONTACT], responses=change_responses())
async def update_contact(contact_id: uuid.UUID, body: ContactPatch, uow: UoW, bus: BusDep, expected: IfMatchDep,
                         response: Response) -> ContactOut:
    cmd = UpdateContact(contact_id, body.changes(), expected)
    return tagged(response, ContactOut.of(await bus.handle(cmd, uow)))


@contacts.delete("/{contact_id}", status_code=204, summary="Forget a contact; unsent notifications are cancelled",
                 dependencies=[access.KEPT_CONTACT], responses=change_responses(None))
async def delete_contact(contact_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep) -> Response:
    await bus.handle(DeleteContact(contact_id, expected), uow)
    return Response(status_code=204)


class ConsentIn(Command):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"given_by": "mother, by signed form", "given_at": "2030-05-02T10:00:00+01:00"}]})

    given_by: str = Field(min_length=1, max_length=300, examples=["mother, by signed form"])
    given_at: AwareDatetime | None = Field(default=None, description="default: now")


@contacts.post("/{contact_id}/consent", response_model=ContactOut,
               summary="Record a family's consent to be notified (families only)", dependencies=[access.KEPT_CONTACT],
               responses=change_responses())
async def record_consent(contact_id: uuid.UUID, body: ConsentIn, uow: UoW, bus: BusDep, expected: IfMatchDep,
                         response: Response) -> ContactOut:
    cmd = RecordConsent(contact_id, body.given_by, body.given_at, expected)
    return tagged(response, ContactOut.of(await bus.handle(cmd, uow)))


@contacts.delete("/{contact_id}/consent", response_model=ContactOut,
                 summary="Withdraw a family's consent; its unsent notifications are cancelled",
                 dependencies=[access.KEPT_CONTACT], responses=change_responses())
async def withdraw_consent(contact_id: uuid.UUID, uow: UoW, bus: BusDep, expected: IfMatchDep,
                           response: Response) -> ContactOut:
    return tagged(response, ContactOut.of(await bus.handle(WithdrawConsent(contact_id, expected), uow)))


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
async def add_subscription(contact_id: uuid.UUID, body: SubscriptionIn, uow: UoW, bus: BusDep) -> SubscriptionOut:
    cmd = AddSubscription(contact_id, **body.model_dump())
    return SubscriptionOut.of(await bus.handle(cmd, uow))


@contacts.get("/{contact_id}/subscriptions", response_model=list[SubscriptionOut],
              summary="A contact's explicit subscriptions and opt-outs (the defaults come from events)",
              dependencies=[access.KEPT_CONTACT])
async def list_subscriptions(contact_id: uuid.UUID, uow: UoW, bus: BusDep) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in await bus.handle(ListSubscriptions(contact_id), uow)]


@contacts.delete("/{contact_id}/subscriptions/{subscription_id}", status_code=204, dependencies=[access.KEPT_CONTACT])
async def remove_subscription(contact_id: uuid.UUID, subscription_id: uuid.UUID, uow: UoW, bus: BusDep) -> Response:
    await bus.handle(RemoveSubscription(contact_id, subscription_id), uow)
    return Response(status_code=204)
