"""Record versions, pure: the ``ETag`` of a record's version and what an
``If-Match`` accepts (RFC 9110 §8.8.3, §13.1.1). No HTTP framework here, so
commands in a service's domain may carry an ``IfMatch``; the HTTP side (the
header's dependency, the ETag on a response) is ``jumelage.preconditions``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from jumelage.errors import PreconditionFailed

IF_MATCH = "If-Match"

_TAG = r'(W/)?"[\x21\x23-\x7E\x80-\xFF]*"'
_LIST = re.compile(rf"^[ \t]*(?:\*|(?:,[ \t]*)*{_TAG}(?:[ \t]*,(?:[ \t]*{_TAG})?)*)[ \t]*$")
_EACH = re.compile(_TAG)


class Versioned(Protocol):
    version: int
    updated_at: datetime | None


def etag(version: int) -> str:
    """The strong entity tag of a record at this version (the URL names the record)."""
    return f'"{version}"'


@dataclass(frozen=True)
class IfMatch:
    """What an ``If-Match`` header accepts: any current version (``*``), or these tags."""

    tags: tuple[str, ...] = ()
    any: bool = False

    @classmethod
    def parse(cls, value: str) -> IfMatch:
        """``*`` or a comma-separated list of entity tags; ValueError if it is neither."""
        if not _LIST.match(value):
            raise ValueError('If-Match must be "*" or a list of entity tags, each in double quotes '
                             '(e.g. If-Match: "3"), as the ETag header gave them')
        if value.strip() == "*":
            return cls(any=True)
        # If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches.
        return cls(tags=tuple(m.group(0) for m in _EACH.finditer(value) if not m.group(1)))

    def matches(self, version: int) -> bool:
        return self.any or etag(version) in self.tags

    def __str__(self) -> str:
        return "*" if self.any else ", ".join(self.tags) or "(weak tags only)"


def check_if_match(expected: IfMatch | None, what: str, record: Versioned) -> None:
    """PreconditionFailed unless ``expected`` (the caller's If-Match, if any) names the
    record's current version. Call it on the record as read for the change."""
    if expected is None or expected.matches(record.version):
        return
    current = etag(record.version)
    when = f" at {record.updated_at.astimezone(UTC).isoformat().replace('+00:00', 'Z')}" if record.updated_at else ""
    raise PreconditionFailed(
        f"{what} has changed since you read it: it was last changed{when} and its ETag is now {current} "
        f"(If-Match sent: {expected}). Read it again, then send your change with the new ETag",
        record=what, etag=current, updated_at=record.updated_at,
    )
