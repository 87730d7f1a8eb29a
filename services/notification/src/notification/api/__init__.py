"""The HTTP API: thin routers, one module per resource (body -> command -> bus -> response)."""

from notification.api.contacts import contacts
from notification.api.families import families
from jumelage.replica import institutions_router
from notification.api.notifications import notifications
from notification.api.reminders import reminders
from notification.api.templates import templates

routers = [institutions_router(tags=["institutions"]), contacts, templates, notifications, reminders, families]
