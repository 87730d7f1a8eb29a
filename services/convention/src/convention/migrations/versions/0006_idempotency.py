"""Idempotency-Key: each caller's keys, what they were first used for and the first response.

Revision ID: 0006
Revises: 0005
"""

from jumelage.idempotency import create_idempotency_table_v1, drop_idempotency_table_v1

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table_v1()


def downgrade() -> None:
    drop_idempotency_table_v1()
