"""Patient cases: the waiting list at a host institution.

The patient's identity lives here and nowhere else. Everything that leaves the
service (events, logs, conflict messages) names a patient only by
``patient_ref``, an opaque id drawn at random: it says nothing about the
patient and cannot be recomputed from who they are.

Lifecycle::

    waiting ──surgery scheduled──> scheduled ──surgery completed──> operated
      │  ▲                           │
      │  └──────surgery cancelled────┘
      ├──cancel──> cancelled
      └──refer elsewhere──> referred_elsewhere

Pure: no I/O.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from jumelage.domain import Aggregate
from jumelage.errors import Conflict, Invalid
from jumelage.events.scheduling import ErasureReason
from scheduling.domain import events
from scheduling.domain.values import (
    REQUIRED_READINESS,
    CaseStatus,
    PatientIdentity,
    Purpose,
    ReadinessItem,
    RiskScheme,
    Sex,
)

if TYPE_CHECKING:  # commands name the aggregates' value types: imported for annotations only
    from scheduling.domain.commands import RegisterCase


MAX_SCREENING_NOTE = 4000


@dataclass(frozen=True)
class ReadinessCheck:
    """One item of a case's readiness checklist, checked on ``checked_on`` by ``checked_by``
    (the token's subject), recorded at ``recorded_at``; ``label`` names an ``other`` item."""

    item: ReadinessItem
    checked_on: date
    checked_by: str
    recorded_at: datetime
    label: str | None = None


@dataclass(frozen=True)
class ScreeningNote:
    """The visiting team's remote screening of a case: clinicians only, never in events or logs."""

    id: uuid.UUID
    case_id: uuid.UUID
    text: str = field(repr=False)
    author: str
    author_institution_id: uuid.UUID | None
    recorded_at: datetime

    @classmethod
    def write(cls, case: PatientCase, text: str, author: str, institution_id: uuid.UUID | None,
              now: datetime) -> ScreeningNote:
        text = text.strip()
        if not text:
            raise Invalid("a screening note needs some text", field="text")
        if len(text) > MAX_SCREENING_NOTE:
            raise Invalid(f"a screening note holds at most {MAX_SCREENING_NOTE} characters", field="text")
        return cls(uuid.uuid4(), case.id, text, author, institution_id, now)


@dataclass(frozen=True)
class Consent:
    """A family's consent to one purpose: who recorded it (the token's subject) and when."""

    by: str
    at: datetime


ERASED_NAME = "(erased)"
"""What stands for the name of a patient whose identity was erased: the case keeps its clinical
facts and its reference, the date of birth only its year (the age the plan and the progress need)."""

CLOSED = frozenset({"operated", "cancelled", "referred_elsewhere"})


RISK_CATEGORIES = {RiskScheme.stat: range(1, 6), RiskScheme.rachs_1: range(1, 7)}

IDENTITY = ("full_name", "date_of_birth", "sex", "weight_kg")
_PATIENT = frozenset(f"patient.{name}" for name in IDENTITY)
_CLINICAL = frozenset({"diagnosis", "priority", "referred_abroad"})
_BOOKED = frozenset({"planned_procedure", "expected_duration_minutes", "risk_scheme", "risk_category"})
EDITABLE: dict[CaseStatus, frozenset[str]] = {
    CaseStatus.waiting: _PATIENT | _CLINICAL | _BOOKED,
    CaseStatus.scheduled: _PATIENT | _CLINICAL,
    CaseStatus.operated: _PATIENT,
    CaseStatus.cancelled: _PATIENT,
    CaseStatus.referred_elsewhere: _PATIENT,
}
"""What an edit may change, by the case's status (the fields' names as a PATCH gives them)."""
WHY_LOCKED: dict[CaseStatus, str] = {
    CaseStatus.waiting: "",
    CaseStatus.scheduled: "its surgery was booked with its planned procedure, expected duration and risk, "
                          "which set its intensive-care stay: cancel the surgery first",
    CaseStatus.operated: "what was done is recorded with them: only the patient's identity can be corrected",
    CaseStatus.cancelled: "it is off the list: only the patient's identity can be corrected",
    CaseStatus.referred_elsewhere: "it is off the list: only the patient's identity can be corrected",
}


def _checked(cmd: RegisterCase | _Case, now: datetime, field_prefix: str) -> dict[str, Any]:
    """A case's facts, checked and tidied (names and procedures on single spaces)."""
    def invalid(message: str, name: str) -> Invalid:
        return Invalid(message, field=field_prefix + name)

    if cmd.host_institution_id is None:
        raise invalid("say on which institution's waiting list", "host_institution_id")
    p = cmd.patient
    name = " ".join(p.full_name.split())
    if not name:
        raise invalid("the patient needs a name", "patient.full_name")
    if p.date_of_birth > now.date():
        raise invalid("the date of birth is in the future", "patient.date_of_birth")
    if not 0 < p.weight_kg <= 400:
        raise invalid("the weight must be more than 0 and at most 400 kg", "patient.weight_kg")
    diagnosis, procedure = cmd.diagnosis.strip(), " ".join(cmd.planned_procedure.split())
    if not diagnosis:
        raise invalid("a case needs a diagnosis", "diagnosis")
    if not procedure:
        raise invalid("a case needs a planned procedure", "planned_procedure")
    if cmd.priority not in range(1, 6):
        raise invalid("priority goes from 1 (most urgent) to 5", "priority")
    if cmd.expected_duration_minutes <= 0:
        raise invalid("the expected duration must be positive", "expected_duration_minutes")
    scheme = RiskScheme(cmd.risk_scheme)
    if scheme is RiskScheme.none:
        if cmd.risk_category is not None:
            raise invalid("a risk category needs a risk scheme (STAT or RACHS-1)", "risk_category")
    elif cmd.risk_category not in RISK_CATEGORIES[scheme]:
        bounds = RISK_CATEGORIES[scheme]
        raise invalid(f"a {scheme.value} risk category goes from {bounds.start} to {bounds.stop - 1}",
                      "risk_category")
    return dict(patient=PatientIdentity(name, p.date_of_birth, Sex(p.sex), float(p.weight_kg)),
                diagnosis=diagnosis, planned_procedure=procedure, priority=cmd.priority,
                expected_duration_minutes=cmd.expected_duration_minutes, risk_scheme=scheme,
                risk_category=cmd.risk_category, referred_abroad=bool(cmd.referred_abroad))


@dataclass(frozen=True)
class _Case:
    """A whole case as an edit would leave it (``RegisterCase``'s fields), to check it as a new one."""

    patient: PatientIdentity
    diagnosis: str
    planned_procedure: str
    priority: int
    expected_duration_minutes: int
    risk_scheme: str
    risk_category: int | None
    referred_abroad: bool
    host_institution_id: uuid.UUID | None


def new_patient_ref() -> str:
    """``P-`` and 16 base32 characters (80 random bits): opaque, not derived from identity."""
    return "P-" + base64.b32encode(secrets.token_bytes(10)).decode("ascii")


@dataclass
class PatientCase(Aggregate):
    id: uuid.UUID
    patient_ref: str
    host_institution_id: uuid.UUID
    patient: PatientIdentity
    diagnosis: str = field(repr=False)
    planned_procedure: str
    priority: int
    expected_duration_minutes: int
    risk_scheme: RiskScheme
    risk_category: int | None
    referred_abroad: bool
    status: CaseStatus = CaseStatus.waiting
    status_reason: str | None = None
    registered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The readiness checklist: item -> its check (an item withdrawn is no longer here).
    readiness: dict[ReadinessItem, ReadinessCheck] = field(default_factory=dict)
    # Consent per purpose (a purpose not here: not given, or withdrawn).
    consents: dict[Purpose, Consent] = field(default_factory=dict)
    closed_at: datetime | None = None  # operated, cancelled or referred: the retention period runs from it
    erased_at: datetime | None = None  # the identity erased (pseudonymised): a family's request or retention
    erased_reason: ErasureReason | None = None
    # Kept by the store: raised on every change (its status and readiness too), and when.
    version: int = 0
    updated_at: datetime | None = None

    @classmethod
    def register(cls, cmd: RegisterCase, now: datetime, *, field_prefix: str = "") -> PatientCase:
        facts = _checked(cmd, now, field_prefix)
        return cls(id=uuid.uuid4(), patient_ref=new_patient_ref(), host_institution_id=cmd.host_institution_id,
                   registered_at=now, **facts)

    # -- corrections ---------------------------------------------------------------------

    def edit(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        """Change what ``changes`` gives (``patient`` a mapping of its own), checked as a new
        case is; returns the names of the fields that changed (none: nothing to save).

        What may change depends on the status. A waiting case: everything. A scheduled one:
        not its planned procedure, expected duration or risk (its surgery was booked with
        them, and its intensive-care stay counted from its risk: cancel the surgery first).
        An operated, cancelled or referred case is history: only the patient's identity may
        be corrected. A refusal (409) names the fields, never their values."""
        given_patient = dict(changes.get("patient") or {})
        if given_patient and self.erased_at is not None:
            raise Conflict(f"case {self.patient_ref}: its patient's identity was erased; it cannot be given again")
        p = self.patient
        scheme = changes.get("risk_scheme", self.risk_scheme.value)
        category = changes.get("risk_category")
        if category is None:  # not given: kept, unless the case becomes non-cardiac
            category = None if RiskScheme(scheme) is RiskScheme.none else self.risk_category
        candidate = _Case(
            patient=PatientIdentity(given_patient.get("full_name", p.full_name),
                                    given_patient.get("date_of_birth", p.date_of_birth),
                                    given_patient.get("sex", p.sex), given_patient.get("weight_kg", p.weight_kg)),
            diagnosis=changes.get("diagnosis", self.diagnosis),
            planned_procedure=changes.get("planned_procedure", self.planned_procedure),
            priority=changes.get("priority", self.priority),
            expected_duration_minutes=changes.get("expected_duration_minutes", self.expected_duration_minutes),
            risk_scheme=scheme, risk_category=category,
            referred_abroad=changes.get("referred_abroad", self.referred_abroad),
            host_institution_id=self.host_institution_id)
        facts = _checked(candidate, now, "")
        new_patient = facts.pop("patient")
        changed = [f"patient.{name}" for name in IDENTITY
                   if getattr(new_patient, name) != getattr(self.patient, name)]
        changed += [name for name, value in facts.items() if getattr(self, name) != value]
        if not changed:
            return []
        locked = [name for name in changed if name not in EDITABLE[self.status]]
        if locked:
            raise Conflict(f"case {self.patient_ref} is {self.status.value}: {', '.join(locked)} cannot change "
                           f"({WHY_LOCKED[self.status]})")
        self.patient = new_patient
        for name, value in facts.items():
            setattr(self, name, value)
        return changed

    # -- readiness ---------------------------------------------------------------------

    @property
    def missing(self) -> list[ReadinessItem]:
        """The required items not checked, in the checklist's order."""
        return [item for item in REQUIRED_READINESS if item not in self.readiness]

    @property
    def ready(self) -> bool:
        return not self.missing

    def _require_open_checklist(self) -> None:
        if self.status not in (CaseStatus.waiting, CaseStatus.scheduled):
            raise Conflict(f"case {self.patient_ref} is {self.status.value}: its readiness can no longer change")

    def check(self, item: ReadinessItem, *, on: date, by: str, label: str | None, today: date,
              now: datetime) -> bool:
        """Check an item (again: a new date, label or checker replaces the old). True if anything changed."""
        self._require_open_checklist()
        item = ReadinessItem(item)
        if on > today:
            raise Invalid(f"{on.isoformat()} is in the future: an item is checked once done", field="checked_on")
        label = " ".join(label.split()) if label else None
        if item is ReadinessItem.other and not label:
            raise Invalid("an 'other' item needs a label saying what was checked", field="label")
        if item is not ReadinessItem.other and label:
            raise Invalid(f"only an 'other' item takes a label, not {item.value}", field="label")
        old = self.readiness.get(item)
        if old is not None and (old.checked_on, old.checked_by, old.label) == (on, by, label):
            return False
        self.readiness[item] = ReadinessCheck(item, on, by, now, label)
        return True

    def withdraw(self, item: ReadinessItem) -> bool:
        """Uncheck an item. True if it was checked. A case that is no longer ready while its
        surgery is booked leaves the plan: the handler cancels that surgery (``UNFIT_REASON``)."""
        self._require_open_checklist()
        return self.readiness.pop(ReadinessItem(item), None) is not None

    # -- lifecycle (surgeries drive the middle of it) -----------------------------------

    def require_waiting(self) -> None:
        if self.status is not CaseStatus.waiting:
            raise Conflict(f"case {self.patient_ref} is {self.status.value}: only a waiting case can be "
                           "scheduled for surgery")

    def schedule(self) -> None:
        self.require_waiting()
        self.status = CaseStatus.scheduled

    def back_to_waiting(self) -> None:
        if self.status is CaseStatus.scheduled:
            self.status = CaseStatus.waiting

    def operated(self, now: datetime | None = None) -> None:
        self.status = CaseStatus.operated
        self.closed_at = self.closed_at or now or datetime.now(UTC)

    def cancel(self, reason: str, now: datetime | None = None) -> None:
        self._close(CaseStatus.cancelled, reason, action="cancel")
        self.closed_at = now or datetime.now(UTC)

    def refer_elsewhere(self, reason: str, now: datetime | None = None) -> None:
        self._close(CaseStatus.referred_elsewhere, reason, action="refer elsewhere")
        self.closed_at = now or datetime.now(UTC)

    # -- consent and erasure -------------------------------------------------------------

    def shares_identity(self) -> bool:
        """The family consented to share the file, identity included, with the visiting institution."""
        return Purpose.sharing in self.consents and self.erased_at is None

    def give_consent(self, purpose: Purpose, *, by: str, now: datetime) -> bool:
        """Record the family's consent to ``purpose``; False if it was already recorded."""
        purpose = Purpose(purpose)
        if self.erased_at is not None and purpose is not Purpose.care:
            raise Conflict(f"case {self.patient_ref}: its patient's identity was erased; there is nothing to "
                           f"share or notify, so no consent to {purpose.value} can be recorded")
        if purpose in self.consents:
            return False
        self.consents[purpose] = Consent(by, now)
        return True

    def withdraw_consent(self, purpose: Purpose) -> bool:
        """The family withdraws its consent to ``purpose``; False if none was recorded."""
        return self.consents.pop(Purpose(purpose), None) is not None

    def erase_identity(self, reason: ErasureReason, now: datetime) -> None:
        """Erase the patient's identity (a family's request, or the retention period over): the
        name gives way to ``ERASED_NAME``, the date of birth keeps its year only, the consents to
        notify and to share go (nothing is left to share), and ``PatientIdentityErased`` tells the
        notification service, which forgets the family's contact. The clinical facts, the reference
        and what was done stay: the progress figures and the events never held the identity."""
        if self.erased_at is not None:
            raise Conflict(f"case {self.patient_ref}: its patient's identity was already erased "
                           f"({self.erased_at.date().isoformat()})")
        p = self.patient
        self.patient = PatientIdentity(ERASED_NAME, date(p.date_of_birth.year, 1, 1), p.sex, p.weight_kg)
        for purpose in (Purpose.notifications, Purpose.sharing):
            self.consents.pop(purpose, None)
        self.erased_at, self.erased_reason = now, ErasureReason(reason)
        self.happened(events.patient_identity_erased(self, self.erased_reason))

    def _close(self, to: CaseStatus, reason: str, *, action: str) -> None:
        if self.status is not CaseStatus.waiting:
            hint = ": cancel its surgery first" if self.status is CaseStatus.scheduled else ""
            raise Conflict(f"cannot {action} case {self.patient_ref}: it is {self.status.value}{hint}")
        reason = reason.strip()
        if not reason:
            raise Invalid("give a reason", field="reason")
        self.status, self.status_reason = to, reason
