"""Which institution keeps each contact: its coordinators (or, for families, its
clinicians) are the ones who may read and change it. Older contacts have none:
administrators only.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("managed_by", sa.Uuid(), nullable=True))
    op.create_index("ix_contact_managed_by", "contact", ["managed_by"])


def downgrade() -> None:
    op.drop_index("ix_contact_managed_by", table_name="contact")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("managed_by")
