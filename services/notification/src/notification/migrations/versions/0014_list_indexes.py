"""The notifications' list is read a keyset page at a time (``jumelage.db.keyset``), newest
first: an index on its sort key (creation, id), with and without the status filter, so a
page is a seek in the index and never a sort of every row.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_notification_list": ("notification", ["created_at", "id"]),
    "ix_notification_status_list": ("notification", ["status", "created_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
