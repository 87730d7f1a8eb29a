"""The convention service's tables (SQLModel, on SQLite or PostgreSQL): its own metadata,
rows only. The migrations make them; ``repositories.py`` reads and writes them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Date, Float, Index, Integer, String, Text
from sqlalchemy.orm import declared_attr, registry
from sqlmodel import Field, SQLModel

from convention.domain.institutions import Institution
from jumelage.db import UtcDateTime
from jumelage.events.convention import InstitutionKind


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: its own metadata, so the three services'
    tables never mix even when tests load them in one process."""


# -- institutions -----------------------------------------------------------------


def institution_of(row: Any) -> Institution:
    """The institution a row holds: an :class:`InstitutionRow`, or a result row with its columns."""
    return Institution(id=row.id, name=row.name, kind=InstitutionKind(row.kind), country=row.country,
                       city=row.city, wilaya=row.wilaya, registered_at=row.registered_at)


class InstitutionRow(Table, table=True):
    __tablename__ = "institution"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(sa_column=Column(String(300), nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    country: str = Field(sa_column=Column(String(2), nullable=False))
    wilaya: str | None = Field(default=None, sa_column=Column(String(100)))
    city: str = Field(sa_column=Column(String(200), nullable=False))
    registered_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    name_key: str = Field(sa_column=Column(String(300), nullable=False))
    city_key: str = Field(sa_column=Column(String(200), nullable=False))

    def to_domain(self) -> Institution:
        return institution_of(self)

    def update_from(self, i: Institution) -> None:
        self.name, self.kind, self.country, self.wilaya, self.city = i.name, i.kind.value, i.country, i.wilaya, i.city
        self.name_key, self.city_key = i.key




# -- conventions ------------------------------------------------------------------


class ConventionRow(Table, table=True):
    __tablename__ = "convention"
    __table_args__ = (  # the keyset pages of the list, newest first (migration 0013)
        Index("ix_convention_list", "effective_from", "reference", "id"),
        Index("ix_convention_status_list", "status", "effective_from", "reference", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    reference: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(String(40), nullable=False))
    effective_from: date = Field(sa_column=Column(Date, nullable=False))
    effective_until: date = Field(sa_column=Column(Date, nullable=False))
    objective_surgeries: int = Field(sa_column=Column(Integer, nullable=False))
    objective_consultations: int = Field(sa_column=Column(Integer, nullable=False))
    objective_training_sessions: int = Field(sa_column=Column(Integer, nullable=False))
    cost_bearers: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    reference_costs: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    # Targets per calendar year, beside the whole period's (migration 0016; None: none set).
    yearly_objectives: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(sa_column=Column(String(20), nullable=False, index=True))
    signed_on: date | None = Field(default=None, sa_column=Column(Date))
    signed_at: str | None = Field(default=None, sa_column=Column(String(200)))
    status_reason: str | None = Field(default=None, sa_column=Column(Text))
    ended_on: date | None = Field(default=None, sa_column=Column(Date))
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # Optimistic concurrency: every UPDATE is "… WHERE version = <the one read>" and raises it by one.
    version: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class PartyRow(Table, table=True):
    __tablename__ = "convention_party"

    convention_id: uuid.UUID = Field(primary_key=True, foreign_key="convention.id")
    institution_id: uuid.UUID = Field(primary_key=True, index=True)
    role: str = Field(sa_column=Column(String(20), nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))


class SpecialtyRow(Table, table=True):
    __tablename__ = "convention_specialty"

    convention_id: uuid.UUID = Field(primary_key=True, foreign_key="convention.id")
    specialty: str = Field(sa_column=Column(String(200), primary_key=True))
    position: int = Field(sa_column=Column(Integer, nullable=False))


class AmendmentRow(Table, table=True):
    __tablename__ = "amendment"

    convention_id: uuid.UUID = Field(primary_key=True, foreign_key="convention.id")
    number: int = Field(sa_column=Column(Integer, primary_key=True))
    signed_on: date = Field(sa_column=Column(Date, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    changes: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # The day its changes apply from (None: signed_on), and the values they replaced.
    effective_from: date | None = Field(default=None, sa_column=Column(Date))
    replaced: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class HistoryRow(Table, table=True):
    """Everything that happened to a convention, in order: kept, never edited."""

    __tablename__ = "convention_history"

    id: int | None = Field(default=None, primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False))
    details: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    event_id: uuid.UUID | None = None
    correlation_id: str | None = Field(default=None, sa_column=Column(String(200)))

# -- progress facts ---------------------------------------------------------------


class SurgeryFact(Table, table=True):
    __tablename__ = "progress_surgery"

    surgery_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    mission_id: uuid.UUID
    outcome: str = Field(sa_column=Column(String(40), nullable=False))
    previously_referred_abroad: bool
    completed_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # What the reference cost is looked up by (None: an event from before the contract carried it).
    specialty: str | None = Field(default=None, sa_column=Column(String(200)))
    procedure: str | None = Field(default=None, sa_column=Column(String(300)))
    # Who led it and the case's risk (None: an event from before the contract carried them).
    lead_side: str | None = Field(default=None, sa_column=Column(String(10)))
    risk: str | None = Field(default=None, sa_column=Column(String(30)))


class ConsultationFact(Table, table=True):
    __tablename__ = "progress_consultation"

    consultation_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    mission_id: uuid.UUID
    held_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class TrainingFact(Table, table=True):
    __tablename__ = "progress_training"

    training_session_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    mission_id: uuid.UUID
    topic: str = Field(sa_column=Column(Text, nullable=False))
    hours: float = Field(sa_column=Column(Float, nullable=False))
    trainee_count: int
    held_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class MissionFact(Table, table=True):
    __tablename__ = "progress_mission"

    mission_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    surgeries: int
    consultations: int
    training_sessions: int



class PlacementFact(Table, table=True):
    """A training placement completed at a provider's hospital, outside any mission (migration 0008)."""

    __tablename__ = "progress_placement"

    placement_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    specialty: str = Field(sa_column=Column(Text, nullable=False))
    starts_on: date = Field(sa_column=Column(Date, nullable=False))
    ends_on: date = Field(sa_column=Column(Date, nullable=False))
    days_spent: int
    trainee_count: int


# -- tallies kept as facts arrive (never recomputed from the facts on a read) ------------------


class AutonomyTally(Table, table=True):
    """Surgeries per convention, month (programmes' time zone) and risk category, and how many
    the local team led (their lead surgeon's home institution the host)."""

    __tablename__ = "progress_autonomy"

    convention_id: uuid.UUID = Field(primary_key=True)
    period: str = Field(sa_column=Column(String(7), primary_key=True))  # YYYY-MM
    risk: str = Field(sa_column=Column(String(30), primary_key=True))  # domain.achievements.risk_key
    surgeries: int = Field(sa_column=Column(Integer, nullable=False))
    led_locally: int = Field(sa_column=Column(Integer, nullable=False))


class PractitionerStep(Table, table=True):
    """A local practitioner's role in a convention's surgeries: the first time and how often."""

    __tablename__ = "progress_practitioner_step"

    convention_id: uuid.UUID = Field(primary_key=True)
    practitioner_ref: str = Field(sa_column=Column(String(100), primary_key=True))
    role: str = Field(sa_column=Column(String(30), primary_key=True))
    full_name: str | None = Field(default=None, sa_column=Column(String(200)))
    first_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    surgeries: int = Field(sa_column=Column(Integer, nullable=False))


class FollowUpFact(Table, table=True):
    """A surgery's 30-day follow-up, kept by its id (a second report of it counts once)."""

    __tablename__ = "progress_follow_up"

    surgery_id: uuid.UUID = Field(primary_key=True)
    convention_id: uuid.UUID = Field(index=True)
    outcome: str = Field(sa_column=Column(String(30), nullable=False))
    risk: str = Field(sa_column=Column(String(30), nullable=False))
    days_after_surgery: int = Field(sa_column=Column(Integer, nullable=False))
    followed_up_on: date = Field(sa_column=Column(Date, nullable=False))


class OutcomeTally(Table, table=True):
    """Per convention and risk category: surgeries operated, deaths at surgery, and the 30-day
    follow-ups recorded, per outcome (one column each)."""

    __tablename__ = "progress_outcome"

    convention_id: uuid.UUID = Field(primary_key=True)
    risk: str = Field(sa_column=Column(String(30), primary_key=True))
    operated: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    died_at_surgery: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    alive: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    readmitted: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    reoperated: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    surgical_site_infection: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    deceased: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    lost_to_follow_up: int = Field(default=0, sa_column=Column(Integer, nullable=False))


# -- progress counters, raised as each fact arrives (migration 0015) -------------------------------


class DayTallyRow(Table, table=True):
    """A convention's counters for one day (its local day in ``TIMEZONE``): months, quarters,
    years, the whole convention and a report's period are sums of days (``domain.progress.TALLY_COUNTS``)."""

    __tablename__ = "progress_day"

    convention_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    surgeries: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    referred_abroad: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    successful: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    with_complications: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    deceased: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    consultations: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    training_sessions: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    training_hours: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    trainees: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    placements: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    placement_days: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    placement_trainees: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    observership: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    fellowship: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # The last surgery, consultation or session of the day (None: placements only).
    last_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime()))


class ReferredTallyRow(Table, table=True):
    """Cases referred abroad treated here, per convention, day, specialty and procedure ('' for
    none): the money not spent abroad is valued on a read, at the lines in force on each day."""

    __tablename__ = "progress_referred"

    convention_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    specialty: str = Field(sa_column=Column(String(200), primary_key=True))
    procedure: str = Field(sa_column=Column(String(300), primary_key=True))
    cases: int = Field(sa_column=Column(Integer, nullable=False))


class MissionDayRow(Table, table=True):
    """The days a mission worked (its surgeries, consultations, sessions that day): a period
    counts the missions that worked in it."""

    __tablename__ = "progress_mission_day"

    convention_id: uuid.UUID = Field(primary_key=True)
    mission_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(sa_column=Column(Date, primary_key=True))
    facts: int = Field(sa_column=Column(Integer, nullable=False))
