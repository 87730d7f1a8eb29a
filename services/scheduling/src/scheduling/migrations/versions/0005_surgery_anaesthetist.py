"""The anaesthetist of a surgery (a member of the mission's team), when assigned:
by hand, or the one the plan proposed. Surgeries from before have none.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("surgery") as batch:
        batch.add_column(sa.Column("anaesthetist_id", sa.Uuid(), nullable=True))
    op.create_index("ix_surgery_anaesthetist_id", "surgery", ["anaesthetist_id"])


def downgrade() -> None:
    op.drop_index("ix_surgery_anaesthetist_id", table_name="surgery")
    with op.batch_alter_table("surgery") as batch:
        batch.drop_column("anaesthetist_id")
