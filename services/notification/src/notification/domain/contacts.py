"""Contacts: who can be told, how to reach them, in which language.

This service holds the only copy of contact details in the system. Everything
that leaves it (events, logs, webhook payloads) names a contact by its
``recipient_ref`` (``contact:<uuid>``), never by an address.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from jumelage.errors import Conflict, Invalid
from jumelage.events.notification import Channel


class Language(StrEnum):
    fr = "fr"
    ar = "ar"
    en = "en"


DEFAULT_LANGUAGE = Language.fr
"""The programmes' working language, and the fallback of every missing translation."""


class ContactKind(StrEnum):
    practitioner = "practitioner"  # a member of a mission team, by practitioner_id
    institution = "institution"  # an institution's mailbox or system, by institution_id
    family = "family"  # a patient's family, by patient_ref; told nothing without consent


SUBJECT_FIELD = {
    ContactKind.practitioner: "practitioner_id",
    ContactKind.institution: "institution_id",
    ContactKind.family: "patient_ref",
}
"""The field that says whom a contact of each kind is for."""

# Deliberately plain: the SMTP server has the last word; this catches typos and
# anything that could smuggle a header (spaces, angle brackets, commas).
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
MIN_WEBHOOK_SECRET = 16


def check_email(value: str) -> str:
    email = value.strip()
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email:
        raise Invalid("not a valid email address", field="email")
    return email


def check_phone(value: str) -> str:
    """E.164 (``+213555123456``); spaces, dots, dashes and brackets are dropped first."""
    phone = _PHONE_SEPARATORS.sub("", value)
    if not _E164.match(phone):
        raise Invalid("phone number must be in E.164 form, e.g. +213555123456", field="phone")
    return phone


def check_webhook_url(value: str) -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("webhook_url must be an absolute http(s) URL", field="webhook_url")
    if parts.username or parts.password:
        raise Invalid("webhook_url must not carry credentials; the signature authenticates us",
                      field="webhook_url")
    return url


def check_language(value: str | Language) -> Language:
    try:
        return Language(value)
    except ValueError:
        raise Invalid(f"unknown language {value!r}; one of fr, ar, en", field="language") from None


@dataclass(frozen=True)
class Consent:
    """A family's consent to be told about their child's surgery: who gave it and when."""

    given_by: str
    given_at: datetime


EDITABLE = ("display_name", "email", "phone", "webhook_url", "webhook_secret", "language", "preferred_channel")


@dataclass(frozen=True)
class ContactScope:
    """The contacts a caller may list: these kinds whoever keeps them, those kinds kept by ``keeper``."""

    any_keeper: tuple[str, ...]
    own_keeper: tuple[str, ...]
    keeper: uuid.UUID | None


