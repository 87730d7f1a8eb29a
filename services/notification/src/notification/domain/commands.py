"""Every command and query of the service: the messages its bus handles
(``handlers/__init__.py``). Commands carry no time: handlers read the injected clock.

``expected``, on the changes of an existing contact, is the caller's If-Match
(``jumelage.versions.IfMatch``), checked on the locked record.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jumelage.events.notification import Channel
from notification.domain.contacts import DEFAULT_LANGUAGE, ContactKind, ContactScope, Language
from notification.domain.delivery import NotificationStatus
from notification.domain.reminders import ReminderStatus

# -- institutions (the replica) ------------------------------------------------------------


# -- contacts and subscriptions --------------------------------------------------------------


@dataclass(frozen=True)
class CreateContact:
    kind: ContactKind
    practitioner_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    patient_ref: str | None = None
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    language: Language | str = DEFAULT_LANGUAGE
    preferred_channel: Channel | None = None
    managed_by: uuid.UUID | None = None  # the institution that keeps this contact


@dataclass(frozen=True)
class GetContact:
    contact_id: uuid.UUID


@dataclass(frozen=True)
class ListContacts:
    visible: ContactScope  # what the caller may see (``access.listing``)
    kind: ContactKind | None = None
    subject_ref: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class UpdateContact:
    contact_id: uuid.UUID
    changes: dict[str, Any]  # only the fields given; None clears an optional one
    expected: Any = None


@dataclass(frozen=True)
class DeleteContact:
    contact_id: uuid.UUID
    expected: Any = None


@dataclass(frozen=True)
class RecordConsent:
    contact_id: uuid.UUID
    given_by: str
    given_at: datetime | None = None  # when the family gave it (the caller's word); default: now
    expected: Any = None


@dataclass(frozen=True)
class WithdrawConsent:
    contact_id: uuid.UUID
    expected: Any = None


@dataclass(frozen=True)
class AddSubscription:
    contact_id: uuid.UUID
    event_type: str
    convention_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    opt_out: bool = False


@dataclass(frozen=True)
class ListSubscriptions:
    contact_id: uuid.UUID


@dataclass(frozen=True)
class RemoveSubscription:
    contact_id: uuid.UUID
    subscription_id: uuid.UUID


# -- templates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListTemplates:
    pass


@dataclass(frozen=True)
class GetTemplate:
    name: str
    language: Language
    channel: Channel


@dataclass(frozen=True)
class PutTemplate:
    name: str
    language: Language
    channel: Channel
    parts: dict[str, str | None]


@dataclass(frozen=True)
class DeleteTemplate:
    name: str
    language: Language
    channel: Channel


@dataclass(frozen=True)
class PreviewTemplate:
    """The template as a recipient would get it, rendered with the sample programme."""

    name: str
    language: Language
    channel: Channel


# -- notifications and reminders -----------------------------------------------------------------


@dataclass(frozen=True)
class NotificationFilter:
    cause_event_id: uuid.UUID | None = None
    recipient_ref: str | None = None
    status: NotificationStatus | None = None
    cause_type: str | None = None


@dataclass(frozen=True)
class FindNotifications:
    filter: NotificationFilter
    limit: int = 50
    offset: int = 0
    cursor: str | None = None  # keyset: where the page begins (instead of the offset)


@dataclass(frozen=True)
class GetNotification:
    notification_id: uuid.UUID


@dataclass(frozen=True)
class FindReminders:
    subject_id: uuid.UUID | None = None
    status: ReminderStatus | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class FireDueReminders:
    """The reminder job's pass: turn due reminders into notifications."""

    limit: int = 100


@dataclass(frozen=True)
class FamilyAccessRequest:
    """What this service holds of a family, for its access request: its contact, what was sent to it,
    and who read its contact details."""

    patient_ref: str
