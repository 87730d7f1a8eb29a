"""What the pages' forms share: the form's own key, and a problem found before the
service was asked (a field the page itself cannot read), shown like a refusal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Form

from jumelage.errors import DomainError

FormKey = Annotated[uuid.UUID, Form(description="the form's own key: sent twice, it acts once")]
IfMatch = Annotated[str | None, Form(max_length=200)]
Reason = Annotated[str, Form(min_length=1, max_length=2000)]
# What the services answer depends on who asks (a patient's identity, the desk): never stored by a cache.
PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Cookie"}


@dataclass(frozen=True)
class FormProblem:
    """Shown next to the form (``service`` None: the page's own check, before any service)."""

    status: int
    messages: tuple[str, ...]
    service: str | None = None

    @classmethod
    def of(cls, error: DomainError) -> FormProblem:
        return cls(422, (f"{error.field}: {error.message}" if error.field else error.message,))

    def sentences(self) -> list[str]:
        return list(self.messages)
