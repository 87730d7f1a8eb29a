"""Progress kept as counters raised as each fact arrives (issues 21 and 23): per convention and
day (its local day in ``TIMEZONE``) the surgeries, their outcomes, the cases referred abroad,
consultations, training sessions, hours, trainee places and placements (``progress_day``); the
cases referred abroad per day, specialty and procedure (``progress_referred``, valued on a read at
the reference costs in force that day); the days each mission worked (``progress_mission_day``).
The counters of the facts already kept are computed here from them (``rebuild_counters``, the
function ``python -m convention rebuild-progress`` runs).

Revision ID: 0015
Revises: 0014
"""

import os
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COUNTS = ("surgeries", "referred_abroad", "successful", "with_complications", "deceased", "consultations",
          "training_sessions", "trainees", "placements", "placement_days", "placement_trainees",
          "observership", "fellowship")


def upgrade() -> None:
    op.create_table(
        "progress_day",
        sa.Column("convention_id", sa.Uuid(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        *(sa.Column(c, sa.Integer(), nullable=False, server_default="0") for c in COUNTS[:7]),
        sa.Column("training_hours", sa.Float(), nullable=False, server_default="0"),
        *(sa.Column(c, sa.Integer(), nullable=False, server_default="0") for c in COUNTS[7:]),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "progress_referred",
        sa.Column("convention_id", sa.Uuid(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("specialty", sa.String(200), primary_key=True),
        sa.Column("procedure", sa.String(300), primary_key=True),
        sa.Column("cases", sa.Integer(), nullable=False),
    )
    op.create_table(
        "progress_mission_day",
        sa.Column("convention_id", sa.Uuid(), primary_key=True),
        sa.Column("mission_id", sa.Uuid(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("facts", sa.Integer(), nullable=False),
    )
    # The facts already kept, counted (in the zone the service takes days in).
    from convention.store.repositories import rebuild_counters

    session = Session(bind=op.get_bind())
    rebuild_counters(session, ZoneInfo(os.environ.get("TIMEZONE") or "Africa/Algiers"))
    session.flush()


def downgrade() -> None:
    for table in ("progress_mission_day", "progress_referred", "progress_day"):
        op.drop_table(table)
