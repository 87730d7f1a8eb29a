"""Each mission's, surgery's and patient case's version (raised by every change;
its ETag) and when it last changed. Rows from before start at version 1,
changed when created (a mission), registered (a case), or now (a surgery,
which kept no time of its own).

Plain ``ALTER TABLE … ADD/DROP COLUMN`` on both databases: a batch copy of
these tables on SQLite would drop the originals, which their children's
foreign keys refuse once they hold rows. ``updated_at`` is added NOT NULL
with a placeholder default (SQLite adds a NOT NULL column only with a
constant default), then set; PostgreSQL drops the placeholder.

Revision ID: 0006
Revises: 0005
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SINCE = {"mission": "created_at", "patient_case": "registered_at", "surgery": None}


def upgrade() -> None:
    for table, since in SINCE.items():
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        op.add_column(table, sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                                       server_default="1970-01-01 00:00:00"))
        if since:
            op.execute(f"UPDATE {table} SET updated_at = {since}")
        else:
            rows = sa.table(table, sa.column("updated_at", sa.DateTime(timezone=True)))
            op.execute(rows.update().values(updated_at=datetime.now(UTC)))
        if op.get_bind().dialect.name != "sqlite":
            op.alter_column(table, "updated_at", server_default=None)


def downgrade() -> None:
    for table in SINCE:
        op.execute(f"ALTER TABLE {table} DROP COLUMN updated_at")
        op.execute(f"ALTER TABLE {table} DROP COLUMN version")
