"""Objectives per calendar year of a convention, beside those over the whole period (issue 21):
the column ``convention.yearly_objectives`` (JSON, the contract's ``YearObjectives``; null: none).

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
    op.add_column("convention", sa.Column("yearly_objectives", sa.JSON(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN on both (SQLite 3.35+): a batch copy of the table would drop it,
    # which its parties' foreign keys refuse.
    op.execute("ALTER TABLE convention DROP COLUMN yearly_objectives")
