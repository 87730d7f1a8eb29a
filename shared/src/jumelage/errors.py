"""Domain error kinds every service raises and every API maps the same way.

Pure Python: service domains import these without importing any framework.
"""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """A rule of the domain refused the request; the message says which."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """HTTP 404."""


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state. HTTP 409."""


class Invalid(DomainError):
    """The request names something wrong in its input (``field``). HTTP 422."""


class Forbidden(DomainError):
    """The caller is authenticated but this is not theirs to see or do. HTTP 403."""


class PreconditionFailed(DomainError):
    """The caller's ``If-Match`` names a version the record no longer has: someone
    changed it since the caller read it. HTTP 412, with when and its current ETag."""

    def __init__(self, message: str, *, record: str, etag: str, updated_at: datetime | None) -> None:
        super().__init__(message)
        self.record = record
        self.etag = etag
        self.updated_at = updated_at
