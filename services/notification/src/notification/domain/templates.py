"""Which text a notification uses: one template per occurrence type, language and
channel; an override stored through the API wins over the shipped default; a
missing translation falls back to French, and a type without a template of its
own to the ``Generic`` one, so a notification is never lost for want of words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from jumelage.errors import Invalid
from jumelage.events.notification import Channel
from notification.domain.contacts import DEFAULT_LANGUAGE, Language

GENERIC = "Generic"

PARTS: dict[Channel, tuple[str, ...]] = {
    Channel.email: ("subject", "text", "html"),
    Channel.sms: ("text",),
    Channel.webhook: ("text",),  # the ``summary`` of the webhook payload
}

SMS_MAX_LENGTH = 640  # four concatenated SMS; longer texts are cut, not refused


def resolution_order(name: str, language: Language) -> list[tuple[str, Language]]:
    """(template, language) pairs to try, best first."""
    order = [(name, language), (name, DEFAULT_LANGUAGE), (GENERIC, language), (GENERIC, DEFAULT_LANGUAGE)]
    return list(dict.fromkeys(order))


def template_id(name: str, language: Language | str, channel: Channel | str) -> str:
    """How a template is named in ``NotificationSent.template``: ``SurgeryScheduled/ar/email``."""
    return f"{name}/{Language(language)}/{Channel(channel)}"


@dataclass(frozen=True)
class TemplateText:
    """The sources of one template's parts (Jinja2); ``source`` says where they come from."""

    name: str
    language: Language
    channel: Channel
    parts: dict[str, str]
    source: str = "default"  # or "override"
    updated_at: datetime | None = None

    @classmethod
    def override(cls, name: str, language: Language, channel: Channel, parts: dict[str, str | None],
                 updated_at: datetime) -> TemplateText:
        wanted = PARTS[channel]
        for part, value in parts.items():
            if value is not None and part not in wanted:
                raise Invalid(f"a {channel} template has no {part}; it has {', '.join(wanted)}", field=part)
        for part in wanted:
            if not (parts.get(part) or "").strip():
                raise Invalid(f"a {channel} template needs a {part}", field=part)
        return cls(name, language, channel, {p: str(parts[p]) for p in wanted}, "override", updated_at)


def sample_context(name: str) -> dict[str, Any]:
    """What a preview renders a template with: a made-up programme (no real person,
    no real patient: the desk's preview must not show anyone's details)."""
    return {
        "type": name,
        "subject": "surgeries/00000000-0000-4000-8000-000000000001",
        "event": None,
        "mission": {"specialty": "paediatric cardiac surgery", "starts_on": date(2031, 5, 26),
                    "ends_on": date(2031, 5, 30), "host": "CMCI Bousmail", "visiting": "Gruppo San Donato"},
        "convention": {"reference": "CNAS-GSD-2031-01", "title": "Paediatric cardiac surgery at CMCI Bousmail"},
        "surgery": {"procedure": "Ventricular septal defect closure", "operating_room": "Bloc 2",
                    "scheduled_start": datetime(2031, 5, 27, 7, 30, tzinfo=UTC), "patient_ref": "P-SAMPLE",
                    "completed_at": datetime(2031, 5, 27, 11, 45, tzinfo=UTC)},
        "recipient": {"name": "Dr Sample", "kind": "practitioner"},
    }
