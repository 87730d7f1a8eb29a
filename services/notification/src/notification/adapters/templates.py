"""Rendering adapter: Jinja2 templates shipped with the package, overridable from the database.

Each default is one file per occurrence type and language,
``templates/<language>/<Type>.tmpl``, with sections ``--- subject ---``,
``--- text ---``, ``--- html ---``, ``--- sms ---`` and optionally
``--- webhook ---`` (else the SMS text is the webhook summary). HTML parts are
body fragments: ``layout.html`` wraps them in a document with ``lang`` and
``dir`` (``rtl`` for Arabic), overrides included.

Templates are rendered in a sandbox (overrides come over HTTP); HTML parts with
autoescape, text parts without it (an ``&`` in a plain-text mail stays ``&``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, pass_context
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from jumelage.errors import Invalid
from jumelage.events.notification import Channel
from jumelage.logging import get_logger
from notification.domain.contacts import Language
from notification.domain.delivery import Message
from notification.domain.templates import PARTS, SMS_MAX_LENGTH, TemplateText, resolution_order, template_id

log = get_logger(__name__)

DEFAULTS_DIR = Path(__file__).parent / "templates"
_SECTION = re.compile(r"^--- (\w+) ---[ \t]*$", re.MULTILINE)

MONTHS = {
    Language.fr: ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                  "octobre", "novembre", "décembre"),
    Language.en: ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December"),
    # The month names used in Algeria (and the rest of the Maghreb).
    Language.ar: ("جانفي", "فيفري", "مارس", "أفريل", "ماي", "جوان", "جويلية", "أوت", "سبتمبر", "أكتوبر",
                  "نوفمبر", "ديسمبر"),
}
AT = {Language.fr: "à", Language.en: "at", Language.ar: "على الساعة"}


def parse_sections(source: str) -> dict[str, str]:
    """``--- name ---`` lines split a default template file into its parts."""
    pieces = _SECTION.split(source)
    return {pieces[i]: pieces[i + 1].strip("\n") for i in range(1, len(pieces) - 1, 2)}


def channel_parts(sections: Mapping[str, str], channel: Channel) -> dict[str, str] | None:
    """A default file's sections as one channel's parts; None if it lacks one."""
    if channel is Channel.email:
        parts = {p: sections.get(p) for p in PARTS[Channel.email]}
    elif channel is Channel.sms:
        parts = {"text": sections.get("sms")}
    else:
        parts = {"text": sections.get("webhook") or sections.get("sms")}
    return parts if all(parts.values()) else None  # type: ignore[return-value]


@dataclass(frozen=True)
class Rendered:
    template: str  # e.g. "SurgeryScheduled/fr/sms", after any fallback
    language: Language
    message: Message


class TemplateRenderer:
    def __init__(self, defaults_dir: Path | None = None, timezone: tzinfo = UTC) -> None:
        self.defaults_dir = defaults_dir or DEFAULTS_DIR
        self.timezone = timezone
        self._text = self._environment(autoescape=False)
        self._html = self._environment(autoescape=True)
        self._layout = self._html.from_string((DEFAULTS_DIR / "layout.html").read_text(encoding="utf-8"))
        self._defaults: dict[tuple[str, Language], dict[str, str]] = {}
        for path in sorted(self.defaults_dir.glob("*/*.tmpl")):
            try:
                language = Language(path.parent.name)
            except ValueError:
                continue
            self._defaults[(path.stem, language)] = parse_sections(path.read_text(encoding="utf-8"))

    def _environment(self, *, autoescape: bool) -> SandboxedEnvironment:
        env = SandboxedEnvironment(autoescape=autoescape, undefined=ChainableUndefined)
        env.filters["day"] = self._day
        env.filters["moment"] = self._moment
        return env

    # -- templates --------------------------------------------------------------

    def names(self) -> list[tuple[str, Language]]:
        return sorted(self._defaults)

    def default(self, name: str, language: Language, channel: Channel) -> TemplateText | None:
        sections = self._defaults.get((name, language))
        parts = channel_parts(sections, channel) if sections else None
        return TemplateText(name, language, channel, parts) if parts else None

    def check(self, text: TemplateText) -> None:
        """Compile each part, so a broken override is refused when it is stored (422)."""
        for part, source in text.parts.items():
            try:
                self._compile(part, source)
            except TemplateError as exc:
                raise Invalid(f"template syntax error: {exc}", field=part) from None

    def render(
        self,
        name: str,
        language: Language,
        channel: Channel,
        context: Mapping[str, Any],
        overrides: Mapping[tuple[str, Language, Channel], TemplateText] = {},  # noqa: B006 (read only)
    ) -> Rendered:
        """The message for ``name`` in ``language``, falling back to French and then
        to the generic template; an override that fails to render is skipped
        (logged) rather than failing the notification."""
        for candidate_name, candidate_language in resolution_order(name, language):
            for text in (overrides.get((candidate_name, candidate_language, channel)),
                         self.default(candidate_name, candidate_language, channel)):
                if text is None:
                    continue
                try:
                    message = self._render(text, {**context, "language": candidate_language.value})
                except Exception as exc:  # a template error is the template's fault, not the event's
                    log.warning("template failed to render, falling back", template=template_id(
                        candidate_name, candidate_language, channel), source=text.source,
                        error=type(exc).__name__)
                    continue
                return Rendered(template_id(candidate_name, candidate_language, channel), candidate_language,
                                message)
        raise LookupError(f"no template renders {name} for {channel}")

    def _render(self, text: TemplateText, context: dict[str, Any]) -> Message:
        parts = {p: self._compile(p, s).render(context) for p, s in text.parts.items()}
        if text.channel is Channel.email:
            subject = " ".join(parts["subject"].split())
            language = Language(context["language"])
            html = self._layout.render(
                language=language.value, direction="rtl" if language is Language.ar else "ltr",
                subject=subject, body=Markup(parts["html"]),
            )
            return Message(subject=subject, text=parts["text"].strip() + "\n", html=html)
        text_ = " ".join(parts["text"].split())
        if text.channel is Channel.sms and len(text_) > SMS_MAX_LENGTH:
            text_ = text_[: SMS_MAX_LENGTH - 1] + "…"
        return Message(text=text_)

    def _compile(self, part: str, source: str) -> Template:
        return _compile(self._html if part == "html" else self._text, source)

    # -- filters --------------------------------------------------------------------

    @pass_context
    def _day(self, context: Context, value: Any) -> str:
        """A date in words: ``26 mai 2024``, ``26 May 2024``, ``26 ماي 2024``."""
        if value is None or isinstance(value, Undefined):
            return ""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        if isinstance(value, datetime):
            value = value.astimezone(self.timezone).date()
        language = Language(context.get("language", "fr"))
        return f"{value.day} {MONTHS[language][value.month - 1]} {value.year}"

    @pass_context
    def _moment(self, context: Context, value: Any) -> str:
        """An instant in the programme's local time: ``26 mai 2024 à 08:30``."""
        if value is None or isinstance(value, Undefined):
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        local = value.astimezone(self.timezone)
        language = Language(context.get("language", "fr"))
        return f"{self._day(context, local.date())} {AT[language]} {local:%H:%M}"


@lru_cache(maxsize=512)
def _compile(env: SandboxedEnvironment, source: str) -> Template:
    return env.from_string(source)
