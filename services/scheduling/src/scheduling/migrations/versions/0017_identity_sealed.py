"""A patient's identity sealed at rest (jumelage.sealing): a case's name and birth date become
sealed text, found by the keyed hash ``name_hash``; the rows in clear are sealed here (with the
key ring of IDENTITY_KEYS / IDENTITY_SEARCH_KEY, which a database with cases needs). Beside
them: each case's consent per purpose, when it closed (retention runs from then), when and why
its identity was erased; and ``identity_access``, who read a patient's identity.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from jumelage import sealing
from jumelage.identity_access import create_identity_access_table_v1, drop_identity_access_table_v1

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NAME, BORN = "patient_case.full_name", "patient_case.date_of_birth"
CLOSED = ("operated", "cancelled", "referred_elsewhere")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.alter_column("patient_case", "full_name", type_=sa.Text(), existing_nullable=False)
        op.alter_column("patient_case", "date_of_birth", type_=sa.Text(), existing_nullable=False,
                        postgresql_using="date_of_birth::text")
    # SQLite keeps any text in its DATE and VARCHAR columns: no table to rebuild.
    op.add_column("patient_case", sa.Column("name_hash", sa.String(64), nullable=True))
    op.add_column("patient_case", sa.Column("consents", sa.JSON(), nullable=True))
    op.add_column("patient_case", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("patient_case", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("patient_case", sa.Column("erased_reason", sa.String(20), nullable=True))
    op.create_index("ix_patient_case_name_hash", "patient_case", ["name_hash"])
    create_identity_access_table_v1()
    rows = bind.execute(sa.text("SELECT id, full_name, date_of_birth FROM patient_case")).all()
    if rows:
        ring = sealing.ring()  # a clear error if IDENTITY_KEYS is not set: the rows would stay in clear
        for case_id, name, born in rows:
            if sealing.is_sealed(name):
                continue
            bind.execute(sa.text("UPDATE patient_case SET full_name = :n, date_of_birth = :b, name_hash = :h "
                                 "WHERE id = :id"),
                         {"n": ring.seal(name, NAME), "b": ring.seal(str(born)[:10], BORN),
                          "h": ring.search_hash(name), "id": case_id})
    # Cases closed before: their retention runs from their last change.
    op.execute(sa.text("UPDATE patient_case SET closed_at = updated_at WHERE status IN "
                       "('operated', 'cancelled', 'referred_elsewhere')"))


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, full_name, date_of_birth FROM patient_case")).all()
    if rows:
        ring = sealing.ring()
        for case_id, name, born in rows:
            bind.execute(sa.text("UPDATE patient_case SET full_name = :n, date_of_birth = :b WHERE id = :id"),
                         {"n": ring.open(name, NAME), "b": ring.open(born, BORN)[:10], "id": case_id})
    drop_identity_access_table_v1()
    op.drop_index("ix_patient_case_name_hash", table_name="patient_case")
    for column in ("erased_reason", "erased_at", "closed_at", "consents", "name_hash"):
        # Not a batch: SQLite would rebuild the table, which surgeries refer to (as 0006 does).
        op.execute(f"ALTER TABLE patient_case DROP COLUMN {column}")
    if bind.dialect.name == "postgresql":
        op.alter_column("patient_case", "date_of_birth", type_=sa.Date(), postgresql_using="date_of_birth::date")
        op.alter_column("patient_case", "full_name", type_=sa.String(300))
