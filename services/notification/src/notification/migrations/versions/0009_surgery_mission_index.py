"""The surgery replica is read by mission: a mission's hold or release re-plans the
reminders of its surgeries.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_surgery_mission_id", "surgery", ["mission_id"])


def downgrade() -> None:
    op.drop_index("ix_surgery_mission_id", table_name="surgery")
