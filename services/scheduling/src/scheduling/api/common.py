"""What every router of this service shares: body rules, instants, the reason of a change."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field

from jumelage.api import Command

Instant = Annotated[AwareDatetime, AfterValidator(lambda v: v.astimezone(UTC))]
"""An instant with its offset (``Z`` or ``+01:00``), kept in UTC; a naive one is a 422."""


Body = Command  # unknown fields refused, strings stripped, floats finite (README: Input rules)


class ReasonIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "the visiting team's flight is cancelled"}]})

    reason: str = Field(min_length=1, max_length=2000)
