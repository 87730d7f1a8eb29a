"""The privacy officer's page: who read the identity of the institution's patients, from the two
services that keep it (each decides who may read that: its privacy officer only)."""

from __future__ import annotations

import asyncio
from typing import Any

from web.adapters.services import PersonServices, ServiceRefused
from web.domain.commands import ShowAccessHistory

SERVICES = ("scheduling", "notification")


async def show_access_history(query: ShowAccessHistory, services: PersonServices) -> dict[str, Any]:
    """Both services' rows, newest first, each with the service it came from; a refusal as such."""
    params = {"limit": 500, **({"patient_ref": query.patient_ref} if query.patient_ref else {})}

    async def one(service: str) -> Any:
        try:
            return await services.get(service, f"/institutions/{query.institution_id}/identity-access", **params)
        except ServiceRefused as refused:
            return refused

    answers = dict(zip(SERVICES, await asyncio.gather(*(one(s) for s in SERVICES)), strict=True))
    refused = next((a for a in answers.values() if isinstance(a, ServiceRefused)), None)
    if refused is not None:
        return {"refused": refused, "rows": []}
    rows = [{**row, "service": service} for service, page in answers.items() for row in page["items"]]
    return {"refused": None, "rows": sorted(rows, key=lambda r: r["at"], reverse=True)}
