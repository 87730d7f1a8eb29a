"""The outbox's published rows and the inbox's keys get the indexes their pruning reads.

Revision ID: 0007
Revises: 0006
"""

from jumelage.migrations import create_pruning_indexes_v2, drop_pruning_indexes_v2

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_pruning_indexes_v2()


def downgrade() -> None:
    drop_pruning_indexes_v2()
