"""Training placements completed at a provider's hospital, counted in a convention's progress (issue 19).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "progress_placement",
        sa.Column("placement_id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("specialty", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("days_spent", sa.Integer(), nullable=False),
        sa.Column("trainee_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_progress_placement_convention_id", "progress_placement", ["convention_id"])


def downgrade() -> None:
    op.drop_index("ix_progress_placement_convention_id", table_name="progress_placement")
    op.drop_table("progress_placement")
