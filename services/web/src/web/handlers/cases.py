"""The waiting list: a host's cases through the scheduling service, which decides
what this person sees (a patient's identity only for the host's clinicians)."""

from __future__ import annotations

from typing import Any

from jumelage.clock import Clock
from web.adapters.services import PersonServices, ServiceRefused
from web.domain import cases as rules
from web.domain.commands import (ChangeCase, ChangeConsent, ChangeReadiness, EditCase, EraseIdentity, RegisterCase,
                                 ShowWaitingList)
from web.handlers.conventions import institution_names


async def show_waiting_list(query: ShowWaitingList, services: PersonServices, *, clock: Clock) -> dict[str, Any]:
    """The cases as the service returned them to this person, or its refusal (shown as such).
    Nothing is kept between requests: each person's answer is their own."""
    names = await institution_names(services)
    try:
        cases = await services.get("scheduling", f"/institutions/{query.institution_id}/cases",
                                   priority=query.priority, limit=200)  # the first page (keyset paged)
    except ServiceRefused as refused:
        return {"refused": refused, "names": names, "list": rules.waiting_list([], clock.today(), clock.zone)}
    return {"refused": None, "names": names, "list": rules.waiting_list(cases, clock.today(), clock.zone)}


async def register_case(cmd: RegisterCase, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "POST", f"/institutions/{cmd.institution_id}/cases", cmd.body,
                                  idempotency_key=cmd.idempotency_key)
    return reply.body


async def change_case(cmd: ChangeCase, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "POST", f"/cases/{cmd.case_id}/{cmd.action}", {"reason": cmd.reason},
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def edit_case(cmd: EditCase, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "PATCH", f"/cases/{cmd.case_id}", cmd.changes,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def change_readiness(cmd: ChangeReadiness, services: PersonServices) -> dict[str, Any]:
    path = f"/cases/{cmd.case_id}/readiness/{cmd.item}"
    if cmd.check:
        body = {k: v for k, v in (("checked_on", cmd.checked_on), ("label", cmd.label)) if v}
        reply = await services.change("scheduling", "PUT", path, body, idempotency_key=cmd.idempotency_key,
                                      if_match=cmd.if_match)
    else:
        reply = await services.change("scheduling", "DELETE", path, idempotency_key=cmd.idempotency_key,
                                      if_match=cmd.if_match)
    return reply.body


async def change_consent(cmd: ChangeConsent, services: PersonServices) -> dict[str, Any]:
    if cmd.give:
        reply = await services.change("scheduling", "POST", f"/cases/{cmd.case_id}/consents",
                                      {"purpose": cmd.purpose}, idempotency_key=cmd.idempotency_key,
                                      if_match=cmd.if_match)
    else:
        reply = await services.change("scheduling", "DELETE", f"/cases/{cmd.case_id}/consents/{cmd.purpose}",
                                      idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def erase_identity(cmd: EraseIdentity, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "POST", f"/cases/{cmd.case_id}/erase", None,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body
