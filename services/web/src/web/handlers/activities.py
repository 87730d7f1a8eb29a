"""A mission's consultations and training sessions, through the scheduling service."""

from __future__ import annotations

import asyncio
from typing import Any

from web.adapters.services import PersonServices, ServiceRefused
from web.domain import activities as rules
from web.domain.commands import HoldActivity, PlanActivity, ShowActivities
from web.handlers.conventions import institution_names

DEFAULT_ZONE = "Africa/Algiers"  # the scheduling service's default for a host
PATHS = {"consultation": ("consultations", "consultations"), "training": ("training-sessions", "training-sessions")}


async def show_activities(query: ShowActivities, services: PersonServices) -> dict[str, Any]:
    mid = query.mission_id
    mission = await services.get("scheduling", f"/missions/{mid}")  # a refusal is the page's answer
    host = mission["host_institution_id"]

    async def optional(path: str, **params: Any) -> Any:
        try:
            return await services.get("scheduling", path, **params)
        except ServiceRefused as refused:
            return refused

    consultations, trainings, resources, waiting, names = await asyncio.gather(
        services.get("scheduling", f"/missions/{mid}/consultations"),
        services.get("scheduling", f"/missions/{mid}/training-sessions"),
        optional(f"/institutions/{host}/resources"),
        # Only the host's clinicians may read its cases: for anyone else the form asks for a case's id.
        optional(f"/institutions/{host}/cases", status="waiting", limit=200),
        institution_names(services),
    )
    zone = resources.get("timezone", DEFAULT_ZONE) if isinstance(resources, dict) else DEFAULT_ZONE
    return {"mission": mission, "names": names, "zone": zone,
            "consultations": rules.in_order(consultations), "trainings": rules.in_order(trainings),
            "summary": rules.summary(consultations, trainings),
            "waiting": waiting if isinstance(waiting, list) else None}


async def plan_activity(cmd: PlanActivity, services: PersonServices) -> dict[str, Any]:
    path = PATHS[cmd.kind][0]
    reply = await services.change("scheduling", "POST", f"/missions/{cmd.mission_id}/{path}", cmd.body,
                                  idempotency_key=cmd.idempotency_key)
    return reply.body


async def hold_activity(cmd: HoldActivity, services: PersonServices) -> dict[str, Any]:
    path = PATHS[cmd.kind][1]
    reply = await services.change("scheduling", "POST", f"/{path}/{cmd.activity_id}/hold", cmd.body,
                                  idempotency_key=cmd.idempotency_key)
    return reply.body
