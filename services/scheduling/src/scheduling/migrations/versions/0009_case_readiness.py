"""A case's readiness checklist (one row per item checked) and the visiting team's screening
notes. Cases from before have no item checked: they are not ready until their host checks them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_readiness",
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("patient_case.id"), primary_key=True),
        sa.Column("item", sa.String(30), primary_key=True),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("checked_on", sa.Date(), nullable=False),
        sa.Column("checked_by", sa.String(300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "screening_note",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("case_id", sa.Uuid(), sa.ForeignKey("patient_case.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(300), nullable=False),
        sa.Column("author_institution_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_screening_note_case_id", "screening_note", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_screening_note_case_id", table_name="screening_note")
    op.drop_table("screening_note")
    op.drop_table("case_readiness")
