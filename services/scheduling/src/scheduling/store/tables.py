"""This service's tables (SQLModel on its own registry), mirrored by the migrations."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, Float, ForeignKey, Index, Integer, String, Text, Time, Uuid
from sqlalchemy.orm import declared_attr, registry
from sqlmodel import Field, SQLModel

from jumelage.columns import UtcDateTime  # instants: UTC, read back aware on SQLite too
from jumelage.identity_access import identity_access_table
from jumelage.replica import institution_table
from jumelage.sealing import SEARCH_HASH, Sealed, SealedDate


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, so the three services'
    tables never mix even when tests load them in one process."""


def _col(type_: Any, *args: Any, nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_column=Column(type_, *args, nullable=nullable, **kw))


def _opt(type_: Any, *args: Any, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(type_, *args, nullable=True, **kw))


def _fk(target: str, **kw: Any) -> Any:
    return Field(sa_column=Column(Uuid(), ForeignKey(target), nullable=False, **kw))


# The replica of institutions: the shared definition (jumelage.replica), on this service's metadata.
INSTITUTIONS = institution_table(Table.metadata)
# Who read a patient's identity, when, what and through which route (jumelage.identity_access).
IDENTITY_ACCESS = identity_access_table(Table.metadata)


class ConventionRow(Table, table=True):
    __tablename__ = "convention"

    id: uuid.UUID = Field(primary_key=True)
    reference: str | None = _opt(String(200))
    title: str | None = _opt(Text)
    parties: list[dict[str, str]] = _col(JSON)
    effective_from: date | None = _opt(Date)
    effective_until: date | None = _opt(Date)
    specialties: list[str] = _col(JSON)
    objectives: dict[str, int] | None = _opt(JSON)
    signed: bool = _col(Boolean)
    status: str | None = _opt(String(20))
    status_changed_at: datetime | None = _opt(UtcDateTime)
    status_reason: str | None = _opt(Text)
    ended_on: date | None = _opt(Date)
    term_versions: dict[str, int] = _col(JSON)


class HostResourcesRow(Table, table=True):
    __tablename__ = "host_resources"

    institution_id: uuid.UUID = _fk("institution.id", primary_key=True)
    timezone: str = _col(String(64))
    icu_beds: int = _col(Integer)


class OperatingRoomRow(Table, table=True):
    __tablename__ = "operating_room"

    id: uuid.UUID = Field(primary_key=True)
    institution_id: uuid.UUID = _fk("host_resources.institution_id", index=True)
    name: str = _col(String(200))
    opens_at: time = _col(Time)
    closes_at: time = _col(Time)
    turnover_minutes: int | None = _opt(Integer)  # None: the mission's specialty's default (migration 0010)


