"""French and Arabic hold every message the pages show, and the layout can mirror."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from web.adapters import languages
from web.adapters.pages import Pages

WEB = Path(__file__).resolve().parents[1]
STATIC = WEB / "src" / "web" / "static"


def messages() -> set[str]:
    with (WEB / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = extract_from_dir(str(WEB), method_map, options_map, keywords={"_": None, "gettext": None, "N_": None,
                                                                          "ngettext": (1, 2)})
    out: set[str] = set()
    for _file, _line, message, _comments, _context in found:
        out |= {message} if isinstance(message, str) else {m for m in message if m}
    return out


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_every_message_of_the_pages_is_translated(language: str) -> None:
    po = WEB / "src" / "web" / "locales" / language / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=language)
    translated = {m.id for m in catalog if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string))}
    missing = sorted(messages() - translated)
    assert not missing, f"{len(missing)} messages lack a {language} translation (make messages, then translate):\n" \
                        + "\n".join(missing[:40])


def test_a_message_is_shown_in_the_reader_language() -> None:
    pages = Pages()
    for language, expected in (("fr", "Conventions"), ("ar", "الاتفاقيات"), ("en", "Conventions")):
        languages.use(language)
        assert pages.gettext("Conventions") == expected
    languages.use("ar")
    assert languages.direction() == "rtl" and languages.day("2024-05-26") != "2024-05-26"


def test_the_stylesheets_use_logical_properties_only() -> None:
    """Arabic mirrors the whole layout: no left or right anywhere, only start and end."""
    physical = re.compile(r"(margin|padding|border)-(left|right)|(?<![-\w])(left|right)\s*:|"
                          r"text-align:\s*(left|right)|float:\s*(left|right)")
    found = [f"{css.name}:{n}: {line.strip()}" for css in STATIC.glob("*.css")
             for n, line in enumerate(css.read_text().splitlines(), 1) if physical.search(line)]
    assert not found, "physical properties do not mirror:\n" + "\n".join(found)
