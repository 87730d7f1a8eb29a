"""Concurrent edits over HTTP: an ``ETag`` built from a record's version, and
``If-Match`` on its changes (RFC 9110 §8.8.3, §13.1.1).

A record (convention, mission, surgery, patient case, contact) carries a
``version``, raised by the database on every change (SQLAlchemy's
``version_id_col``), and ``updated_at``. Its ETag is the version, quoted: a
strong validator. A change sent with ``If-Match`` is made only if one of the
tags is the record's current one (``*``: any); the handler checks it on the
record it has read and locked in the change's own transaction, so nothing
can slip in between the check and the write. Without ``If-Match`` a change
is made as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

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


# -- FastAPI ------------------------------------------------------------------------------


async def if_match(
    request: Request,
    _header: Annotated[str | None, Header(
        alias=IF_MATCH, max_length=1000,
        description='Make the change only if the record is still as you read it: the `ETag` of your read '
                    '(e.g. `"3"`), several separated by commas, or `*` for any version. A stale one is a 412 '
                    'that says when the record changed and gives its current ETag. Without it the change is '
                    'made whatever the version.',
        examples=['"3"'],
    )] = None,
) -> IfMatch | None:
    """The request's If-Match (every field line of it, RFC 9110 §5.3), or None; a 422 naming the header
    if it is malformed."""
    values = request.headers.getlist(IF_MATCH)
    if not values:
        return None
    try:
        return IfMatch.parse(", ".join(values))
    except ValueError as exc:
        raise RequestValidationError([{"loc": ("header", IF_MATCH), "msg": str(exc), "type": "value_error",
                                       "input": ", ".join(values)[:200]}]) from None


IfMatchDep = Annotated[IfMatch | None, Depends(if_match)]

O = TypeVar("O", bound=BaseModel)


def tagged(response: Response, out: O) -> O:
    """Set the ETag of the record ``out`` represents (its ``version``) on the response."""
    response.headers["ETag"] = etag(out.version)  # type: ignore[attr-defined]
    return out


class PreconditionFailedOut(BaseModel):
    detail: str = Field(description="what changed, when, and what to do")
    record: str = Field(description="the record, e.g. `convention CNAS-GSD-2024-01`")
    updated_at: datetime | None = Field(description="when it was last changed")
    etag: str = Field(description="its current ETag (also in the `ETag` header)")


_ETAG_HEADER = {"ETag": {"description": "the record's version, quoted: send it back in `If-Match` to change it",
                         "schema": {"type": "string", "example": '"3"'}}}


def read_responses(status: int = 200) -> dict[int | str, dict[str, Any]]:
    """OpenAPI of a route that returns one record: its ETag."""
    return {status: {"headers": _ETAG_HEADER}}


def change_responses(status: int | None = 200) -> dict[int | str, dict[str, Any]]:
    """OpenAPI of a route that changes one record: the ETag it returns (none for a 204), and the 412."""
    responses: dict[int | str, dict[str, Any]] = {412: {
        "model": PreconditionFailedOut,
        "description": "`If-Match` names a version the record no longer has: someone changed it since",
    }}
    if status is not None:
        responses[status] = {"headers": _ETAG_HEADER}
    return responses


__all__ = ["IF_MATCH", "IfMatch", "IfMatchDep", "PreconditionFailedOut", "Versioned", "change_responses",
           "check_if_match", "etag", "if_match", "read_responses", "tagged"]
