"""Missions: the calendar, a mission's page (team, actions, the plan and its intensive-care
strip, a proposal against it), the day's operating list, through the scheduling service."""

from __future__ import annotations

import asyncio
from typing import Any

from web.adapters.services import PersonServices, ServiceRefused
from web.domain import missions as rules
from web.domain.commands import (AddTeamMember, ApplyPlan, ChangeMission, ChangeOnSiteDates, FollowUpSurgery,
                                 ListMissions, ProposePlan, RemoveMissionSite, RemoveTeamMember, SetMissionSite,
                                 ShowMission, ShowOperatingList)
from web.handlers.conventions import institution_names


async def _optional(services: PersonServices, service: str, path: str, **params: Any) -> Any:
    """A part this person may not read is left out (the refusal says why)."""
    try:
        return await services.get(service, path, **params)
    except ServiceRefused as refused:
        return refused


def _items(found: Any) -> list[Any] | None:
    if isinstance(found, ServiceRefused):
        return None
    if isinstance(found, dict):
        return list(found.get("items", []))
    return list(found or [])


async def list_missions(query: ListMissions, services: PersonServices) -> dict[str, Any]:
    missions, names, conventions = await asyncio.gather(
        services.get("scheduling", "/missions",
                     convention_id=str(query.convention) if query.convention else None, status=query.status,
                     limit=200),  # the first page (keyset paged); the page shows at most this many
        institution_names(services),
        _optional(services, "convention", "/conventions", limit=100),
    )
    references = {c["id"]: c.get("reference", c["id"]) for c in _items(conventions) or []}
    # The service lists a host's missions to that host only; the other filters are the page's.
    shown = rules.filter_missions(missions, host=str(query.host) if query.host else None,
                                  convention=str(query.convention) if query.convention else None,
                                  status=query.status)
    hosts = sorted({m["host_institution_id"] for m in missions}, key=lambda i: names.get(i, i))
    for m in missions:
        references.setdefault(m["convention_id"], m["convention_id"])
    return {"missions": shown, "all_missions": missions, "names": names, "conventions": references,
            "hosts": hosts, "events": rules.calendar_events(shown, names, references)}


async def _mission_parts(services: PersonServices, mission_id: Any) -> dict[str, Any]:
    read, names = await asyncio.gather(services.read("scheduling", f"/missions/{mission_id}"),
                                       institution_names(services))
    mission = read.body
    host = mission["host_institution_id"]
    surgeries, resources, cases, convention = await asyncio.gather(
        services.get("scheduling", f"/missions/{mission_id}/surgeries"),
        _optional(services, "scheduling", f"/institutions/{host}/resources"),
        _optional(services, "scheduling", f"/institutions/{host}/cases", limit=200),
        _optional(services, "convention", f"/conventions/{mission['convention_id']}"),
    )
    resources = None if isinstance(resources, ServiceRefused) else resources
    case_list = _items(cases)  # None: this reader may not read the host's cases (nor patients' identities)
    tz = rules.zone(resources.get("timezone") if resources else None)
    # The surgeries' own priority and risk first (every reader of the mission gets them), the
    # waiting list's for the cases it has that no surgery holds.
    risk_of = {**rules.risks(case_list), **rules.surgery_risks(surgeries)}
    patients = {c["id"]: c for c in case_list} if case_list is not None else None
    return {"mission": mission, "etag": read.etag, "names": names, "surgeries": surgeries,
            "sites": rules.sites(mission),
            "resources": resources, "cases_refused": cases if isinstance(cases, ServiceRefused) else None,
            "convention": None if isinstance(convention, ServiceRefused) else convention,
            "tz": tz, "risk_of": risk_of, "patients": patients,
            "lines": rules.plan_lines(surgeries, mission, tz, risk_of, patients)}