class MissionRow(Table, table=True):
    __tablename__ = "mission"
    __table_args__ = (  # the keyset pages of the list (migration 0018)
        Index("ix_mission_list", "starts_on", "created_at", "id"),
        Index("ix_mission_convention_list", "convention_id", "starts_on", "created_at", "id"),
        Index("ix_mission_host_list", "host_institution_id", "starts_on", "created_at", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = _fk("convention.id", index=True)
    host_institution_id: uuid.UUID = Field(index=True)
    visiting_institution_id: uuid.UUID
    specialty: str = _col(String(200))
    starts_on: date = _col(Date)
    ends_on: date = _col(Date)
    status: str = _col(String(20))
    status_reason: str | None = _opt(Text)
    totals: dict[str, int] | None = _opt(JSON)
    created_at: datetime = _col(UtcDateTime)
    # Optimistic concurrency: every UPDATE is "… WHERE version = <the one read>" and raises it by one.
    version: int = _col(Integer)
    updated_at: datetime = _col(UtcDateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class MissionMemberRow(Table, table=True):
    __tablename__ = "mission_member"

    mission_id: uuid.UUID = _fk("mission.id", primary_key=True)
    practitioner_id: uuid.UUID = Field(primary_key=True, index=True)
    position: int = _col(Integer)
    full_name: str = _col(String(300))
    role: str = _col(String(40))
    # Where they work (None on rows written before migration 0009: the visiting institution),
    # and the days they are on site (None: the mission's first / last day).
    home_institution_id: uuid.UUID | None = _opt(Uuid())
    arrives_on: date | None = _opt(Date)
    leaves_on: date | None = _opt(Date)


class MissionSiteRow(Table, table=True):
    """A host site of a mission (migration 0014): an institution and the mission's days there
    (None: the mission's first / last day). A single-host mission has one, its host."""

    __tablename__ = "mission_site"

    mission_id: uuid.UUID = _fk("mission.id", primary_key=True)
    institution_id: uuid.UUID = Field(primary_key=True, index=True)
    position: int = _col(Integer)
    starts_on: date | None = _opt(Date)
    ends_on: date | None = _opt(Date)


class PatientCaseRow(Table, table=True):
    __tablename__ = "patient_case"
    __table_args__ = (  # the keyset pages of the waiting list (migration 0018)
        Index("ix_patient_case_waiting", "host_institution_id", "status", "priority", "registered_at", "id"),
        Index("ix_patient_case_list", "host_institution_id", "priority", "registered_at", "id"),
        # the waiting list's figures by period, counted on read (migration 0021)
        Index("ix_patient_case_registered", "host_institution_id", "registered_at"),
        Index("ix_patient_case_closed", "host_institution_id", "closed_at", "status"),
    )

    id: uuid.UUID = Field(primary_key=True)
    patient_ref: str = _col(String(40), unique=True)
    host_institution_id: uuid.UUID = Field(index=True)
    # The patient's identity: here and nowhere else, sealed at rest (jumelage.sealing, migration 0017);
    # a name is found by its keyed hash (None: erased, or written before 0017 and not yet re-sealed).
    full_name: str = _col(Sealed("patient_case.full_name"))
    date_of_birth: date = _col(SealedDate("patient_case.date_of_birth"))
    name_hash: str | None = _opt(SEARCH_HASH, index=True)
    sex: str = _col(String(10))
    weight_kg: float = _col(Float)
    diagnosis: str = _col(Text)
    planned_procedure: str = _col(String(300))
    priority: int = _col(Integer)
    expected_duration_minutes: int = _col(Integer)
    risk_scheme: str = _col(String(10))
    risk_category: int | None = _opt(Integer)
    referred_abroad: bool = _col(Boolean)
    status: str = _col(String(20))
    status_reason: str | None = _opt(Text)
    registered_at: datetime = _col(UtcDateTime)
    # Consent per purpose (care, notifications, sharing): {purpose: {"by": subject, "at": ISO instant}}.
    consents: dict[str, dict[str, str]] | None = _opt(JSON)
    closed_at: datetime | None = _opt(UtcDateTime)  # operated, cancelled or referred: retention runs from it
    erased_at: datetime | None = _opt(UtcDateTime)  # identity erased (a family's request, or retention)
    erased_reason: str | None = _opt(String(20))  # request | retention
    # Optimistic concurrency: every UPDATE is "… WHERE version = <the one read>" and raises it by one.
    version: int = _col(Integer)
    updated_at: datetime = _col(UtcDateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


SEALED = (PatientCaseRow.__table__,)
"""The tables whose identity is sealed (the runtime's re-seal job walks them)."""


class ReadinessCheckRow(Table, table=True):
    """A case's readiness checklist: one row per item checked (a withdrawn item has none)."""

    __tablename__ = "case_readiness"

    case_id: uuid.UUID = _fk("patient_case.id", primary_key=True)
    item: str = Field(sa_column=Column(String(30), primary_key=True))
    label: str | None = _opt(String(200))
    checked_on: date = _col(Date)
    checked_by: str = _col(String(300))
    recorded_at: datetime = _col(UtcDateTime)


class ScreeningNoteRow(Table, table=True):
    """The visiting team's remote screening notes on a case: clinicians only."""

    __tablename__ = "screening_note"

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = _fk("patient_case.id", index=True)
    text: str = _col(Text)
    author: str = _col(String(300))
    author_institution_id: uuid.UUID | None = Field(default=None)
    recorded_at: datetime = _col(UtcDateTime)


class SurgeryRow(Table, table=True):
    __tablename__ = "surgery"
    __table_args__ = (Index("ix_surgery_completed", "status", "completed_at"),)  # the figures (migration 0021)

    id: uuid.UUID = Field(primary_key=True)
    mission_id: uuid.UUID = _fk("mission.id", index=True)
    case_id: uuid.UUID = _fk("patient_case.id", index=True)
    patient_ref: str = _col(String(40))
    procedure: str = _col(String(300))
    # No foreign key: a completed surgery keeps the name of the room it was held
    # in after the room is removed.
    operating_room_id: uuid.UUID = Field(index=True)
    operating_room: str = _col(String(200))
    scheduled_start: datetime = _col(UtcDateTime)
    scheduled_end: datetime = _col(UtcDateTime)  # kept for overlap queries
    expected_duration_minutes: int = _col(Integer)
    lead_surgeon_id: uuid.UUID = Field(index=True)
    anaesthetist_id: uuid.UUID | None = Field(default=None, index=True)
    status: str = _col(String(20))
    status_reason: str | None = _opt(Text)
    on_hold: bool = _col(Boolean)  # waiting with its mission, its slot kept
    site_institution_id: uuid.UUID | None = Field(default=None, index=True)  # its host site (migration 0014)
    started_at: datetime | None = _opt(UtcDateTime)
    completed_at: datetime | None = _opt(UtcDateTime)
    duration_minutes: int | None = _opt(Integer)
    outcome: str | None = _opt(String(30))
    # The local team's autonomy: who led it (on completion), and the host's practitioners'
    # parts in it, JSON [{"practitioner_id", "role"}] (at most MAX_LOCAL_PARTS).
    lead_side: str | None = _opt(String(10))
    local_roles: list[dict[str, str]] | None = _opt(JSON)
    # Thirty days after: how the patient is.
    follow_up_outcome: str | None = _opt(String(30))
    followed_up_on: date | None = _opt(Date)
    follow_up_days: int | None = _opt(Integer)
    # Optimistic concurrency: every UPDATE is "… WHERE version = <the one read>" and raises it by one.
    version: int = _col(Integer)
    updated_at: datetime = _col(UtcDateTime)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class ConsultationRow(Table, table=True):
    __tablename__ = "consultation"

    id: uuid.UUID = Field(primary_key=True)
    mission_id: uuid.UUID = _fk("mission.id", index=True)
    case_id: uuid.UUID = _fk("patient_case.id")
    patient_ref: str = _col(String(40))
    specialty: str = _col(String(200))
    scheduled_at: datetime = _col(UtcDateTime)
    status: str = _col(String(20))
    held_at: datetime | None = _opt(UtcDateTime)
    on_hold: bool = _col(Boolean)  # waiting with its mission, its time kept
    site_institution_id: uuid.UUID | None = Field(default=None)  # its host site (migration 0014)


class TrainingSessionRow(Table, table=True):
    __tablename__ = "training_session"

    id: uuid.UUID = Field(primary_key=True)
    mission_id: uuid.UUID = _fk("mission.id", index=True)
    topic: str = _col(String(300))
    scheduled_at: datetime = _col(UtcDateTime)
    hours: float = _col(Float)
    status: str = _col(String(20))
    held_at: datetime | None = _opt(UtcDateTime)
    trainee_count: int | None = _opt(Integer)
    site_institution_id: uuid.UUID | None = Field(default=None)  # its host site (migration 0020)


class TrainingPlacementRow(Table, table=True):
    """Local staff trained at a provider's hospital, outside any mission (migration 0011)."""

    __tablename__ = "training_placement"

    id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = _fk("convention.id", index=True)
    kind: str = _col(String(20))
    specialty: str = _col(String(200))
    provider_institution_id: uuid.UUID
    beneficiary_institution_id: uuid.UUID
    starts_on: date = _col(Date)
    ends_on: date = _col(Date)
    trainees: list[dict[str, str]] = _col(JSON)  # [{practitioner_id, full_name}]: practitioners, never patients
    status: str = _col(String(20))
    status_reason: str | None = _opt(Text)
    days_spent: int | None = _opt(Integer)
    completed_on: date | None = _opt(Date)
    created_at: datetime = _col(UtcDateTime)
