"""Contacts, subscriptions, template overrides, notifications, reminders, and the
replica of conventions, missions and surgeries that default audiences need.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "convention",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_table(
        "mission",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("convention_id", sa.Uuid(), nullable=True),
        sa.Column("host_institution_id", sa.Uuid(), nullable=True),
        sa.Column("visiting_institution_id", sa.Uuid(), nullable=True),
        sa.Column("specialty", sa.String(200), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("team", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _at("planned_at"),
    )
    op.create_table(
        "surgery",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("mission_id", sa.Uuid(), nullable=True),
        sa.Column("convention_id", sa.Uuid(), nullable=True),
        sa.Column("patient_ref", sa.String(200), nullable=True),
        sa.Column("procedure", sa.String(300), nullable=True),
        sa.Column("operating_room", sa.String(100), nullable=True),
        _at("scheduled_start"),
        sa.Column("lead_surgeon_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        _at("planned_at"),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject_ref", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(300), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("webhook_secret", sa.Text(), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("preferred_channel", sa.String(10), nullable=True),
        sa.Column("consent_given_by", sa.String(300), nullable=True),
        _at("consent_given_at"),
        _at("created_at", nullable=False),
        _at("updated_at", nullable=False),
        # One contact per practitioner, institution or patient: a second is a 409.
        sa.UniqueConstraint("kind", "subject_ref", name="uq_contact_subject"),
    )
    op.create_table(
        "subscription",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("contact_id", sa.Uuid(), sa.ForeignKey("contact.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("convention_id", sa.Uuid(), nullable=True),
        sa.Column("institution_id", sa.Uuid(), nullable=True),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        _at("created_at", nullable=False),
        sa.UniqueConstraint("contact_id", "event_type", "scope", name="uq_subscription_rule"),
    )
    op.create_index("ix_subscription_event_type", "subscription", ["event_type"])
    op.create_table(
        "template_override",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("language", sa.String(2), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        _at("updated_at", nullable=False),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("cause_event_id", sa.Uuid(), nullable=False),
        sa.Column("cause_type", sa.String(100), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=False),  # no foreign key: history outlives the contact
        sa.Column("recipient_ref", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        _at("lease_until"),
        sa.Column("claim", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("correlation_id", sa.String(200), nullable=True),
        _at("created_at", nullable=False),
        _at("sent_at"),
        # At most one notification per cause, recipient and channel, whatever the redeliveries.
        sa.UniqueConstraint("cause_event_id", "recipient_ref", "channel", name="uq_notification_once"),
    )
    op.create_index("ix_notification_due", "notification", ["status", "next_attempt_at"])
    op.create_index("ix_notification_contact_id", "notification", ["contact_id"])
    op.create_index("ix_notification_recipient_ref", "notification", ["recipient_ref"])
    op.create_table(
        "reminder",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        _at("due_at", nullable=False),
        _at("subject_starts_at", nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("correlation_id", sa.String(200), nullable=True),
        _at("created_at", nullable=False),
        _at("fired_at"),
        # Never twice: one reminder per subject and due date, fired or not.
        sa.UniqueConstraint("kind", "subject_id", "due_on", name="uq_reminder_once"),
    )
    op.create_index("ix_reminder_due", "reminder", ["status", "due_at"])


def downgrade() -> None:
    for index, table in (("ix_reminder_due", "reminder"), ("ix_notification_recipient_ref", "notification"),
                         ("ix_notification_contact_id", "notification"), ("ix_notification_due", "notification"),
                         ("ix_subscription_event_type", "subscription")):
        op.drop_index(index, table_name=table)
    for table in ("reminder", "notification", "template_override", "subscription", "contact", "surgery", "mission",
                  "convention"):
        op.drop_table(table)
