"""The local team's autonomy and the 30-day follow-up of a surgery (issue 21): who led it
(``lead_side``, set on completion), the host's practitioners' parts in it (``local_roles``), and how
the patient is thirty days after (``follow_up_outcome``, ``followed_up_on``, ``follow_up_days``).
Surgeries from before have none of them.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

COLUMNS = ("lead_side", "local_roles", "follow_up_outcome", "followed_up_on", "follow_up_days")


def upgrade() -> None:
    op.add_column("surgery", sa.Column("lead_side", sa.String(10), nullable=True))
    op.add_column("surgery", sa.Column("local_roles", sa.JSON(), nullable=True))
    op.add_column("surgery", sa.Column("follow_up_outcome", sa.String(30), nullable=True))
    op.add_column("surgery", sa.Column("followed_up_on", sa.Date(), nullable=True))
    op.add_column("surgery", sa.Column("follow_up_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surgery") as batch:
        for column in COLUMNS:
            batch.drop_column(column)
