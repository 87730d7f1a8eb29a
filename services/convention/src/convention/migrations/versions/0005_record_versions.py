"""A convention's version (raised by every change; its ETag) and when it last
changed. Conventions from before start at version 1, changed when created.

Plain ``ALTER TABLE … ADD/DROP COLUMN`` on both databases: a batch copy of the
table on SQLite would drop the original, which its parties' and amendments'
foreign keys refuse once they hold rows. ``updated_at`` is added NOT NULL with
a placeholder default (SQLite adds a NOT NULL column only with a constant
default), then set; PostgreSQL drops the placeholder.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("convention", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("convention", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                                          server_default="1970-01-01 00:00:00"))
    op.execute("UPDATE convention SET updated_at = created_at")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("convention", "updated_at", server_default=None)


def downgrade() -> None:
    op.execute("ALTER TABLE convention DROP COLUMN updated_at")
    op.execute("ALTER TABLE convention DROP COLUMN version")
