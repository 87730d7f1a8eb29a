"""Conventions with their parties, specialties, amendments and history; progress facts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "convention",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("reference", sa.String(100), nullable=False, unique=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_until", sa.Date(), nullable=False),
        sa.Column("objective_surgeries", sa.Integer(), nullable=False),
        sa.Column("objective_consultations", sa.Integer(), nullable=False),
        sa.Column("objective_training_sessions", sa.Integer(), nullable=False),
        sa.Column("cost_bearers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("signed_at", sa.String(200), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_convention_status", "convention", ["status"])
    op.create_table(
        "convention_party",
        sa.Column("convention_id", sa.Uuid(), sa.ForeignKey("convention.id"), primary_key=True),
        sa.Column("institution_id", sa.Uuid(), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_convention_party_institution_id", "convention_party", ["institution_id"])
    op.create_table(
        "convention_specialty",
        sa.Column("convention_id", sa.Uuid(), sa.ForeignKey("convention.id"), primary_key=True),
        sa.Column("specialty", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_table(
        "amendment",
        sa.Column("convention_id", sa.Uuid(), sa.ForeignKey("convention.id"), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "convention_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("correlation_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_convention_history_convention_id", "convention_history", ["convention_id"])
    op.create_table(
        "progress_surgery",
        sa.Column("surgery_id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("previously_referred_abroad", sa.Boolean(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "progress_consultation",
        sa.Column("consultation_id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "progress_training",
        sa.Column("training_session_id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("mission_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("trainee_count", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "progress_mission",
        sa.Column("mission_id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("surgeries", sa.Integer(), nullable=False),
        sa.Column("consultations", sa.Integer(), nullable=False),
        sa.Column("training_sessions", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    for table in ("progress_mission", "progress_training", "progress_consultation", "progress_surgery",
                  "convention_history", "amendment", "convention_specialty", "convention_party", "convention"):
        op.drop_table(table)
