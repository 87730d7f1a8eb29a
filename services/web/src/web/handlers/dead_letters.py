"""The dead-letter desk (administrators): each service queue's dead letters, from that
service's ``/dead-letters`` (the same desk as ``python -m jumelage.dlq``)."""

from __future__ import annotations

import asyncio
from typing import Any

from web.adapters.services import PersonServices, ServiceDown
from web.domain import dead_letters as rules
from web.domain.commands import HandleDeadLetter, ShowDeadLetter, ShowDeadLetters


async def show_dead_letters(query: ShowDeadLetters, services: PersonServices) -> dict[str, Any]:
    async def one(service: str) -> Any:
        try:
            return await services.get(service, "/dead-letters")
        except ServiceDown:
            return None  # that queue's table says so; the others are shown

    answers = await asyncio.gather(*(one(s) for s in rules.SERVICES))
    shown = rules.queues(dict(zip(rules.SERVICES, answers, strict=True)))
    return {"queues": shown, "total": rules.total(shown)}


async def show_dead_letter(query: ShowDeadLetter, services: PersonServices) -> dict[str, Any]:
    letter = await services.get(query.service, f"/dead-letters/{query.key}")
    return {"service": query.service, "letter": letter}


async def handle_dead_letter(cmd: HandleDeadLetter, services: PersonServices) -> dict[str, Any]:
    if cmd.action == "discard":
        path, body = f"/dead-letters/{cmd.key}/discard", {"reason": cmd.reason}
    else:
        path, body = (f"/dead-letters/{cmd.key}/retry" if cmd.key else "/dead-letters/retry"), None
    reply = await services.change(cmd.service, "POST", path, body, idempotency_key=cmd.idempotency_key)
    return reply.body
