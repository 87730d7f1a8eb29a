"""A mission's consultations and training sessions: the lists, and the forms to
schedule them and record them as held."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jumelage.errors import Invalid
from web.access import CSRF, PersonDep, ServicesDep
from web.adapters.services import ServiceRefused
from web.api.forms import PRIVATE, FormKey, FormProblem
from web.api.rendering import page
from web.domain import activities as rules
from web.domain import cases as case_rules
from web.domain.commands import HoldActivity, PlanActivity, ShowActivities

router = APIRouter(prefix="/missions", tags=["consultations and training"])

WallClock = Annotated[str, Form(min_length=1, max_length=40, description="the host's wall clock, YYYY-MM-DDTHH:MM")]
Zone = Annotated[str, Form(min_length=1, max_length=64)]
OptionalWallClock = Annotated[str | None, Form(max_length=40)]


async def _page(request: Request, who: Any, services: Any, mission_id: uuid.UUID, *, problem: Any = None,
                form: str | None = None) -> Response:
    shown = await request.app.state.web.bus.handle(ShowActivities(mission_id), services)
    offered = rules.offered(shown["mission"], who.roles, who.institution_id)
    response = page(request, "activities/list.html", {**shown, "offered": offered, "problem": problem,
                                                      "problem_form": form},
                    status_code=problem.status if problem else 200)
    response.headers.update(PRIVATE)  # a clinician's page names the patients: never kept by a cache
    return response


async def _act(request: Request, who: Any, services: Any, mission_id: uuid.UUID, form: str, build: Any) -> Response:
    """Build the command (a field the page cannot read is shown next to the form), send it,
    and show the service's refusal next to the form that caused it."""
    try:
        await request.app.state.web.bus.handle(build(), services)
    except Invalid as invalid:
        return await _page(request, who, services, mission_id, problem=FormProblem.of(invalid), form=form)
    except ServiceRefused as refused:
        return await _page(request, who, services, mission_id, problem=refused, form=form)
    return RedirectResponse(f"/missions/{mission_id}/activities", status_code=303)


@router.get("/{mission_id}/activities")
async def activities(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep) -> Response:
    return await _page(request, who, services, mission_id)


Optional = Annotated[str | None, Form(max_length=2000)]


@router.post("/{mission_id}/activities/consultations", dependencies=[CSRF])
async def schedule_consultation(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                                scheduled_at: WallClock, zone: Zone, form_key: FormKey,
                                case_id: Annotated[uuid.UUID | None, Form()] = None,
                                full_name: Optional = None, date_of_birth: Optional = None, sex: Optional = None,
                                weight_kg: Optional = None, diagnosis: Optional = None,
                                planned_procedure: Optional = None, priority: Optional = None,
                                expected_duration_minutes: Optional = None, risk_scheme: Optional = None,
                                risk_category: Optional = None, referred_abroad: Optional = None) -> Response:
    """For a case of the host's waiting list, or a new patient (the host's clinicians only:
    the service decides) given with the case's fields."""
    def build() -> PlanActivity:
        at = rules.instant(scheduled_at, zone, field="scheduled_at")
        new_patient = None
        if full_name:
            fields = {"full_name": full_name, "date_of_birth": date_of_birth, "sex": sex, "weight_kg": weight_kg,
                      "diagnosis": diagnosis, "planned_procedure": planned_procedure, "priority": priority,
                      "expected_duration_minutes": expected_duration_minutes, "risk_scheme": risk_scheme,
                      "risk_category": risk_category, "referred_abroad": bool(referred_abroad)}
            new_patient = case_rules.case_body(fields)
        body = rules.consultation_body(at, str(case_id) if case_id else None, new_patient)
        return PlanActivity(mission_id, "consultation", body, form_key)

    return await _act(request, who, services, mission_id, "consultation", build)


@router.post("/{mission_id}/activities/training-sessions", dependencies=[CSRF])
async def schedule_training(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                            topic: Annotated[str, Form(min_length=1, max_length=300)], scheduled_at: WallClock,
                            hours: Annotated[float, Form(gt=0, le=24)], zone: Zone, form_key: FormKey,
                            site_institution_id: Annotated[str | None, Form(max_length=40)] = None) -> Response:
    """``site_institution_id``: the host site it is held at, picked on the page when the mission
    has several (empty: the mission's host; the service checks it is a site, on its days there)."""
    def build() -> PlanActivity:
        at = rules.instant(scheduled_at, zone, field="scheduled_at")
        body: dict[str, Any] = {"topic": topic, "scheduled_at": at, "hours": hours}
        if site_institution_id:
            body["site_institution_id"] = site_institution_id
        return PlanActivity(mission_id, "training", body, form_key)

    return await _act(request, who, services, mission_id, "training", build)


@router.post("/{mission_id}/activities/consultations/{consultation_id}/hold", dependencies=[CSRF])
async def hold_consultation(request: Request, mission_id: uuid.UUID, consultation_id: uuid.UUID, who: PersonDep,
                            services: ServicesDep, zone: Zone, form_key: FormKey,
                            held_at: OptionalWallClock = None) -> Response:
    def build() -> HoldActivity:
        body = {"held_at": rules.instant(held_at, zone, field="held_at")} if held_at else {}
        return HoldActivity(consultation_id, "consultation", body, form_key)

    return await _act(request, who, services, mission_id, f"hold-{consultation_id}", build)


@router.post("/{mission_id}/activities/training-sessions/{training_session_id}/hold", dependencies=[CSRF])
async def hold_training(request: Request, mission_id: uuid.UUID, training_session_id: uuid.UUID, who: PersonDep,
                        services: ServicesDep, trainee_count: Annotated[int, Form(ge=0, le=10_000)], zone: Zone,
                        form_key: FormKey, hours: Annotated[float | None, Form(gt=0, le=24)] = None,
                        held_at: OptionalWallClock = None) -> Response:
    def build() -> HoldActivity:
        body: dict[str, Any] = {"trainee_count": trainee_count}
        if hours is not None:
            body["hours"] = hours
        if held_at:
            body["held_at"] = rules.instant(held_at, zone, field="held_at")
        return HoldActivity(training_session_id, "training", body, form_key)

    return await _act(request, who, services, mission_id, f"hold-{training_session_id}", build)
