"""The notification desk (administrators): deliveries, failures, reminders, contacts
with their subscriptions, templates and their preview, from the notification service."""

from __future__ import annotations

import asyncio
from typing import Any

from web.adapters.services import PersonServices
from web.domain import desk as rules
from web.domain.commands import PreviewTemplate, ShowDesk


async def show_desk(query: ShowDesk, services: PersonServices) -> dict[str, Any]:
    get = services.get
    notifications, failed, unknown, reminders, contacts, templates = await asyncio.gather(
        get("notification", "/notifications", status=query.status, limit=query.limit, offset=query.offset),
        get("notification", "/notifications", status="failed", limit=query.limit),
        get("notification", "/notifications", status="unknown", limit=query.limit),
        get("notification", "/reminders", status="scheduled", limit=query.limit, offset=query.reminders_offset),
        get("notification", "/contacts", limit=query.limit, offset=query.contacts_offset),
        get("notification", "/templates"),
    )
    subscriptions = await asyncio.gather(*(get("notification", f"/contacts/{c['id']}/subscriptions")
                                           for c in contacts["items"]))
    return {
        "notifications": notifications, "counts": rules.status_counts(notifications["items"]),
        "failures": rules.failures(failed["items"] + unknown["items"]),
        "reminders": reminders,
        "contacts": [{**c, "subscriptions": s} for c, s in zip(contacts["items"], subscriptions, strict=True)],
        "contacts_total": contacts["total"],
        "templates": rules.templates_by_type(templates),
        "pages": {"offset": rules.page_of(notifications), "reminders_offset": rules.page_of(reminders),
                  "contacts_offset": rules.page_of(contacts)},
    }


async def preview_template(query: PreviewTemplate, services: PersonServices) -> dict[str, Any]:
    base = f"/templates/{query.event_type}/{query.language}/{query.channel}"
    source, preview = await asyncio.gather(services.get("notification", base),
                                           services.get("notification", f"{base}/preview"))
    return {"source": source, "preview": preview}
