"""Who may do what here (the README's access table, for this service).

- administrators run the notification desk: templates, every notification and
  reminder, and every contact but families';
- a contact is kept by one institution (``managed_by``, the creator's): its
  coordinators keep its practitioner and institution contacts, its clinicians
  keep the families of its patients (and only they see them);
- a practitioner keeps their own contact (``practitioner`` claim);
- anyone authenticated reads the directory of institutions.

Checks run as route dependencies, before the body is read.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from notification.domain.contacts import Contact, ContactKind, ContactScope
from notification.store.unit_of_work import NotificationUnitOfWork
from jumelage.auth import Caller, CallerDep, Role, deny, require
from jumelage.errors import NotFound
from jumelage.service import unit_of_work

UoW = Annotated[NotificationUnitOfWork, Depends(unit_of_work)]  # the one alias: the api imports it

DESK = require(Role.administrator, to="run the notification desk (templates, notifications, reminders)")
CONTACT_ROLES = (Role.administrator, Role.coordinator, Role.clinician, Role.practitioner)


def keeper_roles(kind: ContactKind) -> tuple[Role, ...]:
    """Who, at the keeping institution, looks after a contact of this kind."""
    return (Role.clinician,) if kind is ContactKind.family else (Role.coordinator,)


def may_keep(caller: Caller, contact: Contact) -> bool:
    if contact.kind is ContactKind.family:
        return caller.acts_for((contact.managed_by,), Role.clinician)
    return (caller.has(Role.administrator)
            or caller.acts_for((contact.managed_by,), Role.coordinator)
            or (contact.kind is ContactKind.practitioner and caller.has(Role.practitioner)
                and str(caller.practitioner_id) == contact.subject_ref))


async def _kept_contact(contact_id: uuid.UUID, caller: CallerDep, uow: UoW) -> Contact:
    if not caller.has(*CONTACT_ROLES):
        raise deny(caller, "read or change contacts")
    async with uow:
        contact = await uow.contacts.get(contact_id)
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    if not may_keep(caller, contact):
        raise deny(caller, f"read or change contact {contact.recipient_ref}: it is kept by another institution"
                           if contact.managed_by else f"read or change contact {contact.recipient_ref}")
    return contact


KEPT_CONTACT = Depends(_kept_contact)
ANY_CONTACT_ROLE = require(*CONTACT_ROLES, to="read or change contacts")


def creating(caller: Caller, kind: ContactKind, practitioner_id: uuid.UUID | None,
             institution_id: uuid.UUID | None) -> uuid.UUID | None:
    """The new contact is kept by the caller's institution; says who may not create it."""
    if kind is ContactKind.institution and not caller.has(Role.administrator) \
            and institution_id != caller.institution_id:
        # Else anyone could have another institution's notifications sent to an address of theirs.
        raise deny(caller, f"register the contact of institution {institution_id}: only its own coordinators "
                           "or an administrator may")
    if kind is ContactKind.family:
        if not caller.acts_for((caller.institution_id,), Role.clinician):
            raise deny(caller, "register a family contact (needs the role clinician of an institution)")
    elif not (caller.has(Role.administrator) or caller.acts_for((caller.institution_id,), Role.coordinator)
              or (kind is ContactKind.practitioner and caller.has(Role.practitioner)
                  and caller.practitioner_id is not None and caller.practitioner_id == practitioner_id)):
        raise deny(caller, f"register a {kind} contact")
    return caller.institution_id


def listing(caller: Caller, kind: ContactKind | None, managed_by: uuid.UUID | None = None,
            institution_id: uuid.UUID | None = None) -> ContactScope:
    """What a caller's list is limited to. A filter naming another institution (as the
    keeper, or as the institution whose contact it is) is a 403, as on every list,
    not an empty list that hides the refusal: an institution's contact is registered
    by its own coordinators or an administrator (``creating``)."""
    if not caller.has(Role.administrator):
        for named, what in ((managed_by, "the contacts kept by"), (institution_id, "the contact of")):
            if named is not None and named != caller.institution_id:
                raise deny(caller, f"list {what} institution {named}")
    any_keeper = tuple(k.value for k in ContactKind if k is not ContactKind.family
                       and caller.has(Role.administrator))
    own_keeper = tuple(k.value for k in ContactKind
                       if caller.acts_for((caller.institution_id,), *keeper_roles(k)) and k.value not in any_keeper)
    if not (any_keeper or own_keeper) or (kind is not None and kind.value not in any_keeper + own_keeper):
        raise deny(caller, f"list {kind.value + ' ' if kind else ''}contacts")
    scope = ContactScope(any_keeper, own_keeper, caller.institution_id)
    if managed_by is not None:  # the caller's own view, narrowed to one keeper
        scope = ContactScope((), any_keeper + own_keeper, managed_by)
    return scope


async def _family_answerer(caller: CallerDep, uow: UoW,
                           patient_ref: str = Path(min_length=1, max_length=200)) -> None:
    """A family's access request is answered by the keeping institution's clinicians or privacy officer."""
    roles = (Role.clinician, Role.privacy_officer)
    what = "export a family's data (its access request)"
    if not caller.has(*roles):
        raise deny(caller, f"{what} (needs the role clinician or privacy_officer)")
    async with uow:
        contact = await uow.contacts.for_subject(ContactKind.family, patient_ref)
    if contact is None:
        raise NotFound(f"no family contact for patient {patient_ref}")
    if not caller.acts_for((contact.managed_by,), *roles):
        raise deny(caller, f"{what}: the family's contact is kept by another institution")


FAMILY_ANSWERER = Depends(_family_answerer)
