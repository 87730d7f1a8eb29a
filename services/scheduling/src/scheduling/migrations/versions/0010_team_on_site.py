"""A team member's home institution and on-site dates (issue 19): rows from before have none
(read as: the visiting institution, the whole mission).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mission_member") as batch:
        batch.add_column(sa.Column("home_institution_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("arrives_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("leaves_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mission_member") as batch:
        batch.drop_column("leaves_on")
        batch.drop_column("arrives_on")
        batch.drop_column("home_institution_id")
