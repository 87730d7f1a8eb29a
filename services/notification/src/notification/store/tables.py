"""The service's tables (SQLModel on SQLite or PostgreSQL): its replicas of the other
services' facts, contacts, subscriptions, template overrides, notifications and reminders."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import declared_attr, registry
from sqlmodel import Field, SQLModel

from jumelage.columns import UtcDateTime
from jumelage.events.notification import Channel
from notification.domain.contacts import Consent, Contact, ContactKind, Language
from notification.domain.delivery import Message, Notification, NotificationStatus
from jumelage.identity_access import identity_access_table
from jumelage.replica import institution_table
from jumelage.sealing import Sealed
from notification.domain.reminders import Reminder, ReminderKind, ReminderStatus
from notification.domain.routing import Subscription
from notification.domain.templates import TemplateText


def _utc(**kw: Any) -> Any:
    return Field(sa_column=Column(UtcDateTime(), **kw))


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, so the three services'
    tables never mix even when tests load them in one process."""


# -- replicas of the other services' facts ------------------------------------------


INSTITUTIONS = institution_table(Table.metadata)  # the shared replica's table (jumelage.replica)
# Who read a family's contact details, when and through which route (jumelage.identity_access).
IDENTITY_ACCESS = identity_access_table(Table.metadata)


class ConventionRow(Table, table=True):
    __tablename__ = "convention"

    id: uuid.UUID = Field(primary_key=True)
    reference: str | None = Field(default=None, sa_column=Column(String(200)))
    title: str | None = Field(default=None, sa_column=Column(Text))
    # A list default, not default_factory=list: pydantic inspects a default factory's signature (parsing
    # the text signature of a builtin) on every row built, about 0.1 ms each. Each row gets its own copy.
    parties: list[dict[str, str]] = Field(default=[], sa_column=Column(JSON, nullable=False))
    status: str = Field(sa_column=Column(String(20), nullable=False))


