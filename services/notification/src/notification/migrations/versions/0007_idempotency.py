"""Idempotency-Key: each caller's keys, what they were first used for and the first response.

Revision ID: 0007
Revises: 0006
"""

from jumelage.idempotency import create_idempotency_table_v1, drop_idempotency_table_v1

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_idempotency_table_v1()


def downgrade() -> None:
    drop_idempotency_table_v1()
