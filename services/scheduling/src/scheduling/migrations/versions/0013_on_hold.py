"""Surgeries and consultations wait with their mission while it is on hold (its convention
suspended), keeping their slot: ``on_hold``. Those from before are not on hold.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("surgery", "consultation")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("on_hold", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("on_hold")
