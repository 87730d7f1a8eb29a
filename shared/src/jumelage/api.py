"""The rules every service's HTTP API follows on input, and the errors it documents.

- **Bounds.** A request body is a :class:`Command` (unknown fields refused, strings
  stripped, no NaN or infinity, dates and times as ISO 8601 text); every string, list
  and number in it carries a maximum (``tests/test_openapi_rules.py`` holds every route
  to it). Lists page with :data:`Limit` and :data:`Offset`, or (the lists that grow
  without end) with :data:`Limit` and a keyset :data:`Cursor` (``jumelage.db.keyset``).
- **PATCH.** A :class:`Patch` changes only the fields given, and ``null`` means "not
  given", except on a field declared with :func:`clearable`, where ``null`` clears it.
- **Errors.** Every error answer is an :class:`ErrorBody`; :func:`document_errors`
  lists, on every operation of the OpenAPI document, the errors it can answer.
"""

from __future__ import annotations

import functools
import json
import re
import typing
from datetime import date, time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request, Response
from pydantic import (
    AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler, ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue

from jumelage.cursors import MAX_CURSOR_LENGTH

MAX_PAGE_SIZE = 200
MAX_OFFSET = 1_000_000  # far below the databases' 64-bit bound; a deeper page calls for narrower filters

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"rows per page, 1 to {MAX_PAGE_SIZE}")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET,
                              description=f"rows to skip, 0 to {MAX_OFFSET:,}: narrow the filters to go further")]

Cursor = Annotated[str | None, Query(
    max_length=MAX_CURSOR_LENGTH, pattern=r"^[A-Za-z0-9_-]+$",
    description="where the page begins: the `next` cursor of the previous page, passed back unchanged "
                "with the same filters (keyset paging; absent: the first page)")]


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """A keyset page's way on, for a list answered as a bare array: the header
    ``Link: <this URL, cursor=...>; rel="next"`` (RFC 8288), absent on the last page."""
    if cursor is not None:
        url = request.url.remove_query_params("cursor").include_query_params(cursor=cursor)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'


NEXT_LINK_HEADER = {"Link": {"description": 'the next page: `<url>; rel="next"` (absent on the last page)',
                             "schema": {"type": "string"}}}


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def as_text(value: Any) -> Any:
    """A date or an instant is ISO 8601 text, as documented (``format: date-time``): pydantic
    would read a number, or a string of digits, as a Unix time."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number or isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("a date or a time is written as ISO 8601 text, not a number")
    return value


IsoInstant = Annotated[AwareDatetime, BeforeValidator(as_text)]
IsoDate = Annotated[date, BeforeValidator(as_text)]


def _temporal(annotation: Any) -> bool:
    if isinstance(annotation, type) and (issubclass(annotation, date | time) or annotation is AwareDatetime):
        return True
    return any(_temporal(arg) for arg in typing.get_args(annotation))


@functools.cache
def _temporal_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, f in model.model_fields.items() if _temporal(f.annotation))


class Command(BaseModel):
    """A request body: unknown fields are refused, strings stripped, floats finite, dates and
    times ISO 8601 text."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _dates_as_text(cls, value: Any, info: ValidationInfo) -> Any:
        return as_text(value) if info.field_name in _temporal_fields(cls) else value


PATCH_RULE = 'Only the fields given change; null means "not given", except on a field marked clearable.'
CLEARABLE = "x-clearable"


class Patch(Command):
    """A PATCH body. ``null`` on a field means "not given", as if the field were absent,
    except on a :func:`clearable` field (an optional value that ``null`` removes)."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # Every PATCH body's schema states the rule (pydantic's documented hook; examples stay in
        # each model's json_schema_extra).
        schema = handler.resolve_ref_schema(handler(core_schema))
        own = schema.get("description")
        schema["description"] = f"{own}\n\n{PATCH_RULE}" if own and PATCH_RULE not in own else own or PATCH_RULE
        return schema

    @classmethod
    def clearable_fields(cls) -> frozenset[str]:
        return frozenset(name for name, f in cls.model_fields.items()
                         if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get(CLEARABLE))

    def changes(self) -> dict[str, Any]:
        """The fields given, as plain values: a ``null`` dropped unless the field is clearable."""
        clearable = self.clearable_fields()
        given = {name for name in self.model_fields_set if getattr(self, name) is not None or name in clearable}
        return self.model_dump(include=given)


def clearable(description: str | None = None, **constraints: Any) -> Any:
    """A PATCH field that ``null`` clears (documented as such: ``x-clearable`` in the schema)."""
    text = f"{description}; null clears it" if description else "null clears it"
    return Field(default=None, description=text, json_schema_extra={CLEARABLE: True}, **constraints)


# -- errors ----------------------------------------------------------------------------------------


class ErrorItem(BaseModel):
    """One thing wrong with the request: FastAPI's validation errors and the domain's own
    (which may add ``input`` and ``ctx``)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int] = Field(description='where: ["body", "parties", 1, "role"], ["query", "offset"]')
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a sentence, or the list of what is wrong where."""

    detail: str | list[ErrorItem]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(description='each dependency: "ok" or "unavailable: <error kind>"')


ERRORS: dict[int, str] = {
    400: "The body cannot be read as JSON text (it is not UTF-8, for one)",
    401: "No token, or an expired, malformed or wrongly signed one: the message says which",
    403: "The caller's roles and institution do not cover this: the message says who asked and what was refused",
    404: "A record named in the path or in the body does not exist (or is not known to this service yet)",
    409: "The record's state does not allow this change",
    412: "If-Match names a version the record no longer has: it changed since",
    413: "The request body is over the size limit",
    422: "A parameter or the body breaks a rule: each item says where (loc) and why (msg)",
    503: "The database is unreachable, or lost the connection during the request: try again after Retry-After",
}
CHANGING = frozenset({"post", "put", "patch", "delete"})
_REF = "#/components/schemas/"


def errors_of(method: str, operation: dict[str, Any]) -> list[int]:
    """The errors an authenticated operation can answer."""
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    codes = [401, 403, 503]
    if has_body or any(p["in"] == "path" for p in parameters):
        codes.append(404)
    if method in CHANGING:
        codes += [409, 412]
    if has_body:
        codes += [400, 413]
    if has_body or parameters:
        codes.append(422)
    return sorted(codes)


def _error_response(code: int, given: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        # A route's own description stays; FastAPI's generic one for 422 gives way to ours.
        "description": described if (described := (given or {}).get("description")) not in (None, "Validation Error")
        else ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": f"{_REF}ErrorBody"}}},
    }
    if code == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}}
    if code == 503:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return response


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Every authenticated operation (those FastAPI gives a ``security`` requirement) lists
    the errors it can answer, each with :class:`ErrorBody` (in place of FastAPI's own 422,
    which knows neither the domain's string detail nor the other statuses)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template=_REF + "{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "security" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for code in errors_of(method, operation):
                responses[str(code)] = _error_response(code, responses.get(str(code)))
    if f'"{_REF}HTTPValidationError"' not in json.dumps(document["paths"]):
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, replaced above
            schemas.pop(unused, None)
    return document


def install_error_documents(app: FastAPI) -> None:
    """FastAPI's own way to extend the document (``app.openapi``), run on each fresh one."""
    build = app.openapi
    documented: list[int] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if id(document) not in documented:  # FastAPI rebuilds it when routes are added
            document_errors(document)
            documented[:] = [id(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Readiness, "description": "The database and the broker answer"},
    503: {"model": Readiness, "description": "A dependency does not answer: checks says which"},
}
