"""The waiting list's figures by period (``GET /institutions/{id}/waiting-list/figures``) are
counted on read: a host's cases by registration and by closing, and the completed surgeries by
completion, each a range seek in an index rather than a scan of every row.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_patient_case_registered": ("patient_case", ["host_institution_id", "registered_at"]),
    "ix_patient_case_closed": ("patient_case", ["host_institution_id", "closed_at", "status"]),
    "ix_surgery_completed": ("surgery", ["status", "completed_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
