"""Training sessions tied to a host site (issue 19): ``training_session.site_institution_id``, as
surgeries and consultations have had since 0014. Every session from before is at its mission's host.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("training_session") as batch:
        batch.add_column(sa.Column("site_institution_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE training_session SET site_institution_id = "
               "(SELECT host_institution_id FROM mission WHERE mission.id = training_session.mission_id)")


def downgrade() -> None:
    with op.batch_alter_table("training_session") as batch:
        batch.drop_column("site_institution_id")
