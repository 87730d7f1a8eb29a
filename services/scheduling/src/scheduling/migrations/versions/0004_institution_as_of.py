"""The time of the event each institution replica row was last written from:
an older event arriving late (after a retry) is not applied over a later one.
Rows from before have none: the next event about them is applied.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("institution") as batch:
        batch.add_column(sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("institution") as batch:
        batch.drop_column("as_of")
