"""Every command and query the convention service handles (the messages of its bus).

Commands carry what the caller asked for, never the time: handlers take it from
their ``clock``. A change may carry the caller's ``If-Match`` (``expected``),
checked by the handler on the row it locks for the change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from convention.domain.conventions import ConventionStatus, Terms
from jumelage.events.convention import InstitutionKind
from jumelage.versions import IfMatch


# -- institutions -------------------------------------------------------------


@dataclass(frozen=True)
class RegisterInstitution:
    name: str
    kind: InstitutionKind
    country: str
    city: str
    wilaya: str | None = None


@dataclass(frozen=True)
class UpdateInstitution:
    institution_id: uuid.UUID
    changes: dict[str, object]


@dataclass(frozen=True)
class GetInstitution:
    institution_id: uuid.UUID


@dataclass(frozen=True)
class SearchInstitutions:
    kind: InstitutionKind | None = None
    country: str | None = None
    wilaya: str | None = None
    city: str | None = None
    name: str | None = None
    limit: int = 50
    offset: int = 0


# -- conventions --------------------------------------------------------------


@dataclass(frozen=True)
class DraftConvention:
    reference: str
    terms: Terms


@dataclass(frozen=True)
class EditDraft:
    convention_id: uuid.UUID
    changes: dict[str, Any]
    expected: IfMatch | None = None


@dataclass(frozen=True)
class DiscardDraft:
    convention_id: uuid.UUID
    expected: IfMatch | None = None


@dataclass(frozen=True)
class SignConvention:
    convention_id: uuid.UUID
    signed_on: date
    signed_at: str
    expected: IfMatch | None = None


@dataclass(frozen=True)
class SuspendConvention:
    convention_id: uuid.UUID
    reason: str
    expected: IfMatch | None = None


@dataclass(frozen=True)
class ResumeConvention:
    convention_id: uuid.UUID
    reason: str
    expected: IfMatch | None = None


@dataclass(frozen=True)
class TerminateConvention:
    convention_id: uuid.UUID
    on: date
    reason: str
    expected: IfMatch | None = None


@dataclass(frozen=True)
class AmendConvention:
    convention_id: uuid.UUID
    signed_on: date
    summary: str
    changes: dict[str, Any]
    expected: IfMatch | None = None
    effective_from: date | None = None  # the day its changes apply from (None: signed_on)


@dataclass(frozen=True)
class ExpireConventions:
    """The periodic check: every convention whose period is over (on the clock's today) expires."""


@dataclass(frozen=True)
class SearchConventions:
    party: uuid.UUID
    status: ConventionStatus | None = None
    specialty: str | None = None
    active_on: date | None = None
    reference: str | None = None  # part of the reference or the title
    limit: int = 50
    offset: int = 0
    cursor: str | None = None  # keyset: where the page begins (instead of the offset)


@dataclass(frozen=True)
class ConventionHistory:
    convention_id: uuid.UUID


# -- progress -----------------------------------------------------------------


@dataclass(frozen=True)
class ConventionProgress:
    convention_id: uuid.UUID


@dataclass(frozen=True)
class ConventionPeriods:
    """Progress over time: per period (``by``: ``month``, ``quarter``, ``year``) in the programmes' time zone."""

    convention_id: uuid.UUID
    by: str = "month"


@dataclass(frozen=True)
class ConventionAutonomy:
    """The local teams' autonomy: surgeries led locally per risk category and period, and the
    steps each local practitioner has climbed."""

    convention_id: uuid.UUID


@dataclass(frozen=True)
class ConventionOutcomes:
    """The 30-day outcomes per risk category, and the share of patients followed up."""

    convention_id: uuid.UUID


@dataclass(frozen=True)
class ConventionReport:
    """A convention's report for a period (``domain.report.report_period``), as a PDF in
    ``language`` or as its CSV files (``format``: ``pdf``, ``csv``)."""

    convention_id: uuid.UUID
    format: str
    language: str = "en"
    period: str | None = None
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class ConventionExport:
    """A convention as FHIR R4: a Bundle of its Contract and the parties' Organizations."""

    convention_id: uuid.UUID
