"""Conventions: the list with its filters, a convention's page, and its actions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from web.access import CSRF, PersonDep, ServicesDep
from web.adapters.services import ServiceRefused
from web.api.forms import FormProblem
from web.api.rendering import page
from jumelage.errors import Invalid
from web.domain import conventions as rules
from web.domain.commands import (AmendConvention, ChangeConvention, DownloadReport, DraftConvention, EditDraft,
                                 ListConventions, ListInstitutions, ShowConvention)

router = APIRouter(prefix="/conventions", tags=["conventions"])

Text = Annotated[str, Form(min_length=1, max_length=2000)]
FormKey = Annotated[uuid.UUID, Form(description="the form's own key: sent twice, it acts once")]
IfMatch = Annotated[str | None, Form(max_length=200)]


@router.get("")
async def conventions(request: Request, who: PersonDep, services: ServicesDep,
                      status: Annotated[str | None, Query(max_length=20)] = None,
                      q: Annotated[str | None, Query(max_length=300)] = None,
                      specialty: Annotated[str | None, Query(max_length=200)] = None,
                      offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    status = status if status in rules.STATUSES else None
    query = ListConventions(status=status, q=q or None, specialty=specialty or None, offset=offset)
    found = await request.app.state.web.bus.handle(query, services)
    block = "results" if request.headers.get("HX-Request") else None
    return page(request, "conventions/list.html", {**found, "query": query, "statuses": rules.STATUSES},
                block=block)


@router.get("/new")
async def new_convention(request: Request, who: PersonDep, services: ServicesDep) -> Response:
    return await _draft_page(request, services, {})


async def _draft_page(request: Request, services: Any, typed: dict[str, str], *,
                      problem: ServiceRefused | FormProblem | None = None) -> Response:
    institutions = await request.app.state.web.bus.handle(ListInstitutions(), services)
    return page(request, "conventions/new.html",
                {"institutions": institutions, "typed": typed, "kinds": rules.KINDS, "roles": rules.PARTY_ROLES,
                 "rows": range(rules.PARTY_ROWS), "problem": problem, "problem_form": "draft",
                 "cost_row_count": rules.COST_ROWS},
                status_code=problem.status if problem else 200)


@router.post("", dependencies=[CSRF])
async def draft(request: Request, who: PersonDep, services: ServicesDep) -> Response:
    form = await request.form(max_fields=100, max_files=0)
    typed = {k: str(v)[:2000] for k, v in form.items() if isinstance(v, str)}
    try:
        key = uuid.UUID(typed.get("form_key", ""))
    except ValueError:
        key = uuid.uuid4()
    try:
        created = await request.app.state.web.bus.handle(
            DraftConvention(rules.terms_from_form(typed, draft=True), key), services)
    except Invalid as wrong:
        return await _draft_page(request, services, typed, problem=FormProblem.of(wrong))
    except ServiceRefused as refused:
        return await _draft_page(request, services, typed, problem=refused)
    return RedirectResponse(f"/conventions/{created['id']}", status_code=303)


@router.post("/{convention_id}/edit", dependencies=[CSRF])
async def edit(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep) -> Response:
    form = await request.form(max_fields=100, max_files=0)
    typed = {k: str(v)[:2000] for k, v in form.items() if isinstance(v, str)}
    try:
        key = uuid.UUID(typed.get("form_key", ""))
    except ValueError:
        key = uuid.uuid4()
    try:
        cmd = EditDraft(convention_id, rules.terms_from_form(typed, draft=False), typed.get("if_match") or None, key)
    except Invalid as wrong:
        return await _convention_page(request, who, services, convention_id, problem=FormProblem.of(wrong),
                                      form="edit")
    try:
        await request.app.state.web.bus.handle(cmd, services)
    except ServiceRefused as refused:
        return await _convention_page(request, who, services, convention_id, problem=refused, form="edit")
    return RedirectResponse(f"/conventions/{convention_id}", status_code=303)


async def _convention_page(request: Request, who: Any, services: Any, convention_id: uuid.UUID, *,
                           problem: ServiceRefused | FormProblem | None = None, form: str | None = None) -> Response:
    shown = await request.app.state.web.bus.handle(ShowConvention(convention_id), services)
    offered = rules.actions(shown["convention"], who.roles, who.institution_id)
    editing = {}
    if "edit" in offered:
        editing = {"institutions": await request.app.state.web.bus.handle(ListInstitutions(), services),
                   "kinds": rules.KINDS, "roles": rules.PARTY_ROLES, "rows": range(rules.PARTY_ROWS)}
    return page(request, "conventions/detail.html",
                {**shown, **editing, "actions": offered, "problem": problem, "problem_form": form,
                 "cost_row_count": rules.COST_ROWS},
                status_code=problem.status if problem else 200)


@router.get("/{convention_id}")
async def convention(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep) -> Response:
    return await _convention_page(request, who, services, convention_id)


@router.get("/{convention_id}/report")
async def report(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                 format: Annotated[Literal["pdf", "zip"], Query()] = "pdf",
                 language: Annotated[Literal["fr", "ar", "en"], Query()] = "fr",
                 period: Annotated[str | None, Query(max_length=7)] = None,
                 first: Annotated[date | None, Query(alias="from")] = None,
                 last: Annotated[date | None, Query(alias="to")] = None) -> Response:
    """The convention's report, from the convention service with the person's token (which
    audits the download); a refusal is shown next to the report form, in the service's words."""
    query = DownloadReport(convention_id, format, language, period or None, first, last)
    try:
        file = await request.app.state.web.bus.handle(query, services)
    except ServiceRefused as refused:
        return await _convention_page(request, who, services, convention_id, problem=refused, form="report")
    headers = {"Cache-Control": "private, no-store"}
    if file.disposition:
        headers["Content-Disposition"] = file.disposition
    return Response(file.content, media_type=file.media_type, headers=headers)