@dataclass
class Contact:
    id: uuid.UUID
    kind: ContactKind
    subject_ref: str
    language: Language = DEFAULT_LANGUAGE
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    preferred_channel: Channel | None = None
    consent: Consent | None = None
    managed_by: uuid.UUID | None = None  # the institution that keeps this contact (who may change it)
    # Kept by the store: raised on every change of the contact (its consent included), and when.
    version: int = 0
    updated_at: datetime | None = None

    @property
    def recipient_ref(self) -> str:
        return recipient_ref(self.id)

    @property
    def audience(self) -> Audience:
        return Audience(self.kind, self.subject_ref)

    @classmethod
    def create(cls, cmd: Any) -> Contact:
        """From a ``CreateContact`` (``domain/commands.py``, which imports this module: read by its fields)."""
        kind = ContactKind(cmd.kind)
        subject: dict[str, Any] = {
            "practitioner_id": cmd.practitioner_id,
            "institution_id": cmd.institution_id,
            "patient_ref": cmd.patient_ref,
        }
        own = SUBJECT_FIELD[kind]
        for name, value in subject.items():
            if name != own and value is not None:
                raise Invalid(f"a {kind} contact has no {name}", field=name)
        value = subject[own]
        if isinstance(value, str):
            value = value.strip()
        if not value:
            raise Invalid(f"a {kind} contact needs {own}", field=own)
        contact = cls(id=uuid.uuid4(), kind=kind, subject_ref=str(value), managed_by=cmd.managed_by)
        return contact._with({k: getattr(cmd, k) for k in EDITABLE})

    def update(self, cmd: Any) -> Contact:
        """An ``UpdateContact``'s ``changes`` applied (read by its field, as in ``create``)."""
        unknown = set(cmd.changes) - set(EDITABLE)
        if unknown:
            name = sorted(unknown)[0]
            raise Invalid(f"{name} cannot be changed", field=name)
        return self._with({**{k: getattr(self, k) for k in EDITABLE}, **cmd.changes})

    def _with(self, values: dict[str, Any]) -> Contact:
        """A copy with ``values`` checked and normalised; the rules hold across fields."""
        name = (values.get("display_name") or "").strip() or None
        email = check_email(values["email"]) if values.get("email") else None
        phone = check_phone(values["phone"]) if values.get("phone") else None
        url = check_webhook_url(values["webhook_url"]) if values.get("webhook_url") else None
        secret = values.get("webhook_secret") or None
        if url and (not secret or len(secret) < MIN_WEBHOOK_SECRET):
            raise Invalid(f"a webhook needs a signing secret of at least {MIN_WEBHOOK_SECRET} characters",
                          field="webhook_secret")
        if not url:
            secret = None  # a secret without a webhook signs nothing
        language = check_language(values.get("language") or DEFAULT_LANGUAGE)
        preferred = values.get("preferred_channel")
        if preferred is not None:
            try:
                preferred = Channel(preferred)
            except ValueError:
                raise Invalid(f"unknown channel {preferred!r}", field="preferred_channel") from None
        addresses = {Channel.email: email, Channel.sms: phone, Channel.webhook: url}
        if not any(addresses.values()):
            raise Invalid("a contact needs an email address, a phone number or a webhook", field="email")
        if preferred is not None and not addresses[preferred]:
            raise Invalid(f"preferred channel {preferred} has no address on this contact",
                          field="preferred_channel")
        return replace(self, display_name=name, email=email, phone=phone, webhook_url=url,
                       webhook_secret=secret, language=language, preferred_channel=preferred)

    def channels(self) -> list[Channel]:
        """Where to send: the preferred channel alone if there is one, else every
        channel this contact has an address for."""
        if self.preferred_channel is not None:
            return [self.preferred_channel]
        return [c for c, a in ((Channel.email, self.email), (Channel.sms, self.phone),
                               (Channel.webhook, self.webhook_url)) if a]

    def address(self, channel: Channel) -> str | None:
        return {Channel.email: self.email, Channel.sms: self.phone, Channel.webhook: self.webhook_url}[channel]

    def record_consent(self, given_by: str, given_at: datetime) -> Contact:
        if self.kind is not ContactKind.family:
            raise Conflict("consent is recorded for a patient's family only")
        who = given_by.strip()
        if not who:
            raise Invalid("say who gave consent", field="given_by")
        return replace(self, consent=Consent(given_by=who, given_at=given_at))

    def withdraw_consent(self) -> Contact:
        if self.kind is not ContactKind.family:
            raise Conflict("consent is recorded for a patient's family only")
        return replace(self, consent=None)

    @property
    def may_be_told(self) -> bool:
        """Families are told nothing until consent is recorded; others always may be."""
        return self.kind is not ContactKind.family or self.consent is not None


def recipient_ref(contact_id: uuid.UUID) -> str:
    return f"contact:{contact_id}"


@dataclass(frozen=True)
class Audience:
    """Whom a default rule names: a practitioner, an institution or a patient's family."""

    kind: ContactKind
    ref: str

    @classmethod
    def practitioner(cls, practitioner_id: uuid.UUID) -> Audience:
        return cls(ContactKind.practitioner, str(practitioner_id))

    @classmethod
    def institution(cls, institution_id: uuid.UUID) -> Audience:
        return cls(ContactKind.institution, str(institution_id))

    @classmethod
    def family(cls, patient_ref: str) -> Audience:
        return cls(ContactKind.family, patient_ref)
