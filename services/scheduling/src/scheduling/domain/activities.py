"""Consultations and training sessions: planned within a mission, then recorded as held.

A consultation sees a patient of the host's waiting list (or a new patient,
registered as a case for the occasion); a training session teaches a topic to
the host's staff. Both are planned on the mission's days (host calendar) while
the mission is scheduled or started, and recorded as held once it has started.
Pure: no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from scheduling.domain import events
from scheduling.domain.cases import PatientCase
from scheduling.domain.missions import Mission
from scheduling.domain.timing import require_past, require_within_mission
from jumelage.domain import Aggregate
from jumelage.errors import Conflict, Invalid

if TYPE_CHECKING:  # commands name the aggregates' value types: imported for annotations only
    from scheduling.domain.commands import HoldTraining, ScheduleTraining


class ActivityStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"  # not held by the end of its mission, or the mission was cancelled


@dataclass
class Consultation(Aggregate):
    id: uuid.UUID
    mission_id: uuid.UUID
    case_id: uuid.UUID
    patient_ref: str
    specialty: str
    scheduled_at: datetime
    status: ActivityStatus = ActivityStatus.scheduled
    held_at: datetime | None = None
    # Waiting with its mission (its convention suspended): still scheduled, its time kept.
    on_hold: bool = False
    # The host site it takes place at: its case's institution.
    site_institution_id: uuid.UUID | None = None

    @classmethod
    def schedule(cls, mission: Mission, case: PatientCase, at: datetime, tz: ZoneInfo) -> Consultation:
        mission.require_plannable("consultations")
        mission.require_site(case.host_institution_id, field="case_id",
                             what=f"case {case.patient_ref} is on the waiting list of institution "
                                  f"{case.host_institution_id}")
        consultation = cls(id=uuid.uuid4(), mission_id=mission.id, case_id=case.id, patient_ref=case.patient_ref,
                           specialty=mission.specialty, scheduled_at=at, site_institution_id=case.host_institution_id)
        require_within_mission(mission, at, at, tz, what=f"consultation {consultation.id}")
        day = at.astimezone(tz).date()
        mission.require_site_day(case.host_institution_id, day, day, what=f"consultation {consultation.id}",
                                 field="scheduled_at")
        return consultation

    def call_off(self) -> bool:
        """Its mission ended without it; False if it had been held already."""
        return _call_off(self)

    def put_on_hold(self, mission: Mission) -> bool:
        """Its mission waits: so does it, at its time. False if there was nothing to do."""
        if self.status is not ActivityStatus.scheduled or self.on_hold:
            return False
        self.on_hold = True
        self.happened(events.consultation_suspended(self, mission))
        return True

    def release(self, mission: Mission) -> bool:
        if self.status is not ActivityStatus.scheduled or not self.on_hold:
            return False
        self.on_hold = False
        self.happened(events.consultation_resumed(self, mission))
        return True

    def hold(self, mission: Mission, at: datetime | None, now: datetime) -> None:
        _require_scheduled(self.status, f"consultation {self.id}")
        mission.require_started("consultations are held")
        self.held_at = require_past(at or now, now, field="held_at")
        self.status = ActivityStatus.held
        self.happened(events.consultation_held(self, mission))


@dataclass
class TrainingSession(Aggregate):
    id: uuid.UUID
    mission_id: uuid.UUID
    topic: str
    scheduled_at: datetime
    hours: float
    status: ActivityStatus = ActivityStatus.scheduled
    held_at: datetime | None = None
    trainee_count: int | None = None
    # The host site it is held at (rows from before 0020: the mission's host).
    site_institution_id: uuid.UUID | None = None

    @classmethod
    def schedule(cls, mission: Mission, cmd: ScheduleTraining, tz: ZoneInfo) -> TrainingSession:
        """At ``cmd.site_institution_id`` (default: the mission's host, its first site), one of the
        mission's sites, on the mission's days there (``tz``: that site's)."""
        mission.require_plannable("training sessions")
        topic = " ".join(cmd.topic.split())
        if not topic:
            raise Invalid("a training session needs a topic", field="topic")
        _require_hours(cmd.hours)
        site = cmd.site_institution_id or mission.host_institution_id
        mission.require_site(site, field="site_institution_id", what=f"the training session's site is institution {site}")
        session = cls(id=uuid.uuid4(), mission_id=mission.id, topic=topic, scheduled_at=cmd.scheduled_at,
                      hours=cmd.hours, site_institution_id=site)
        what = f"training session {session.id}"
        require_within_mission(mission, cmd.scheduled_at, cmd.scheduled_at, tz, what=what)
        day = cmd.scheduled_at.astimezone(tz).date()
        mission.require_site_day(site, day, day, what=what, field="scheduled_at")
        return session

    def call_off(self) -> bool:
        """Its mission ended without it; False if it had been held already."""
        return _call_off(self)

    def hold(self, mission: Mission, cmd: HoldTraining, now: datetime) -> None:
        _require_scheduled(self.status, f"training session {self.id}")
        mission.require_started("training sessions are held")
        if cmd.trainee_count < 0:
            raise Invalid("the number of trainees cannot be negative", field="trainee_count")
        if cmd.hours is not None:
            _require_hours(cmd.hours)
        self.held_at = require_past(cmd.held_at or now, now, field="held_at")
        self.status, self.trainee_count = ActivityStatus.held, cmd.trainee_count
        self.hours = cmd.hours or self.hours
        self.happened(events.training_session_held(self, mission))


def _require_hours(hours: float) -> None:
    if not 0 < hours <= 24:
        raise Invalid("hours must be more than 0 and at most 24", field="hours")


def _require_scheduled(status: ActivityStatus, what: str) -> None:
    if status is not ActivityStatus.scheduled:
        raise Conflict(f"{what} is {status.value}: only a scheduled one can be recorded as held")


def _call_off(activity: Consultation | TrainingSession) -> bool:
    if activity.status is not ActivityStatus.scheduled:
        return False
    activity.status = ActivityStatus.cancelled
    if isinstance(activity, Consultation):
        activity.on_hold = False
    return True
