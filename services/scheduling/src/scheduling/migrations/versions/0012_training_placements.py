"""Training placements of local staff at a provider's hospital, outside any mission (issue 19).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_placement",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), sa.ForeignKey("convention.id"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("specialty", sa.String(200), nullable=False),
        sa.Column("provider_institution_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_institution_id", sa.Uuid(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("trainees", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("days_spent", sa.Integer(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_training_placement_convention_id", "training_placement", ["convention_id"])


def downgrade() -> None:
    op.drop_index("ix_training_placement_convention_id", table_name="training_placement")
    op.drop_table("training_placement")