class MissionRow(Table, table=True):
    __tablename__ = "mission"

    id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID | None = None
    host_institution_id: uuid.UUID | None = None
    visiting_institution_id: uuid.UUID | None = None
    specialty: str | None = Field(default=None, sa_column=Column(String(200)))
    starts_on: date | None = Field(default=None, sa_column=Column(Date))
    ends_on: date | None = Field(default=None, sa_column=Column(Date))
    team: list[dict[str, str]] = Field(default=[], sa_column=Column(JSON, nullable=False))  # (see parties)
    status: str = Field(sa_column=Column(String(20), nullable=False))
    planned_at: datetime | None = _utc()
    # Its host sites [{"institution_id", "starts_on", "ends_on"}] (migration 0016; NULL: its host alone).
    sites: list[dict[str, str | None]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    sites_at: datetime | None = _utc()


class SurgeryRow(Table, table=True):
    __tablename__ = "surgery"

    id: uuid.UUID = Field(primary_key=True)
    mission_id: uuid.UUID | None = Field(default=None, index=True)  # a mission's hold reaches its surgeries
    convention_id: uuid.UUID | None = None
    patient_ref: str | None = Field(default=None, sa_column=Column(String(200)))
    procedure: str | None = Field(default=None, sa_column=Column(String(300)))
    operating_room: str | None = Field(default=None, sa_column=Column(String(100)))
    scheduled_start: datetime | None = _utc()
    lead_surgeon_id: uuid.UUID | None = None
    status: str = Field(sa_column=Column(String(20), nullable=False))
    planned_at: datetime | None = _utc()
    completed_at: datetime | None = _utc()
    lead_side: str | None = Field(default=None, sa_column=Column(String(10)))
    followed_up: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    site_institution_id: uuid.UUID | None = None  # its host site (migration 0016)
    lead_at: datetime | None = _utc()  # the time of the event that set its lead


# -- contacts, subscriptions, templates ----------------------------------------------


class ContactRow(Table, table=True):
    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("kind", "subject_ref", name="uq_contact_subject"),)

    id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    subject_ref: str = Field(sa_column=Column(String(200), nullable=False))
    # Sealed at rest (jumelage.sealing, migration 0013): a family's name, address and phone are identity.
    display_name: str | None = Field(default=None, sa_column=Column(Sealed("contact.display_name")))
    email: str | None = Field(default=None, sa_column=Column(Sealed("contact.email")))
    phone: str | None = Field(default=None, sa_column=Column(Sealed("contact.phone")))
    webhook_url: str | None = Field(default=None, sa_column=Column(Text))
    webhook_secret: str | None = Field(default=None, sa_column=Column(Text))
    language: str = Field(sa_column=Column(String(2), nullable=False))
    preferred_channel: str | None = Field(default=None, sa_column=Column(String(10)))
    managed_by: uuid.UUID | None = Field(default=None, index=True)
    consent_given_by: str | None = Field(default=None, sa_column=Column(String(300)))
    consent_given_at: datetime | None = _utc()
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)
    # Optimistic concurrency: every UPDATE is "… WHERE version = <the one read>" and raises it by one.
    version: int = Field(sa_column=Column(Integer, nullable=False))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}

    def to_domain(self) -> Contact:
        consent = (Consent(self.consent_given_by, self.consent_given_at)
                   if self.consent_given_by and self.consent_given_at else None)
        return Contact(
            id=self.id, kind=ContactKind(self.kind), subject_ref=self.subject_ref, language=Language(self.language),
            display_name=self.display_name, email=self.email, phone=self.phone, webhook_url=self.webhook_url,
            webhook_secret=self.webhook_secret,
            preferred_channel=Channel(self.preferred_channel) if self.preferred_channel else None,
            consent=consent, managed_by=self.managed_by, version=self.version, updated_at=self.updated_at,
        )

    def take(self, c: Contact) -> None:
        self.kind, self.subject_ref, self.language = c.kind.value, c.subject_ref, c.language.value
        self.display_name, self.email, self.phone = c.display_name, c.email, c.phone
        self.webhook_url, self.webhook_secret = c.webhook_url, c.webhook_secret
        self.preferred_channel = c.preferred_channel.value if c.preferred_channel else None
        self.managed_by = c.managed_by
        self.consent_given_by = c.consent.given_by if c.consent else None
        self.consent_given_at = c.consent.given_at if c.consent else None


class SubscriptionRow(Table, table=True):
    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("contact_id", "event_type", "scope", name="uq_subscription_rule"),)

    id: uuid.UUID = Field(primary_key=True)
    contact_id: uuid.UUID = Field(sa_column=Column(ForeignKey("contact.id", ondelete="CASCADE"), nullable=False))
    event_type: str = Field(sa_column=Column(String(100), nullable=False))
    scope: str = Field(sa_column=Column(String(100), nullable=False))
    convention_id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    opt_out: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = _utc(nullable=False)

    def to_domain(self) -> Subscription:
        return Subscription(self.id, self.contact_id, self.event_type, self.convention_id, self.institution_id,
                            self.opt_out)


class TemplateRow(Table, table=True):
    __tablename__ = "template_override"

    name: str = Field(sa_column=Column(String(100), primary_key=True))
    language: str = Field(sa_column=Column(String(2), primary_key=True))
    channel: str = Field(sa_column=Column(String(10), primary_key=True))
    subject: str | None = Field(default=None, sa_column=Column(Text))
    text: str = Field(sa_column=Column(Text, nullable=False))
    html: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = _utc(nullable=False)

    def to_domain(self) -> TemplateText:
        parts = {k: v for k, v in (("subject", self.subject), ("text", self.text), ("html", self.html)) if v}
        return TemplateText(self.name, Language(self.language), Channel(self.channel), parts, "override",
                            self.updated_at)


# -- notifications and reminders -----------------------------------------------------


