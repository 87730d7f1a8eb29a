"""HTTP event subscriptions for partners without AMQP access: each subscription and its numbered events (issue 22).

Revision ID: 0012
Revises: 0009
"""

from jumelage.subscriptions import create_subscription_tables_v1, drop_subscription_tables_v1

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_subscription_tables_v1()


def downgrade() -> None:
    drop_subscription_tables_v1()
