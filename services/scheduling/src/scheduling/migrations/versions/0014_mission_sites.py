"""Several host sites in one mission (issue 19): ``mission_site`` (an institution and the
mission's days there, NULL: the mission's first / last day), and the site of each surgery and
consultation. Every mission from before gets one site, its host, on all its days; every
surgery and consultation from before is at its mission's host.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("surgery", "consultation")


def upgrade() -> None:
    op.create_table(
        "mission_site",
        sa.Column("mission_id", sa.Uuid(), sa.ForeignKey("mission.id"), primary_key=True),
        sa.Column("institution_id", sa.Uuid(), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
    )
    op.create_index("ix_mission_site_institution_id", "mission_site", ["institution_id"])
    op.execute("INSERT INTO mission_site (mission_id, institution_id, position, starts_on, ends_on) "
               "SELECT id, host_institution_id, 0, NULL, NULL FROM mission")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("site_institution_id", sa.Uuid(), nullable=True))
        op.execute(f"UPDATE {table} SET site_institution_id = "
                   f"(SELECT host_institution_id FROM mission WHERE mission.id = {table}.mission_id)")
    op.create_index("ix_surgery_site_institution_id", "surgery", ["site_institution_id"])


def downgrade() -> None:
    op.drop_index("ix_surgery_site_institution_id", table_name="surgery")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("site_institution_id")
    op.drop_index("ix_mission_site_institution_id", table_name="mission_site")
    op.drop_table("mission_site")
