"""HTTP event subscriptions for partners without AMQP access: each subscription and its numbered events (issue 22).

Revision ID: 0016
Revises: 0014
"""

from jumelage.subscriptions import create_subscription_tables_v1, drop_subscription_tables_v1

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_subscription_tables_v1()


def downgrade() -> None:
    drop_subscription_tables_v1()
