"""The privacy officer's page: who read the identity of the institution's patients, from the two
services that keep it (each decides who may read that: its privacy officer only)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from web.adapters.services import PersonServices, ServiceRefused
from web.adapters.languages import LANGUAGES
from web.domain.commands import DownloadAccessRequest, ShowAccessHistory

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


async def download_access_request(query: DownloadAccessRequest, services: PersonServices) -> dict[str, Any]:
    """What both services hold of a patient, for one document: the scheduling service's case (its
    refusal, as any, goes to the refusal page) and the notification service's family part (none
    when the family has no contact there: its 404). Each service writes the export down itself."""
    case_path = (f"/cases/{query.case_id}/access-request" if query.case_id is not None
                 else f"/patients/{quote(query.patient_ref or '', safe='')}/access-request")
    case_part = await services.get("scheduling", case_path)
    patient_ref = case_part["case"]["patient_ref"]
    try:
        family = await services.get("notification", f"/families/{quote(patient_ref, safe='')}/access-request")
    except ServiceRefused as refused:
        if refused.status != 404:
            raise
        family = None
    spoken = family["contact"].get("language") if family else None
    language = query.language or (spoken if spoken in LANGUAGES else None) or services.language
    accesses = [{**a, "service": "scheduling"} for a in case_part["accesses"]]
    accesses += [{**a, "service": "notification"} for a in (family or {}).get("accesses", [])]
    return {"language": language, "exported_at": case_part["exported_at"], "case": case_part["case"],
            "activities": case_part["activities"], "contact": family["contact"] if family else None,
            "notifications": family["notifications"] if family else [],
            "accesses": sorted(accesses, key=lambda r: r["at"], reverse=True)}
