"""Missions: the calendar, a mission's page with its team, actions and plan, a plan
proposal and its application, and the day's operating list."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from web.access import CSRF, PersonDep, ServicesDep
from web.adapters.services import ServiceRefused
from web.api.rendering import page
from web.domain import missions as rules
from web.domain.commands import (AddTeamMember, ApplyPlan, ChangeMission, ChangeOnSiteDates, FollowUpSurgery,
                                 ListMissions, ProposePlan, RemoveMissionSite, RemoveTeamMember, SetMissionSite,
                                 ShowMission, ShowOperatingList)

router = APIRouter(prefix="/missions", tags=["missions"])

Text = Annotated[str, Form(min_length=1, max_length=2000)]
FormKey = Annotated[uuid.UUID, Form(description="the form's own key: sent twice, it acts once")]
IfMatch = Annotated[str | None, Form(max_length=200)]
MAX_PLAN_CHARS = 500_000  # the service applies at most 500 lines


@router.get("")
async def calendar(request: Request, who: PersonDep, services: ServicesDep,
                   host: Annotated[uuid.UUID | None, Query()] = None,
                   convention: Annotated[uuid.UUID | None, Query()] = None,
                   status: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    status = status if status in rules.STATUSES else None
    query = ListMissions(host=host, convention=convention, status=status)
    found = await request.app.state.web.bus.handle(query, services)
    block = "results" if request.headers.get("HX-Request") else None
    return page(request, "missions/calendar.html", {**found, "query": query, "statuses": rules.STATUSES},
                block=block)


def _labels(request: Request) -> dict[str, str]:
    """The reader's words for the timeline's blocks: colour and border are never the only cue."""
    gettext = request.app.state.web.pages.gettext  # by that name: the catalogues' extraction finds these
    return {"risk-high": gettext("high risk"), "risk-medium": gettext("medium risk"),
            "risk-low": gettext("low risk"), "risk-none": gettext("non-cardiac"),
            "risk-unknown": gettext("risk not disclosed to you"), "urgency-urgent": gettext("urgent"),
            "urgency-routine": gettext("routine"), "urgency-unknown": "", "priority": gettext("priority %(n)s")}


async def _mission_page(request: Request, who: Any, services: Any, mission_id: uuid.UUID, *,
                        proposal: Any = None, problem: ServiceRefused | None = None, form: str | None = None,
                        block: str | None = None) -> Response:
    shown = await request.app.state.web.bus.handle(ShowMission(mission_id, proposal=proposal), services)
    mission = shown["mission"]
    values = {**shown, "problem": problem, "problem_form": form,
              "actions": rules.actions(mission, who.roles, who.institution_id),
              "team_editable": rules.team_editable(mission, who.roles, who.institution_id),
              "dates_editable": rules.dates_editable(mission, who.roles, who.institution_id),
              "sites_editable": rules.sites_editable(mission, who.roles, who.institution_id),
              "plannable": rules.plannable(mission, who.roles, who.institution_id),
              "follow_up_editable": rules.records_follow_up(mission, who.roles, who.institution_id),
              "follow_ups": rules.follow_ups(shown["lines"]), "follow_up_outcomes": rules.FOLLOW_UP_OUTCOMES,
              "roles": rules.ROLES, "risk_bands": rules.RISK_BANDS, "plan_bands": rules.bands_shown(shown["lines"]),
              "timeline": {"resources": [{"id": r["id"], "title": r["title"]} for r in shown["rooms"]],
                           "events": rules.timeline_events(shown["lines"], _labels(request)),
                           "date": shown["days"][0].isoformat(), "slotMinTime": shown["hours"][0],
                           "slotMaxTime": shown["hours"][1]}}
    if shown.get("apply_assignments") is not None:
        values["apply_json"] = json.dumps(shown["apply_assignments"], separators=(",", ":"))
    return page(request, "missions/detail.html", values, status_code=problem.status if problem else 200, block=block)


@router.get("/{mission_id}")
async def mission(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                  part: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    # The plan section re-fetches itself alone (on a live event): ?part=plan.
    block = "plan" if part == "plan" and request.headers.get("HX-Request") else None
    return await _mission_page(request, who, services, mission_id, block=block)


async def _change(request: Request, who: Any, services: Any, mission_id: uuid.UUID, cmd: Any,
                  form: str) -> Response:
    try:
        await request.app.state.web.bus.handle(cmd, services)
    except ServiceRefused as refused:  # shown next to the form that caused it, in the service's words
        return await _mission_page(request, who, services, mission_id, problem=refused, form=form)
    return RedirectResponse(f"/missions/{mission_id}", status_code=303)


@router.post("/{mission_id}/reschedule", dependencies=[CSRF])
async def reschedule(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                     starts_on: Annotated[date, Form()], ends_on: Annotated[date, Form()], reason: Text,
                     form_key: FormKey, if_match: IfMatch = None) -> Response:
    body = {"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(), "reason": reason}
    return await _change(request, who, services, mission_id,
                         ChangeMission(mission_id, "reschedule", body, if_match, form_key), "reschedule")


@router.post("/{mission_id}/cancel", dependencies=[CSRF])
async def cancel(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                 reason: Text, form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, mission_id,
                         ChangeMission(mission_id, "cancel", {"reason": reason}, if_match, form_key), "cancel")


@router.post("/{mission_id}/start", dependencies=[CSRF])
async def start(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, mission_id,
                         ChangeMission(mission_id, "start", None, if_match, form_key), "start")


@router.post("/{mission_id}/complete", dependencies=[CSRF])
async def complete(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                   form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, mission_id,
                         ChangeMission(mission_id, "complete", None, if_match, form_key), "complete")


@router.post("/{mission_id}/surgeries/{surgery_id}/follow-up", dependencies=[CSRF])
async def follow_up(request: Request, mission_id: uuid.UUID, surgery_id: uuid.UUID, who: PersonDep,
                    services: ServicesDep, outcome: Annotated[str, Form(max_length=40)],
                    form_key: FormKey) -> Response:
    """Thirty days after: how the patient is (the host's clinicians; the service decides)."""
    if outcome not in rules.FOLLOW_UP_OUTCOMES:
        raise HTTPException(422, f"outcome: one of {', '.join(rules.FOLLOW_UP_OUTCOMES)}")
    return await _change(request, who, services, mission_id, FollowUpSurgery(surgery_id, outcome, form_key),
                         f"follow-up-{surgery_id}")


@router.post("/{mission_id}/team", dependencies=[CSRF])
async def add_member(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                     full_name: Annotated[str, Form(min_length=1, max_length=300)],
                     role: Annotated[str, Form(max_length=40)], form_key: FormKey,
                     practitioner_id: Annotated[str | None, Form(max_length=40)] = None,
                     home_institution_id: Annotated[str | None, Form(max_length=40)] = None,
                     arrives_on: Annotated[str | None, Form(max_length=10)] = None,
                     leaves_on: Annotated[str | None, Form(max_length=10)] = None,
                     if_match: IfMatch = None) -> Response:
    if role not in rules.ROLES:
        raise HTTPException(422, f"role: one of {', '.join(rules.ROLES)}")
    if practitioner_id:
        try:
            pid = uuid.UUID(practitioner_id)
        except ValueError:
            raise HTTPException(422, "practitioner_id: a UUID, or empty for a practitioner new to the "
                                     "programme") from None
    else:  # a new practitioner: an id of the form's own (sent twice, the same id)
        pid = uuid.uuid5(form_key, "practitioner")
    member: dict[str, Any] = {"practitioner_id": str(pid), "full_name": full_name, "role": role}
    if home_institution_id:
        try:
            member["home_institution_id"] = str(uuid.UUID(home_institution_id))
        except ValueError:
            raise HTTPException(422, "home_institution_id: one of the institutions listed") from None
    for key, value in (("arrives_on", arrives_on), ("leaves_on", leaves_on)):
        if value:
            try:
                member[key] = date.fromisoformat(value).isoformat()
            except ValueError:
                raise HTTPException(422, f"{key}: a date (YYYY-MM-DD)") from None
    return await _change(request, who, services, mission_id, AddTeamMember(mission_id, member, if_match, form_key),
                         "team")


@router.post("/{mission_id}/team/{practitioner_id}/on-site", dependencies=[CSRF])
async def change_on_site(request: Request, mission_id: uuid.UUID, practitioner_id: uuid.UUID, who: PersonDep,
                         services: ServicesDep, form_key: FormKey,
                         arrives_on: Annotated[str | None, Form(max_length=10)] = None,
                         leaves_on: Annotated[str | None, Form(max_length=10)] = None,
                         if_match: IfMatch = None) -> Response:
    """A member's days on site; an empty field is the mission's first / last day."""
    body: dict[str, Any] = {}
    for key, value in (("arrives_on", arrives_on), ("leaves_on", leaves_on)):
        if value:
            try:
                body[key] = date.fromisoformat(value).isoformat()
            except ValueError:
                raise HTTPException(422, f"{key}: a date (YYYY-MM-DD)") from None
    return await _change(request, who, services, mission_id,
                         ChangeOnSiteDates(mission_id, practitioner_id, body, if_match, form_key),
                         f"on-site-{practitioner_id}")


def _days(**fields: str | None) -> dict[str, Any]:
    """The form's days, each a date; an empty field is left out (the mission's first / last day)."""
    body: dict[str, Any] = {}
    for key, value in fields.items():
        if value:
            try:
                body[key] = date.fromisoformat(value).isoformat()
            except ValueError:
                raise HTTPException(422, f"{key}: a date (YYYY-MM-DD)") from None
    return body


@router.post("/{mission_id}/sites", dependencies=[CSRF])
async def add_site(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                   institution_id: Annotated[str, Form(min_length=1, max_length=40)], form_key: FormKey,
                   starts_on: Annotated[str | None, Form(max_length=10)] = None,
                   ends_on: Annotated[str | None, Form(max_length=10)] = None,
                   if_match: IfMatch = None) -> Response:
    """A site added, among the convention's beneficiaries; an empty day is the mission's first / last."""
    try:
        site = uuid.UUID(institution_id)
    except ValueError:
        raise HTTPException(422, "institution_id: one of the institutions listed") from None
    body = _days(starts_on=starts_on, ends_on=ends_on)
    return await _change(request, who, services, mission_id,
                         SetMissionSite(mission_id, site, body, if_match, form_key), "site-add")


@router.post("/{mission_id}/sites/{institution_id}/days", dependencies=[CSRF])
async def change_site_days(request: Request, mission_id: uuid.UUID, institution_id: uuid.UUID, who: PersonDep,
                           services: ServicesDep, form_key: FormKey,
                           starts_on: Annotated[str | None, Form(max_length=10)] = None,
                           ends_on: Annotated[str | None, Form(max_length=10)] = None,
                           if_match: IfMatch = None) -> Response:
    """The mission's days at a site; an empty field is the mission's first / last day."""
    body = _days(starts_on=starts_on, ends_on=ends_on)
    return await _change(request, who, services, mission_id,
                         SetMissionSite(mission_id, institution_id, body, if_match, form_key),
                         f"site-days-{institution_id}")


@router.post("/{mission_id}/sites/{institution_id}/remove", dependencies=[CSRF])
async def remove_site(request: Request, mission_id: uuid.UUID, institution_id: uuid.UUID, who: PersonDep,
                      services: ServicesDep, form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, mission_id,
                         RemoveMissionSite(mission_id, institution_id, if_match, form_key),
                         f"site-remove-{institution_id}")


@router.post("/{mission_id}/team/{practitioner_id}/remove", dependencies=[CSRF])
async def remove_member(request: Request, mission_id: uuid.UUID, practitioner_id: uuid.UUID, who: PersonDep,
                        services: ServicesDep, form_key: FormKey, if_match: IfMatch = None) -> Response:
    return await _change(request, who, services, mission_id,
                         RemoveTeamMember(mission_id, practitioner_id, if_match, form_key), f"remove-{practitioner_id}")


@router.post("/{mission_id}/plan", dependencies=[CSRF])
async def propose(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                  time_limit_seconds: Annotated[float | None, Form(gt=0, le=300)] = None,
                  turnover_minutes: Annotated[int | None, Form(ge=0, le=240)] = None,
                  max_daily_minutes_per_surgeon: Annotated[int | None, Form(gt=0, le=1440)] = None) -> Response:
    body = {k: v for k, v in (("time_limit_seconds", time_limit_seconds), ("turnover_minutes", turnover_minutes),
                              ("max_daily_minutes_per_surgeon", max_daily_minutes_per_surgeon)) if v is not None}
    try:
        proposal = await request.app.state.web.bus.handle(ProposePlan(mission_id, body), services)
    except ServiceRefused as refused:
        return await _mission_page(request, who, services, mission_id, problem=refused, form="propose")
    # Nothing was written: the proposal is this page, shown against the current plan.
    return await _mission_page(request, who, services, mission_id, proposal=proposal)


@router.post("/{mission_id}/plan/apply", dependencies=[CSRF])
async def apply(request: Request, mission_id: uuid.UUID, who: PersonDep, services: ServicesDep,
                assignments: Annotated[str, Form(min_length=2, max_length=MAX_PLAN_CHARS)], form_key: FormKey,
                reason: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    lines = _assignments(assignments)
    cmd = ApplyPlan(mission_id, tuple(lines), reason or None, form_key)
    return await _change(request, who, services, mission_id, cmd, "apply")


def _assignments(text: str) -> list[dict[str, Any]]:
    """The proposal's lines, as the page carried them (the service checks each)."""
    try:
        lines = json.loads(text)
    except ValueError:
        raise HTTPException(422, "assignments: not the JSON of a proposal") from None
    if not isinstance(lines, list) or not lines or not all(isinstance(a, dict) for a in lines):
        raise HTTPException(422, "assignments: a proposal's list of assignments")
    unknown = {k for a in lines for k in a} - set(rules.APPLIED_FIELDS)
    if unknown:
        raise HTTPException(422, f"assignments: unknown fields {', '.join(sorted(unknown))}")
    return lines


@router.get("/{mission_id}/day/{day}")
async def operating_list(request: Request, mission_id: uuid.UUID, day: date, who: PersonDep,
                         services: ServicesDep) -> Response:
    shown = await request.app.state.web.bus.handle(ShowOperatingList(mission_id, day), services)
    return page(request, "missions/day.html", shown)
