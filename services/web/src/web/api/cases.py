"""The waiting list of a host: its cases by state, and the clinicians' forms."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from jumelage.errors import Invalid
from web.access import CSRF, PersonDep, ServicesDep
from web.adapters.services import ServiceRefused
from web.api.forms import PRIVATE, FormKey, FormProblem, IfMatch, Reason
from web.api.rendering import page
from web.domain import cases as rules
from web.domain.commands import (
    ChangeCase,
    ChangeConsent,
    ChangeReadiness,
    EditCase,
    EraseIdentity,
    RegisterCase,
    ShowWaitingList,
)

router = APIRouter(prefix="/hosts", tags=["waiting list"])

Line = Annotated[str, Form(min_length=1, max_length=300)]


async def _list_page(request: Request, who: Any, services: Any, institution_id: uuid.UUID, state: str | None,
                     priority: int | None, *, problem: Any = None, form: str | None = None) -> Response:
    shown = await request.app.state.web.bus.handle(ShowWaitingList(institution_id, priority), services)
    state = state if state in rules.STATUSES else "waiting"
    refused = shown["refused"]
    status = problem.status if problem else refused.status if refused else 200
    response = page(request, "cases/list.html",
                    {**shown, "institution_id": str(institution_id), "state": state, "priority": priority,
                     "tabs": rules.TABS, "schemes": rules.RISK_SCHEMES, "sexes": rules.SEXES,
                     "editable": rules.editable(state),
                     "readiness_items": rules.READINESS_ITEMS, "ready_tabs": rules.READY_TABS,
                     "problem": problem, "problem_form": form}, status_code=status)
    response.headers.update(PRIVATE)
    return response


@router.get("/{institution_id}/cases")
async def waiting_list(request: Request, institution_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                       state: Annotated[str | None, Query(max_length=30)] = None,
                       priority: Annotated[str | None, Query(max_length=1, description="1-5; empty: all")] = None,
                       ) -> Response:
    chosen = int(priority) if priority and priority in "12345" else None
    return await _list_page(request, who, services, institution_id, state, chosen)


@router.post("/{institution_id}/cases", dependencies=[CSRF])
async def register_case(request: Request, institution_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                        full_name: Line, date_of_birth: Annotated[date, Form()],
                        sex: Annotated[Literal["female", "male"], Form()],
                        weight_kg: Annotated[float, Form(gt=0, le=400)],
                        diagnosis: Annotated[str, Form(min_length=1, max_length=2000)], planned_procedure: Line,
                        priority: Annotated[int, Form(ge=1, le=5)],
                        expected_duration_minutes: Annotated[int, Form(gt=0, le=1440)], form_key: FormKey,
                        risk_scheme: Annotated[str, Form(max_length=20)] = "none",
                        risk_category: Annotated[str | None, Form(max_length=2)] = None,
                        referred_abroad: Annotated[bool, Form()] = False) -> Response:
    fields = {"full_name": full_name, "date_of_birth": date_of_birth.isoformat(), "sex": sex, "weight_kg": weight_kg,
              "diagnosis": diagnosis, "planned_procedure": planned_procedure, "priority": priority,
              "expected_duration_minutes": expected_duration_minutes, "risk_scheme": risk_scheme,
              "risk_category": risk_category, "referred_abroad": referred_abroad}
    try:
        body = rules.case_body(fields)
        await request.app.state.web.bus.handle(RegisterCase(institution_id, body, form_key), services)
    except Invalid as invalid:
        return await _list_page(request, who, services, institution_id, "waiting", None,
                                problem=FormProblem.of(invalid), form="register")
    except ServiceRefused as refused:
        return await _list_page(request, who, services, institution_id, "waiting", None,
                                problem=refused, form="register")
    return RedirectResponse(f"/hosts/{institution_id}/cases?state=waiting", status_code=303)


@router.post("/{institution_id}/cases/{case_id}/edit", dependencies=[CSRF])
async def edit_case(request: Request, institution_id: uuid.UUID, case_id: uuid.UUID, who: PersonDep,
                    services: ServicesDep, full_name: Line, date_of_birth: Annotated[date, Form()],
                    sex: Annotated[Literal["female", "male"], Form()],
                    weight_kg: Annotated[float, Form(gt=0, le=400)], form_key: FormKey,
                    status: Annotated[str, Form(max_length=30, description="the case's, as the page showed it")],
                    if_match: IfMatch = None,
                    diagnosis: Annotated[str | None, Form(max_length=2000)] = None,
                    planned_procedure: Annotated[str | None, Form(max_length=300)] = None,
                    priority: Annotated[int | None, Form(ge=1, le=5)] = None,
                    expected_duration_minutes: Annotated[int | None, Form(gt=0, le=1440)] = None,
                    risk_scheme: Annotated[str, Form(max_length=20)] = "none",
                    risk_category: Annotated[str | None, Form(max_length=2)] = None,
                    referred_abroad: Annotated[bool, Form()] = False) -> Response:
    fields = {"full_name": full_name, "date_of_birth": date_of_birth.isoformat(), "sex": sex, "weight_kg": weight_kg,
              "diagnosis": diagnosis, "planned_procedure": planned_procedure, "priority": priority,
              "expected_duration_minutes": expected_duration_minutes, "risk_scheme": risk_scheme,
              "risk_category": risk_category, "referred_abroad": referred_abroad}
    state = status if status in rules.STATUSES else "waiting"
    try:
        body = rules.edit_body(fields, state)
        await request.app.state.web.bus.handle(EditCase(case_id, body, if_match or None, form_key), services)
    except Invalid as invalid:
        return await _list_page(request, who, services, institution_id, state, None,
                                problem=FormProblem.of(invalid), form=f"edit-{case_id}")
    except ServiceRefused as refused:
        return await _list_page(request, who, services, institution_id, state, None,
                                problem=refused, form=f"edit-{case_id}")
    return RedirectResponse(f"/hosts/{institution_id}/cases?state={state}", status_code=303)


@router.post("/{institution_id}/cases/{case_id}/readiness", dependencies=[CSRF])
async def change_readiness(request: Request, institution_id: uuid.UUID, case_id: uuid.UUID, who: PersonDep,
                           services: ServicesDep, item: Annotated[str, Form(max_length=30)],
                           action: Annotated[Literal["check", "withdraw"], Form()], form_key: FormKey,
                           checked_on: Annotated[str | None, Form(max_length=10)] = None,
                           label: Annotated[str | None, Form(max_length=200)] = None,
                           state: Annotated[str | None, Form(max_length=30)] = None,
                           if_match: IfMatch = None) -> Response:
    """Before the generic case action below, which would take "readiness" for an action."""
    back = state if state in rules.READY_TABS else "waiting"
    try:
        if item not in rules.READINESS_ITEMS:
            raise Invalid(f"unknown readiness item {item!r}", field="item")
        cmd = ChangeReadiness(case_id, item, action == "check", checked_on or None, (label or "").strip() or None,
                              if_match or None, form_key)
        await request.app.state.web.bus.handle(cmd, services)
    except Invalid as invalid:
        return await _list_page(request, who, services, institution_id, back, None,
                                problem=FormProblem.of(invalid), form=f"readiness-{case_id}")
    except ServiceRefused as refused:
        return await _list_page(request, who, services, institution_id, back, None,
                                problem=refused, form=f"readiness-{case_id}")
    return RedirectResponse(f"/hosts/{institution_id}/cases?state={back}", status_code=303)


@router.post("/{institution_id}/cases/{case_id}/consent", dependencies=[CSRF])
async def change_consent(request: Request, institution_id: uuid.UUID, case_id: uuid.UUID, who: PersonDep,
                         services: ServicesDep, purpose: Annotated[Literal["care", "notifications", "sharing"], Form()],
                         action: Annotated[Literal["give", "withdraw"], Form()], form_key: FormKey,
                         state: Annotated[str | None, Form(max_length=30)] = None,
                         if_match: IfMatch = None) -> Response:
    """The family's consent to a purpose, recorded or withdrawn by the host's clinician."""
    back = state if state in rules.STATUSES else "waiting"
    try:
        await request.app.state.web.bus.handle(
            ChangeConsent(case_id, purpose, action == "give", if_match or None, form_key), services)
    except ServiceRefused as refused:
        return await _list_page(request, who, services, institution_id, back, None,
                                problem=refused, form=f"consent-{case_id}")
    return RedirectResponse(f"/hosts/{institution_id}/cases?state={back}", status_code=303)


@router.post("/{institution_id}/cases/{case_id}/erase", dependencies=[CSRF])
async def erase_identity(request: Request, institution_id: uuid.UUID, case_id: uuid.UUID, who: PersonDep,
                         services: ServicesDep, form_key: FormKey,
                         confirm: Annotated[Literal["erase"], Form(description="the person typed it: no slip")],
                         state: Annotated[str | None, Form(max_length=30)] = None,
                         if_match: IfMatch = None) -> Response:
    """The family's request to erase: the host's clinician or privacy officer carries it out."""
    back = state if state in rules.STATUSES else "waiting"
    try:
        await request.app.state.web.bus.handle(EraseIdentity(case_id, if_match or None, form_key), services)
    except ServiceRefused as refused:
        return await _list_page(request, who, services, institution_id, back, None,
                                problem=refused, form=f"erase-{case_id}")
    return RedirectResponse(f"/hosts/{institution_id}/cases?state={back}", status_code=303)


@router.post("/{institution_id}/cases/{case_id}/{action}", dependencies=[CSRF])
async def change_case(request: Request, institution_id: uuid.UUID, case_id: uuid.UUID,
                      action: Literal["cancel", "refer-elsewhere"], who: PersonDep, services: ServicesDep,
                      reason: Reason, form_key: FormKey, if_match: IfMatch = None) -> Response:
    try:
        await request.app.state.web.bus.handle(ChangeCase(case_id, action, reason, if_match or None, form_key),
                                               services)
    except ServiceRefused as refused:
        return await _list_page(request, who, services, institution_id, "waiting", None,
                                problem=refused, form=f"{action}-{case_id}")
    return RedirectResponse(f"/hosts/{institution_id}/cases?state=waiting", status_code=303)
