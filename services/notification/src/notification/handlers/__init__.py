"""The service's handlers, one module per aggregate or flow. ``HANDLERS`` maps each
command and query (``domain/commands.py``) to its handler; incoming events are
mapped in ``subscribers.py``. The delivery worker (``delivery.py``) is the flow
that sends what the others create."""

from __future__ import annotations

from typing import Any

from notification.domain import commands as c
from jumelage import replica
from notification.handlers import contacts, notifications, reminders, templates
from notification.handlers.reminders import fire_due_reminders

HANDLERS: dict[type, Any] = {
    **replica.HANDLERS,  # the institutions known here (jumelage.replica)
    c.CreateContact: contacts.create_contact,
    c.GetContact: contacts.get_contact,
    c.FamilyAccessRequest: contacts.family_access_request,
    c.ListContacts: contacts.list_contacts,
    c.UpdateContact: contacts.update_contact,
    c.DeleteContact: contacts.delete_contact,
    c.RecordConsent: contacts.record_consent,
    c.WithdrawConsent: contacts.withdraw_consent,
    c.AddSubscription: contacts.add_subscription,
    c.ListSubscriptions: contacts.list_subscriptions,
    c.RemoveSubscription: contacts.remove_subscription,
    c.ListTemplates: templates.list_templates,
    c.GetTemplate: templates.effective_template,
    c.PutTemplate: templates.put_template,
    c.DeleteTemplate: templates.delete_template,
    c.PreviewTemplate: templates.preview_template,
    c.FindNotifications: notifications.find_notifications,
    c.GetNotification: notifications.get_notification,
    c.FindReminders: reminders.find_reminders,
    c.FireDueReminders: fire_due_reminders,
}

__all__ = ["HANDLERS", "fire_due_reminders"]
