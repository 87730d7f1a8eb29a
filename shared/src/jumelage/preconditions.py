"""Concurrent edits over HTTP: an ``ETag`` built from a record's version, and
``If-Match`` on its changes (RFC 9110 §8.8.3, §13.1.1). The pure part (the tag,
what an ``If-Match`` accepts, the check) is ``jumelage.versions``; this is the
HTTP side: the header's dependency, the ETag on a response, their documents.

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

from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from jumelage.versions import IF_MATCH, IfMatch, etag

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


__all__ = ["IfMatchDep", "PreconditionFailedOut", "change_responses", "if_match", "read_responses", "tagged"]
