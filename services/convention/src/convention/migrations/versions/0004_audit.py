"""The audit trail of changes made through the API (append-only).

Revision ID: 0004
Revises: 0003
"""

from jumelage.audit import create_audit_table_v1, drop_audit_table_v1

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_table_v1()


def downgrade() -> None:
    drop_audit_table_v1()
