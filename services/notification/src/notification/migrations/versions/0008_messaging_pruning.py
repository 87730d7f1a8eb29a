"""The outbox's published rows and the inbox's keys get the indexes their pruning reads.

Revision ID: 0008
Revises: 0007
"""

from jumelage.migrations import create_pruning_indexes_v2, drop_pruning_indexes_v2

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_pruning_indexes_v2()


def downgrade() -> None:
    drop_pruning_indexes_v2()
