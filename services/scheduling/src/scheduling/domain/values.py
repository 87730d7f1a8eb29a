"""Value types that commands and aggregates both name (the aggregates' statuses
too, which queries filter by): a leaf of the domain.

Commands carry them and aggregates keep them; living here, neither module
imports the other to reach them. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from jumelage.events.scheduling import LocalRole, PractitionerRole, TeamChange  # noqa: F401 (TeamChange: named by the aggregates)


class Sex(StrEnum):
    female = "female"
    male = "male"


class RiskScheme(StrEnum):
    """Surgical risk scores for congenital heart surgery; ``none`` for non-cardiac cases."""

    stat = "STAT"  # STS-EACTS mortality categories 1-5
    rachs_1 = "RACHS-1"  # Risk Adjustment for Congenital Heart Surgery 1-6
    none = "none"


@dataclass(frozen=True)
class PatientIdentity:
    # repr=False: an identity printed by accident (a traceback, a debug line) shows nothing.
    full_name: str = field(repr=False)
    date_of_birth: date = field(repr=False)
    sex: Sex = field(repr=False)
    weight_kg: float = field(repr=False)


@dataclass(frozen=True)
class TeamMember:
    """A practitioner of the visiting team. ``home_institution_id``: where they work (None: the
    mission's visiting institution). ``arrives_on`` / ``leaves_on``: the days they are on site,
    within the mission's (None: from its first day / to its last)."""

    practitioner_id: uuid.UUID
    full_name: str
    role: PractitionerRole
    home_institution_id: uuid.UUID | None = None
    arrives_on: date | None = None
    leaves_on: date | None = None

    def on_site(self, first_day: date, last_day: date | None = None) -> bool:
        """On site every day from ``first_day`` to ``last_day`` (inclusive), as far as their own dates say."""
        last_day = last_day or first_day
        return ((self.arrives_on is None or self.arrives_on <= first_day)
                and (self.leaves_on is None or last_day <= self.leaves_on))


@dataclass(frozen=True)
class LocalPart:
    """A practitioner of the host (on the mission's team, their home institution the host) and
    their part in a surgery: observer, assistant, primary surgeon under supervision, independent."""

    practitioner_id: uuid.UUID
    role: LocalRole


MAX_LOCAL_PARTS = 30
"""At most this many local practitioners are recorded in one surgery."""


@dataclass(frozen=True)
class MissionSite:
    """A host site of a mission: an institution (a beneficiary party of the convention) and the
    mission's days there, ``starts_on`` / ``ends_on`` within the mission's (None: its first / last
    day). A single-host mission has one site, its host, all its days. Its rooms, beds and waiting
    list are the institution's."""

    institution_id: uuid.UUID
    starts_on: date | None = None
    ends_on: date | None = None


MAX_SITES = 20
"""The most host sites one mission visits."""


class Purpose(StrEnum):
    """What a family consents to, one by one (recorded on the case)."""

    care = "care"                    # the case treated within the programme
    notifications = "notifications"  # the family told of dates and changes
    sharing = "sharing"              # the file shared with the visiting institution abroad, identity included


class CaseStatus(StrEnum):
    waiting = "waiting"
    scheduled = "scheduled"
    operated = "operated"
    cancelled = "cancelled"
    referred_elsewhere = "referred_elsewhere"


class ReadinessItem(StrEnum):
    """What a case's readiness checklist holds: a fixed set, ``other`` a check of the host's own
    (with a label). A case is ready when every ``REQUIRED_READINESS`` item is checked."""

    consent_signed = "consent_signed"  # the family's informed consent, signed
    tests_done = "tests_done"  # the pre-operative tests and imaging
    fit_for_anaesthesia = "fit_for_anaesthesia"  # the anaesthetic assessment says fit
    travel_arranged = "travel_arranged"  # the family's travel and stay
    other = "other"  # the host's own check, named by its label; readiness does not wait for it


REQUIRED_READINESS: tuple[ReadinessItem, ...] = (
    ReadinessItem.consent_signed, ReadinessItem.tests_done, ReadinessItem.fit_for_anaesthesia,
    ReadinessItem.travel_arranged)
CLINICAL_READINESS = frozenset({ReadinessItem.tests_done, ReadinessItem.fit_for_anaesthesia})
"""Checked or withdrawn by the host's clinicians only; the others by its coordinators too."""


class MissionStatus(StrEnum):
    scheduled = "scheduled"
    on_hold = "on_hold"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"


class SurgeryStatus(StrEnum):
    scheduled = "scheduled"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"


UNFIT_REASON = ("the patient is not ready for surgery on this date; the case stays on the waiting list "
                "and a new date will be proposed")
"""The reason of a surgery cancelled because its case's readiness was withdrawn: the family reads
it (SurgeryCancelled, with ``cause`` not_ready for its own words), so it says nothing of which check, nor anything clinical."""
