"""Institutions are told apart by a key that ignores case, accents and spacing.

``lower()`` on SQLite folds ASCII only, so 'MINISTÈRE' and 'Ministère' were two
institutions there; the key is computed in Python, the same on both databases.

Revision ID: 0003
Revises: 0002
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _key(text: str) -> str:  # frozen copy of domain.institutions.identity_key
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def upgrade() -> None:
    op.drop_index("uq_institution_name_city", table_name="institution")
    with op.batch_alter_table("institution") as batch:
        batch.add_column(sa.Column("name_key", sa.String(300), nullable=True))
        batch.add_column(sa.Column("city_key", sa.String(200), nullable=True))
    conn = op.get_bind()
    table = sa.table("institution", sa.column("id"), sa.column("name"), sa.column("city"),
                     sa.column("name_key"), sa.column("city_key"))
    for row in conn.execute(sa.select(table.c.id, table.c.name, table.c.city)).all():
        conn.execute(table.update().where(table.c.id == row.id)
                     .values(name_key=_key(row.name), city_key=_key(row.city)))
    with op.batch_alter_table("institution") as batch:
        batch.alter_column("name_key", nullable=False, existing_type=sa.String(300))
        batch.alter_column("city_key", nullable=False, existing_type=sa.String(200))
    op.create_index("uq_institution_identity", "institution", ["name_key", "city_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_institution_identity", table_name="institution")
    with op.batch_alter_table("institution") as batch:
        batch.drop_column("city_key")
        batch.drop_column("name_key")
    op.create_index("uq_institution_name_city", "institution",
                    [sa.text("lower(name)"), sa.text("lower(city)")], unique=True)
