"""French, Arabic and English: the page's messages (gettext catalogues in
``locales/``, compiled in memory at start-up) and its dates and numbers (Babel,
in the reader's locale). Arabic is written right to left: the whole layout
mirrors (``dir="rtl"``; the stylesheet uses logical properties only)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

LANGUAGES = ("fr", "ar", "en")
DEFAULT = "fr"
RIGHT_TO_LEFT = frozenset({"ar"})
NAMES = {"fr": "Français", "ar": "العربية", "en": "English"}
LOCALES = Path(__file__).resolve().parents[1] / "locales"

_current: ContextVar[str] = ContextVar("language", default=DEFAULT)


def load(folder: Path = LOCALES) -> dict[str, NullTranslations]:
    """Each language's catalogue; English is the source language (no catalogue needed)."""
    out: dict[str, NullTranslations] = {}
    for language in LANGUAGES:
        po = folder / language / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            out[language] = NullTranslations()
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=language)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        out[language] = Translations(buf)
    return out


def chosen(asked: str | None, accept_language: str | None) -> str:
    """The person's choice if it is one we have, else the first of the browser's we have."""
    if asked in LANGUAGES:
        return asked  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT


@contextmanager
def speaking(language: str) -> Iterator[None]:
    token = _current.set(language)
    try:
        yield
    finally:
        _current.reset(token)


def use(language: str) -> None:
    """For the rest of this request's task (each request runs in its own)."""
    _current.set(language if language in LANGUAGES else DEFAULT)


def current() -> str:
    return _current.get()


def direction(language: str | None = None) -> str:
    return "rtl" if (language or current()) in RIGHT_TO_LEFT else "ltr"


def _locale() -> Locale:
    # Arabic as written in Algeria: Latin digits (ar_DZ), as on the hospitals' forms.
    return Locale.parse({"ar": "ar_DZ", "fr": "fr_DZ", "en": "en_GB"}[current()])


def _as_date(value: Any) -> date | datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (date, datetime)):
        return value
    text = str(value)
    try:
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        return None


def day(value: Any, form: str = "medium") -> str:
    d = _as_date(value)
    if d is None:
        return ""
    return format_date(d.date() if isinstance(d, datetime) else d, form, locale=_locale())


def instant(value: Any, form: str = "medium") -> str:
    d = _as_date(value)
    if not isinstance(d, datetime):
        return day(value)
    return format_datetime(d, form, locale=_locale())


def clock_time(value: Any) -> str:
    d = _as_date(value)
    if not isinstance(d, datetime):
        return str(value or "")
    return format_time(d, "short", locale=_locale())


def number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return format_decimal(value, format=f"#,##0{'.' + '0' * digits if digits else ''}", locale=_locale())


def percent(value: Any) -> str:
    if value is None:
        return "—"
    return format_percent(float(value) / 100, locale=_locale())


def money(amount: Any, currency: str) -> str:
    """An amount (the services send decimals as strings) in its currency, in the reader's locale."""
    return format_currency(Decimal(str(amount)), currency, locale=_locale())
