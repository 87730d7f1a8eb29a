"""The replay's and the subscriptions' rules without a server: routing-key patterns as a
topic exchange binds them, the patterns refused, the instants read."""

from __future__ import annotations

import pytest

from jumelage.replay import check_patterns, parse_instant, topic_matches


@pytest.mark.parametrize(("pattern", "key", "matches"), [
    ("#", "institution.registered", True),
    ("institution.*", "institution.registered", True),
    ("institution.*", "institution", False),
    ("institution.*", "convention.signed", False),
    ("*.signed", "convention.signed", True),
    ("convention.#", "convention", True),
    ("convention.#", "convention.amendment.recorded", True),
    ("#.completed", "surgery.completed", True),
    ("#.completed", "completed", True),
    ("surgery.#.done", "surgery.done", True),
    ("surgery.#.done", "surgery.a.b.done", True),
    ("surgery.completed", "surgery.completed", True),
    ("surgery.completed", "surgery.completedx", False),
    ("*", "surgery.completed", False),
])
def test_a_pattern_matches_as_a_topic_exchange_binds(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches([pattern], key) is matches


@pytest.mark.parametrize("patterns", [[], ["institution.reg*"], ["Institution.*"], ["a..b"], ["x" * 201],
                                      ["#"] * 21, ["institution.*;drop"]])
def test_what_is_not_a_pattern_is_refused(patterns: list[str]) -> None:
    with pytest.raises(ValueError, match="pattern"):
        check_patterns(patterns)


def test_an_instant_needs_its_offset() -> None:
    assert parse_instant("2026-12-01T08:00:00Z").isoformat() == "2026-12-01T08:00:00+00:00"
    with pytest.raises(ValueError, match="no offset"):
        parse_instant("2026-12-01T08:00:00")
    with pytest.raises(ValueError, match="not an ISO 8601 instant"):
        parse_instant("yesterday")
