"""Contact details sealed at rest (jumelage.sealing): a contact's display name, e-mail address and
phone number become sealed text; the rows in clear are sealed here (with the key ring of
IDENTITY_KEYS / IDENTITY_SEARCH_KEY, which a database with contacts needs). And
``identity_access``: who read a family's contact.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from jumelage import sealing
from jumelage.identity_access import create_identity_access_table_v1, drop_identity_access_table_v1

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = {"display_name": sa.String(300), "email": sa.String(254), "phone": sa.String(16)}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # SQLite keeps any text in a VARCHAR column
        for name in COLUMNS:
            op.alter_column("contact", name, type_=sa.Text(), existing_nullable=True)
    create_identity_access_table_v1()
    rows = bind.execute(sa.text("SELECT id, display_name, email, phone FROM contact")).all()
    for contact_id, *values in rows:
        fresh = {name: sealing.ring().seal(v, f"contact.{name}")  # a clear error without IDENTITY_KEYS
                 for name, v in zip(COLUMNS, values, strict=True) if v is not None and not sealing.is_sealed(v)}
        if fresh:
            sets = ", ".join(f"{name} = :{name}" for name in fresh)
            bind.execute(sa.text(f"UPDATE contact SET {sets} WHERE id = :id"), {**fresh, "id": contact_id})


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, display_name, email, phone FROM contact")).all()
    for contact_id, *values in rows:
        plain = {name: sealing.ring().open(v, f"contact.{name}") for name, v in zip(COLUMNS, values, strict=True)
                 if v is not None}
        if plain:
            sets = ", ".join(f"{name} = :{name}" for name in plain)
            bind.execute(sa.text(f"UPDATE contact SET {sets} WHERE id = :id"), {**plain, "id": contact_id})
    drop_identity_access_table_v1()
    if bind.dialect.name == "postgresql":
        for name, type_ in COLUMNS.items():
            op.alter_column("contact", name, type_=type_)
