"""The notification service follows a mission's host sites (issue 19): ``mission.sites`` (JSON
[{institution_id, starts_on, ends_on}], NULL: its host alone) with ``sites_at``, the time of the
event that set them; a surgery's host site (``surgery.site_institution_id``: its day-30 reminder
goes to that site's contacts) and ``lead_at``, the time of the event that set its lead (an older
event arriving late never overwrites a newer lead). Rows from before have none: the host, as before.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mission", sa.Column("sites", sa.JSON(), nullable=True))
    op.add_column("mission", sa.Column("sites_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("surgery", sa.Column("site_institution_id", sa.Uuid(), nullable=True))
    op.add_column("surgery", sa.Column("lead_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("surgery") as batch:
        batch.drop_column("lead_at")
        batch.drop_column("site_institution_id")
    with op.batch_alter_table("mission") as batch:
        batch.drop_column("sites_at")
        batch.drop_column("sites")