async def show_mission(query: ShowMission, services: PersonServices) -> dict[str, Any]:
    parts = await _mission_parts(services, query.mission_id)
    mission, tz, surgeries = parts["mission"], parts["tz"], parts["surgeries"]
    resources = parts["resources"]
    beds = int(resources.get("icu_beds") or 0) if resources else 0
    known, unknown = rules.stays(surgeries, tz, rules.icu_days_of(parts["risk_of"]))
    first, last = rules.strip_span(mission, known)
    room_list = rules.rooms(resources, surgeries)
    parties = parts["convention"]
    if parties is None:  # not the convention service's to this reader: the scheduling service's replica
        parties = await _optional(services, "scheduling", f"/conventions/{mission['convention_id']}")
        parties = None if isinstance(parties, ServiceRefused) else parties
    shown: dict[str, Any] = {
        **parts, "team": rules.team(mission, parts["names"]), "rooms": room_list, "hours": rules.hours(room_list),
        "strip": rules.icu_strip(known, first, last, beds), "stays_unknown": unknown, "beds": beds,
        "days": rules.mission_days(mission),
        "site_choices": rules.site_choices(parties, parts["sites"], parts["names"]), "proposal": None, "diff": None,
    }
    if query.proposal is not None:
        proposal = query.proposal
        proposed = rules.proposal_stays(proposal, tz)
        p_first, p_last = rules.strip_span(mission, proposed)
        who = rules.member_names(mission)
        shown.update(proposal=proposal, diff=rules.plan_diff(surgeries, proposal, tz), members=who,
                     proposal_strip=rules.icu_strip(proposed, p_first, p_last, beds),
                     apply_assignments=rules.to_apply(proposal))
    return shown


async def change_mission(cmd: ChangeMission, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "POST", f"/missions/{cmd.mission_id}/{cmd.action}", cmd.body,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def follow_up_surgery(cmd: FollowUpSurgery, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "POST", f"/surgeries/{cmd.surgery_id}/follow-up",
                                  {"outcome": cmd.outcome}, idempotency_key=cmd.idempotency_key)
    return reply.body


async def add_team_member(cmd: AddTeamMember, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "POST", f"/missions/{cmd.mission_id}/team", cmd.member,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def change_on_site_dates(cmd: ChangeOnSiteDates, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "PUT",
                                  f"/missions/{cmd.mission_id}/team/{cmd.practitioner_id}/on-site", cmd.body,
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def set_mission_site(cmd: SetMissionSite, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "PUT", f"/missions/{cmd.mission_id}/sites/{cmd.institution_id}",
                                  cmd.body, idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def remove_mission_site(cmd: RemoveMissionSite, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "DELETE", f"/missions/{cmd.mission_id}/sites/{cmd.institution_id}",
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def remove_team_member(cmd: RemoveTeamMember, services: PersonServices) -> dict[str, Any]:
    reply = await services.change("scheduling", "DELETE", f"/missions/{cmd.mission_id}/team/{cmd.practitioner_id}",
                                  idempotency_key=cmd.idempotency_key, if_match=cmd.if_match)
    return reply.body


async def propose_plan(cmd: ProposePlan, services: PersonServices) -> dict[str, Any]:
    # Nothing is written: no Idempotency-Key (asking twice asks the optimiser twice).
    reply = await services.change("scheduling", "POST", f"/missions/{cmd.mission_id}/plan", cmd.body)
    return reply.body


async def apply_plan(cmd: ApplyPlan, services: PersonServices) -> dict[str, Any]:
    body: dict[str, Any] = {"assignments": list(cmd.assignments)}
    if cmd.reason:
        body["reason"] = cmd.reason
    reply = await services.change("scheduling", "POST", f"/missions/{cmd.mission_id}/plan/apply", body,
                                  idempotency_key=cmd.idempotency_key)
    return reply.body


async def show_operating_list(query: ShowOperatingList, services: PersonServices) -> dict[str, Any]:
    parts = await _mission_parts(services, query.mission_id)
    return {**parts, "day": query.day, "days": rules.mission_days(parts["mission"]),
            "operations": rules.operating_list(parts["lines"], query.day)}
