"""What every router of this service shares: the unit of work and the clock."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import Depends
from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field

from scheduling.store import SchedulingUnitOfWork
from jumelage.api import Command
from jumelage.clock import Clock
from jumelage.service import clock, unit_of_work

UoW = Annotated[SchedulingUnitOfWork, Depends(unit_of_work)]
Now = Annotated[Clock, Depends(clock)]

Instant = Annotated[AwareDatetime, AfterValidator(lambda v: v.astimezone(UTC))]
"""An instant with its offset (``Z`` or ``+01:00``), kept in UTC; a naive one is a 422."""


Body = Command  # unknown fields refused, strings stripped, floats finite (README: Input rules)


class ReasonIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "the visiting team's flight is cancelled"}]})

    reason: str = Field(min_length=1, max_length=2000)
