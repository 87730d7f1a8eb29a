"""Opaque cursors of keyset pages (``jumelage.db.keyset``): where the next page begins.

A cursor is the sort key of the last row of a page (its values, in the list's order),
as URL-safe base64 of a small JSON array of typed values, so a client passes it back
unchanged and never builds one. Decoding checks the shape against the list's own
(:func:`decode`): a cursor of another list, or one altered, is refused with a sentence
(the API answers a 422 naming ``cursor``), never a 500 nor a page of the wrong list.

Pure: the standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

MAX_CURSOR_LENGTH = 500
"""Characters a cursor may have (a key of three values is about 120)."""

_KINDS: dict[type, str] = {bool: "b", int: "i", str: "s", uuid.UUID: "u", datetime: "t", date: "d"}


def kind_of(value: Any) -> str:
    for python_type, kind in _KINDS.items():  # bool before int, datetime before date
        if isinstance(value, python_type):
            return kind
    raise TypeError(f"a keyset cursor holds no {type(value).__name__}")


def encode(key: Sequence[Any]) -> str:
    """The cursor of a row whose sort key is ``key``."""
    typed = [[kind_of(v), v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, uuid.UUID) else v]
             for v in key]
    text = json.dumps(typed, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _value(kind: str, raw: Any) -> Any:
    if kind == "b" and isinstance(raw, bool):
        return raw
    if kind == "i" and isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) < 2**63:
        return raw
    if kind == "s" and isinstance(raw, str):
        return raw
    if kind == "u" and isinstance(raw, str):
        return uuid.UUID(raw)
    if kind == "t" and isinstance(raw, str):
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("naive instant")
        return value
    if kind == "d" and isinstance(raw, str) and len(raw) == 10:
        return date.fromisoformat(raw)
    raise ValueError(f"not a value of kind {kind!r}")


def decode(cursor: str, shape: str) -> tuple[Any, ...]:
    """The sort key a cursor holds, if it has ``shape`` (one kind letter per value, as
    :func:`kind_of` names them: ``"itu"`` an int, an instant, a UUID); else ValueError
    with a sentence for the caller."""
    refused = ValueError("this cursor is not one this list gave: pass the 'next' cursor of the previous page, "
                         "unchanged, with the same filters")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise refused
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        typed = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise refused from None
    if (not isinstance(typed, list) or len(typed) != len(shape)
            or not all(isinstance(p, list) and len(p) == 2 and p[0] == k for p, k in zip(typed, shape, strict=False))):
        raise refused
    try:
        return tuple(_value(kind, raw) for kind, raw in typed)
    except ValueError:
        raise refused from None