@router.post("/{convention_id}/sign", dependencies=[CSRF])
async def sign(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep,
               signed_on: Annotated[date, Form()], signed_at: Annotated[str, Form(min_length=1, max_length=200)],
               form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, convention_id, "sign",
                         {"signed_on": signed_on.isoformat(), "signed_at": signed_at}, form_key, if_match)


@router.post("/{convention_id}/suspend", dependencies=[CSRF])
async def suspend(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                  reason: Text, form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, convention_id, "suspend", {"reason": reason}, form_key, if_match)


@router.post("/{convention_id}/resume", dependencies=[CSRF])
async def resume(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                 reason: Text, form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, convention_id, "resume", {"reason": reason}, form_key, if_match)


@router.post("/{convention_id}/terminate", dependencies=[CSRF])
async def terminate(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                    on: Annotated[date, Form()], reason: Text, form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, convention_id, "terminate",
                         {"on": on.isoformat(), "reason": reason}, form_key, if_match)


@router.post("/{convention_id}/amend", dependencies=[CSRF])
async def amend(request: Request, convention_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                signed_on: Annotated[date, Form()], summary: Text, form_key: FormKey,
                effective_until: Annotated[date | None, Form()] = None,
                surgeries: Annotated[int | None, Form(ge=0, le=100_000)] = None,
                consultations: Annotated[int | None, Form(ge=0, le=100_000)] = None,
                training_sessions: Annotated[int | None, Form(ge=0, le=100_000)] = None,
                if_match: IfMatch = None) -> Response:
    changes: dict[str, Any] = {}
    if effective_until is not None:
        changes["effective_until"] = effective_until.isoformat()
    objectives = {k: v for k, v in (("surgeries", surgeries), ("consultations", consultations),
                                    ("training_sessions", training_sessions)) if v is not None}
    if objectives:
        changes["objectives"] = objectives
    form = await request.form(max_fields=80, max_files=0)
    typed = {k: str(v)[:2000] for k, v in form.items() if isinstance(v, str)}
    if typed.get("change_costs") == "yes":  # the lines as typed replace the current ones
        try:
            changes["reference_costs"] = rules.reference_costs_from_form(typed) or []
        except Invalid as wrong:
            return await _convention_page(request, who, services, convention_id, problem=FormProblem.of(wrong),
                                          form="amend")
    cmd = AmendConvention(convention_id, {"signed_on": signed_on.isoformat(), "summary": summary, "changes": changes},
                          if_match, form_key)
    try:
        await request.app.state.web.bus.handle(cmd, services)
    except ServiceRefused as refused:
        return await _convention_page(request, who, services, convention_id, problem=refused, form="amend")
    return RedirectResponse(f"/conventions/{convention_id}", status_code=303)


async def _change(request: Request, who: Any, services: Any, convention_id: uuid.UUID, action: str,
                  body: dict[str, Any], form_key: uuid.UUID, if_match: str | None) -> Response:
    try:
        await request.app.state.web.bus.handle(ChangeConvention(convention_id, action, body, if_match, form_key),
                                               services)
    except ServiceRefused as refused:  # shown next to the form that caused it, in the service's words
        return await _convention_page(request, who, services, convention_id, problem=refused, form=action)
    return RedirectResponse(f"/conventions/{convention_id}", status_code=303)
