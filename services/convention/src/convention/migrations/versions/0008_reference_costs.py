"""Reference costs (abroad and here) in a convention's terms; a completed surgery's
specialty and procedure, which its reference cost is looked up by.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (a batch copy of ``convention`` on SQLite would drop the
    # table its parties' foreign keys point at; see 0005).
    op.add_column("convention", sa.Column("reference_costs", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("progress_surgery", sa.Column("specialty", sa.String(200), nullable=True))
    op.add_column("progress_surgery", sa.Column("procedure", sa.String(300), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE progress_surgery DROP COLUMN procedure")
    op.execute("ALTER TABLE progress_surgery DROP COLUMN specialty")
    op.execute("ALTER TABLE convention DROP COLUMN reference_costs")
