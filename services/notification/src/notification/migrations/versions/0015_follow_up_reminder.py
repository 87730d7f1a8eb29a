"""The 30-day follow-up reminder (issue 21): the surgery replica knows when a surgery was
completed, who led it (``lead_side``: a local lead is reminded beside the host's contacts) and
whether its follow-up is recorded. Surgeries from before have none of it (no reminder for them).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("surgery", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("surgery", sa.Column("lead_side", sa.String(10), nullable=True))
    op.add_column("surgery", sa.Column("followed_up", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("surgery") as batch:
        batch.drop_column("followed_up")
        batch.drop_column("lead_side")
        batch.drop_column("completed_at")
