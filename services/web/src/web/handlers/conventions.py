"""Conventions: the list, a convention's page, and the actions on it, through the convention service."""

from __future__ import annotations

import asyncio
from typing import Any

from web.adapters.services import Download, PersonServices, ServiceRefused
from web.domain import conventions as rules
from web.domain.commands import (AmendConvention, ChangeConvention, DownloadReport, DraftConvention, EditDraft,
                                 ListConventions, ListInstitutions, ShowConvention)


async def list_conventions(query: ListConventions, services: PersonServices) -> dict[str, Any]:
    page, names = await asyncio.gather(
        services.get("convention", "/conventions", status=query.status, q=query.q, party=query.party,
                     specialty=query.specialty, limit=query.limit, offset=query.offset),
        institution_names(services),
    )
    return {"page": page, "names": names}


async def show_convention(query: ShowConvention, services: PersonServices) -> dict[str, Any]:
    cid = query.convention_id
    read, names = await asyncio.gather(services.read("convention", f"/conventions/{cid}"), institution_names(services))
    convention = read.body

    async def optional(service: str, path: str, **params: Any) -> Any:
        # A part this person may not read is left out, and the page says why.
        try:
            return await services.get(service, path, **params)
        except ServiceRefused as refused:
            return refused

    history, amendments, progress, missions, periods, autonomy, outcomes, years = await asyncio.gather(
        optional("convention", f"/conventions/{cid}/history"),
        optional("convention", f"/conventions/{cid}/amendments"),
        optional("convention", f"/conventions/{cid}/progress"),
        optional("scheduling", "/missions", convention_id=str(cid), limit=200),
        optional("convention", f"/conventions/{cid}/progress/periods"),
        optional("convention", f"/conventions/{cid}/progress/autonomy"),
        optional("convention", f"/conventions/{cid}/progress/outcomes"),
        optional("convention", f"/conventions/{cid}/progress/periods", by="year"),
    )
    return {
        "convention": convention, "etag": read.etag, "names": names,
        "parties": rules.parties(convention, names),
        "history": rules.history_lines(history) if isinstance(history, list) else [],
        "amendments": amendments if isinstance(amendments, list) else [],
        "progress": progress, "missions": missions, "periods": periods,
        "autonomy": autonomy if isinstance(autonomy, dict) else None,
        "outcomes": outcomes if isinstance(outcomes, dict) else None,
        # Each year with objectives of its own, against them.
        "years": [p for p in years["periods"] if p.get("objectives")] if isinstance(years, dict) else [],
        "chart": rules.objectives_chart(progress) if isinstance(progress, dict) else None,
    }


async def download_report(query: DownloadReport, services: PersonServices) -> Download:
    params = {"period": query.period, "from": query.first.isoformat() if query.first else None,
              "to": query.last.isoformat() if query.last else None}
    if query.format == "pdf":
        params["language"] = query.language
    return await services.download("convention", f"/conventions/{query.convention_id}/report.{query.format}",
                                   **params)


async def change_convention(cmd: ChangeConvention, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("convention", "POST", f"/conventions/{cmd.convention_id}/{cmd.action}", cmd.body,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def amend_convention(cmd: AmendConvention, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("convention", "POST", f"/conventions/{cmd.convention_id}/amendments", cmd.body,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def draft_convention(cmd: DraftConvention, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("convention", "POST", "/conventions", cmd.body,
                                  idempotency_key=cmd.idempotency_key)
    return reply.body


async def edit_draft(cmd: EditDraft, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("convention", "PATCH", f"/conventions/{cmd.convention_id}", cmd.changes,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def list_institutions(query: ListInstitutions, services: PersonServices) -> list[dict[str, Any]]:
    page = await services.get("convention", "/institutions", q=query.q, limit=query.limit)
    return list(page.get("items", [])) if isinstance(page, dict) else list(page)


async def institution_names(services: PersonServices) -> dict[str, str]:
    try:
        return {i["id"]: i["name"] for i in await list_institutions(ListInstitutions(), services)}
    except ServiceRefused:
        return {}
