"""The lists that grow without end are read a keyset page at a time (``jumelage.db.keyset``):
each has an index on its filters, then its sort key, so a page is a seek in the index and
never a sort of every row. The waiting list (a host's cases, with or without a status, by
priority, registration, id) and the missions (all, by convention, by host; by first day,
creation, id).

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_patient_case_waiting": ("patient_case", ["host_institution_id", "status", "priority", "registered_at", "id"]),
    "ix_patient_case_list": ("patient_case", ["host_institution_id", "priority", "registered_at", "id"]),
    "ix_mission_list": ("mission", ["starts_on", "created_at", "id"]),
    "ix_mission_convention_list": ("mission", ["convention_id", "starts_on", "created_at", "id"]),
    "ix_mission_host_list": ("mission", ["host_institution_id", "starts_on", "created_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
