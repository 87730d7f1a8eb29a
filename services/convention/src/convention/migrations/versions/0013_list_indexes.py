"""The conventions' list is read a keyset page at a time (``jumelage.db.keyset``), newest
first: an index on its sort key (first day in force, reference, id), with and without the
status filter, so a page is a seek in the index and never a sort of every row.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_convention_list": ("convention", ["effective_from", "reference", "id"]),
    "ix_convention_status_list": ("convention", ["status", "effective_from", "reference", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
