"""The local teams' autonomy and the 30-day outcomes in a convention's progress, and the reference
costs in force on a surgery's day (issue 21): an amendment's effective date and the values it
replaced; who
led each surgery and its case's risk on the surgery fact; tallies raised as facts arrive (surgeries
led locally per month and risk category, each local practitioner's steps, outcomes per risk
category) and the follow-up facts. Surgeries from before count under the risk ``unknown`` once
the tallies start: the tallies begin empty (the facts from before carry no lead nor risk).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

OUTCOME_COLUMNS = ("operated", "died_at_surgery", "alive", "readmitted", "reoperated", "surgical_site_infection",
                   "deceased", "lost_to_follow_up")


def upgrade() -> None:
    # An amendment's changes apply from its effective date (absent: the day it was signed); the
    # values they replaced are kept, so the reference costs in force on any day are known.
    op.add_column("amendment", sa.Column("effective_from", sa.Date(), nullable=True))
    op.add_column("amendment", sa.Column("replaced", sa.JSON(), nullable=True))
    op.add_column("progress_surgery", sa.Column("lead_side", sa.String(10), nullable=True))
    op.add_column("progress_surgery", sa.Column("risk", sa.String(30), nullable=True))
    op.create_table(
        "progress_autonomy",
        sa.Column("convention_id", sa.Uuid(), primary_key=True),
        sa.Column("period", sa.String(7), primary_key=True),
        sa.Column("risk", sa.String(30), primary_key=True),
        sa.Column("surgeries", sa.Integer(), nullable=False),
        sa.Column("led_locally", sa.Integer(), nullable=False),
    )
    op.create_table(
        "progress_practitioner_step",
        sa.Column("convention_id", sa.Uuid(), primary_key=True),
        sa.Column("practitioner_ref", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(30), primary_key=True),
        sa.Column("full_name", sa.String(200), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surgeries", sa.Integer(), nullable=False),
    )
    op.create_table(
        "progress_follow_up",
        sa.Column("surgery_id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("risk", sa.String(30), nullable=False),
        sa.Column("days_after_surgery", sa.Integer(), nullable=False),
        sa.Column("followed_up_on", sa.Date(), nullable=False),
    )
    op.create_index("ix_progress_follow_up_convention_id", "progress_follow_up", ["convention_id"])
    op.create_table(
        "progress_outcome",
        sa.Column("convention_id", sa.Uuid(), primary_key=True),
        sa.Column("risk", sa.String(30), primary_key=True),
        *(sa.Column(c, sa.Integer(), nullable=False) for c in OUTCOME_COLUMNS),
    )


def downgrade() -> None:
    op.drop_table("progress_outcome")
    op.drop_index("ix_progress_follow_up_convention_id", table_name="progress_follow_up")
    op.drop_table("progress_follow_up")
    op.drop_table("progress_practitioner_step")
    op.drop_table("progress_autonomy")
    with op.batch_alter_table("progress_surgery") as batch:
        batch.drop_column("risk")
        batch.drop_column("lead_side")
    with op.batch_alter_table("amendment") as batch:
        batch.drop_column("replaced")
        batch.drop_column("effective_from")
