"""A contact's version (raised by every change; its ETag; ``updated_at`` it
already had). Contacts from before start at version 1.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contact", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    # Plain ALTER on SQLite too: a batch copy would drop the table its subscriptions' foreign keys name.
    op.execute("ALTER TABLE contact DROP COLUMN version")
