"""An operating room's turnover between two surgeries (issue 19): rooms from before have none
(read as: the mission's specialty's default).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operating_room") as batch:
        batch.add_column(sa.Column("turnover_minutes", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operating_room") as batch:
        batch.drop_column("turnover_minutes")
