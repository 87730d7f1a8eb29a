"""Contacts and their subscriptions: create, read, change, forget; consent; rules."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from jumelage.clock import Clock
from jumelage.errors import Conflict, NotFound
from jumelage.versions import IfMatch, check_if_match
from notification.domain.commands import (
    AddSubscription, CreateContact, FamilyAccessRequest, DeleteContact, GetContact, ListContacts, ListSubscriptions, RecordConsent,
    RemoveSubscription, UpdateContact, WithdrawConsent,
)
from jumelage.identity_access import Read, record_reads
from jumelage.logging import get_logger
from notification.domain.contacts import SUBJECT_FIELD, Contact, ContactKind
from notification.domain.routing import Subscription
from notification.store.tables import IDENTITY_ACCESS
from notification.store.unit_of_work import NotificationUnitOfWork

log = get_logger(__name__)


async def _families_read(uow: NotificationUnitOfWork, contacts: list[Contact]) -> None:
    """A family's contact details read by a person: written down (who, when, which route)."""
    await record_reads(uow, IDENTITY_ACCESS, Read.family_contact,
                       [(c.subject_ref, c.managed_by) for c in contacts if c.kind is ContactKind.family])


async def create_contact(cmd: CreateContact, uow: NotificationUnitOfWork, *, clock: Clock) -> Contact:
    contact = Contact.create(cmd)
    async with uow:
        existing = await uow.contacts.for_subject(contact.kind, contact.subject_ref)
        if existing is not None:
            raise _duplicate(contact, existing.id)
        await uow.contacts.save(contact, clock.now())
        try:
            await uow.commit()
        except IntegrityError:  # created concurrently by another request
            raise _duplicate(contact, None) from None
    return contact


def _duplicate(contact: Contact, existing: uuid.UUID | None) -> Conflict:
    field = SUBJECT_FIELD[contact.kind]
    which = f" (id {existing})" if existing else ""
    return Conflict(f"a contact for {field} {contact.subject_ref} already exists{which}")


async def get_contact(query: GetContact, uow: NotificationUnitOfWork) -> Contact:
    async with uow:
        contact = await _contact(uow, query.contact_id)
    await _families_read(uow, [contact])
    return contact


async def list_contacts(query: ListContacts, uow: NotificationUnitOfWork) -> tuple[list[Contact], int]:
    async with uow:
        found, total = await uow.contacts.search(kind=query.kind.value if query.kind else None,
                                                 subject_ref=query.subject_ref, visible=query.visible,
                                                 limit=query.limit, offset=query.offset)
    await _families_read(uow, found)
    return found, total


async def family_access_request(query: FamilyAccessRequest, uow: NotificationUnitOfWork) -> dict[str, Any]:
    """The family's contact, the notifications sent to it (their texts: what the family received)
    and who read its contact details; the export itself is written down (``export``)."""
    from sqlalchemy import select

    async with uow:
        contact = await uow.contacts.for_subject(ContactKind.family, query.patient_ref)
        if contact is None:
            raise NotFound(f"no family contact for patient {query.patient_ref}")
        sent = await uow.notifications.of_contact(contact.id)
        c = IDENTITY_ACCESS.c
        accesses = [dict(r._mapping) for r in (await uow.session.execute(
            select(c.at, c.subject, c.institution_id, c.roles, c.action, c.what)
            .where(c.patient_ref == query.patient_ref).order_by(c.seq.desc()).limit(1000))).all()]
    await record_reads(uow, IDENTITY_ACCESS, Read.export, [(contact.subject_ref, contact.managed_by)])
    return {"contact": contact, "notifications": sent, "accesses": accesses}


async def on_patient_identity_erased(event: Any, uow: NotificationUnitOfWork) -> None:
    """``PatientIdentityErased`` (a family's request or the retention period, in the scheduling
    service): this service forgets the family's contact details too."""
    await forget_patient(event.data.patient_ref, uow)


async def forget_patient(patient_ref: str, uow: NotificationUnitOfWork) -> bool:
    """A patient's identity was erased (``PatientIdentityErased``): the family's contact goes, with
    its subscriptions; what was pending for it is cancelled (a surgery's reminder, when it fires,
    finds no family to tell), and the texts of what was sent to it are blanked. True if there was one."""
    contact = await uow.contacts.for_subject(ContactKind.family, patient_ref)
    if contact is None:
        return False
    cancelled = await uow.notifications.cancel_pending(contact.id)
    await uow.notifications.blank_texts(contact.id)
    await uow.contacts.delete(contact.id)
    log.info("family contact erased", patient_ref=patient_ref, notifications_cancelled=cancelled)
    return True


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


async def update_contact(cmd: UpdateContact, uow: NotificationUnitOfWork, *, clock: Clock) -> Contact:
    async with uow:
        contact = (await _contact_to_change(uow, cmd.contact_id, cmd.expected)).update(cmd)
        await uow.contacts.save(contact, clock.now())
        await uow.commit()
    return contact


async def delete_contact(cmd: DeleteContact, uow: NotificationUnitOfWork) -> None:
    """Forget a contact (and its subscriptions); what was not sent yet never will be.
    Sent notifications stay in the history under the contact's ref, which names nobody."""
    async with uow:
        await _contact_to_change(uow, cmd.contact_id, cmd.expected)
        await uow.notifications.cancel_pending(cmd.contact_id)
        await uow.contacts.delete(cmd.contact_id)
        await uow.commit()


async def record_consent(cmd: RecordConsent, uow: NotificationUnitOfWork, *, clock: Clock) -> Contact:
    async with uow:
        now = clock.now()
        contact = (await _contact_to_change(uow, cmd.contact_id, cmd.expected)).record_consent(
            cmd.given_by, cmd.given_at or now)
        await uow.contacts.save(contact, now)
        await uow.commit()
    return contact


async def withdraw_consent(cmd: WithdrawConsent, uow: NotificationUnitOfWork, *, clock: Clock) -> Contact:
    async with uow:
        contact = (await _contact_to_change(uow, cmd.contact_id, cmd.expected)).withdraw_consent()
        await uow.contacts.save(contact, clock.now())
        await uow.notifications.cancel_pending(cmd.contact_id)  # nothing more leaves for this family
        await uow.commit()
    return contact


async def add_subscription(cmd: AddSubscription, uow: NotificationUnitOfWork, *, clock: Clock) -> Subscription:
    subscription = Subscription.new(cmd.contact_id, cmd.event_type, convention_id=cmd.convention_id,
                                    institution_id=cmd.institution_id, opt_out=cmd.opt_out)
    async with uow:
        await _contact(uow, cmd.contact_id)
        same = await uow.subscriptions.same_rule(subscription)
        if same is not None:
            raise Conflict(f"contact already has a rule for {cmd.event_type} ({subscription.scope}): {same.id}")
        await uow.subscriptions.add(subscription, clock.now())
        try:
            await uow.commit()
        except IntegrityError:
            raise Conflict(f"contact already has a rule for {cmd.event_type} ({subscription.scope})") from None
    return subscription


async def list_subscriptions(query: ListSubscriptions, uow: NotificationUnitOfWork) -> list[Subscription]:
    async with uow:
        await _contact(uow, query.contact_id)
        return await uow.subscriptions.of(query.contact_id)


async def remove_subscription(cmd: RemoveSubscription, uow: NotificationUnitOfWork) -> None:
    async with uow:
        await _contact(uow, cmd.contact_id)
        if not await uow.subscriptions.delete(cmd.contact_id, cmd.subscription_id):
            raise NotFound(f"contact {cmd.contact_id} has no subscription {cmd.subscription_id}")
        await uow.commit()