class NotificationRow(Table, table=True):
    __tablename__ = "notification"
    __table_args__ = (
        # At most one notification per cause, recipient and channel, whatever the redeliveries.
        UniqueConstraint("cause_event_id", "recipient_ref", "channel", name="uq_notification_once"),
        Index("ix_notification_due", "status", "next_attempt_at"),
        # The keyset pages of the list, newest first (migration 0014).
        Index("ix_notification_list", "created_at", "id"),
        Index("ix_notification_status_list", "status", "created_at", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    cause_event_id: uuid.UUID
    cause_type: str = Field(sa_column=Column(String(100), nullable=False))
    contact_id: uuid.UUID = Field(index=True)
    recipient_ref: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    channel: str = Field(sa_column=Column(String(10), nullable=False))
    language: str = Field(sa_column=Column(String(2), nullable=False))
    template: str = Field(sa_column=Column(String(200), nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(Text))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text))
    payload: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = _utc()
    lease_until: datetime | None = _utc()
    claim: uuid.UUID | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    correlation_id: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = _utc(nullable=False)
    sent_at: datetime | None = _utc()

    def to_domain(self) -> Notification:
        return Notification(
            id=self.id, cause_event_id=self.cause_event_id, cause_type=self.cause_type, contact_id=self.contact_id,
            recipient_ref=self.recipient_ref, channel=Channel(self.channel), language=self.language,
            template=self.template,
            message=Message(text=self.body_text, subject=self.subject, html=self.body_html,
                            payload=json.loads(self.payload) if self.payload else None),
            created_at=self.created_at, correlation_id=self.correlation_id,
            status=NotificationStatus(self.status), attempts=self.attempts, next_attempt_at=self.next_attempt_at,
            lease_until=self.lease_until, claim=self.claim, last_error=self.last_error, sent_at=self.sent_at,
        )

    @staticmethod
    def values(n: Notification) -> dict[str, Any]:
        return {
            "id": n.id, "cause_event_id": n.cause_event_id, "cause_type": n.cause_type, "contact_id": n.contact_id,
            "recipient_ref": n.recipient_ref, "channel": n.channel.value, "language": n.language,
            "template": n.template, "subject": n.message.subject, "body_text": n.message.text,
            "body_html": n.message.html,
            "payload": json.dumps(n.message.payload, ensure_ascii=False) if n.message.payload is not None else None,
            "status": n.status.value, "attempts": n.attempts, "next_attempt_at": n.next_attempt_at,
            "lease_until": n.lease_until, "claim": n.claim, "last_error": n.last_error,
            "correlation_id": n.correlation_id, "created_at": n.created_at, "sent_at": n.sent_at,
        }

    def take(self, n: Notification) -> None:
        for name in ("status", "attempts", "next_attempt_at", "lease_until", "claim", "last_error", "sent_at"):
            value = getattr(n, name)
            setattr(self, name, value.value if name == "status" else value)


class ReminderRow(Table, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        # Never twice: one reminder per subject and due date, fired or not.
        UniqueConstraint("kind", "subject_id", "due_on", name="uq_reminder_once"),
        Index("ix_reminder_due", "status", "due_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    subject_id: uuid.UUID
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    due_at: datetime = _utc(nullable=False)
    subject_starts_at: datetime = _utc(nullable=False)
    status: str = Field(sa_column=Column(String(20), nullable=False))
    correlation_id: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = _utc(nullable=False)
    fired_at: datetime | None = _utc()

    def to_domain(self) -> Reminder:
        return Reminder(id=self.id, kind=ReminderKind(self.kind), subject_id=self.subject_id, due_on=self.due_on,
                        due_at=self.due_at, subject_starts_at=self.subject_starts_at,
                        status=ReminderStatus(self.status), fired_at=self.fired_at)


SEALED = (ContactRow.__table__,)
"""The tables whose identity is sealed (the runtime's re-seal job walks them)."""
