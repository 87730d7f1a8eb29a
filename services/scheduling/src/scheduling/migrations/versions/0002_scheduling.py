"""Conventions replica, host resources, missions and teams, patient cases,
surgeries, consultations and training sessions.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Instants: timezone-aware on PostgreSQL; on SQLite the application stores UTC.
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "convention",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=True),
        sa.Column("effective_until", sa.Date(), nullable=True),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=True),
        sa.Column("signed", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("status_changed_at", INSTANT, nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("term_versions", sa.JSON(), nullable=False),
    )
    op.create_table(
        "host_resources",
        sa.Column("institution_id", sa.Uuid(), sa.ForeignKey("institution.id"), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("icu_beds", sa.Integer(), nullable=False),
    )
    op.create_table(
        "operating_room",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("institution_id", sa.Uuid(), sa.ForeignKey("host_resources.institution_id"), nullable=False,
                  index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
    )
    # A room's name is unique at its institution (case-insensitive): the backstop
    # behind the domain's check when two requests add the same name at once.
    op.create_index("uq_operating_room_name", "operating_room", ["institution_id", sa.text("lower(name)")],
                    unique=True)
    op.create_table(
        "mission",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), sa.ForeignKey("convention.id"), nullable=False, index=True),
        sa.Column("host_institution_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("visiting_institution_id", sa.Uuid(), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("totals", sa.JSON(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
    )
    op.create_table(
        "mission_member",
        sa.Column("mission_id", sa.Uuid(), sa.ForeignKey("mission.id"), primary_key=True),
        sa.Column("practitioner_id", sa.Uuid(), primary_key=True, index=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
    )
    op.create_table(
        "patient_case",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("patient_ref", sa.String(40), nullable=False, unique=True),
        sa.Column("host_institution_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("full_name", sa.String(300), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(10), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("diagnosis", sa.Text(), nullable=False),
        sa.Column("planned_procedure", sa.String(300), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("expected_duration_minutes", sa.Integer(), nullable=False),
        sa.Column("risk_scheme", sa.String(10), nullable=False),
        sa.Column("risk_category", sa.Integer(), nullable=True),
        sa.Column("referred_abroad", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("registered_at", INSTANT, nullable=False),
    )
    op.create_table(
        "surgery",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("mission_id", sa.Uuid(), sa.ForeignKey("mission.id"), nullable=False, index=True),
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("patient_case.id"), nullable=False, index=True),
        sa.Column("patient_ref", sa.String(40), nullable=False),
        sa.Column("procedure", sa.String(300), nullable=False),
        sa.Column("operating_room_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("operating_room", sa.String(200), nullable=False),
        sa.Column("scheduled_start", INSTANT, nullable=False),
        sa.Column("scheduled_end", INSTANT, nullable=False),
        sa.Column("expected_duration_minutes", sa.Integer(), nullable=False),
        sa.Column("lead_surgeon_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("started_at", INSTANT, nullable=True),
        sa.Column("completed_at", INSTANT, nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
    )
    op.create_table(
        "consultation",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("mission_id", sa.Uuid(), sa.ForeignKey("mission.id"), nullable=False, index=True),
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("patient_case.id"), nullable=False),
        sa.Column("patient_ref", sa.String(40), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("scheduled_at", INSTANT, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("held_at", INSTANT, nullable=True),
    )
    op.create_table(
        "training_session",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("mission_id", sa.Uuid(), sa.ForeignKey("mission.id"), nullable=False, index=True),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("scheduled_at", INSTANT, nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("held_at", INSTANT, nullable=True),
        sa.Column("trainee_count", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    for table in ("training_session", "consultation", "surgery", "patient_case", "mission_member", "mission",
                  "operating_room", "host_resources", "convention"):
        op.drop_table(table)
