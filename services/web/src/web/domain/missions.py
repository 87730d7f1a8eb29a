"""A mission's pages: the calendar's filters, which actions the mission's status
allows, its plan as timeline blocks (coloured by risk and priority, the text
saying it too), the intensive-care beds in use each day, the proposal against
the current plan, and the day's operating list. Pure functions of the services'
answers (the scheduling service has the last word on every action)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATUSES = ("scheduled", "on_hold", "started", "completed", "cancelled")
# What each status allows, as the scheduling service's README draws the mission's states
# (its refusal, if any, is shown next to the form).
ACTIONS: dict[str, tuple[str, ...]] = {
    "scheduled": ("reschedule", "cancel", "start"),
    "on_hold": ("cancel",),
    "started": ("complete",),
    "completed": (),
    "cancelled": (),
}
TEAM_CHANGES = frozenset({"scheduled", "on_hold"})  # "team, before start"
PLANNABLE = frozenset({"scheduled", "started"})     # "the mission must be scheduled or started"
ROLES = ("surgeon", "anaesthetist", "cardiologist", "perfusionist", "intensivist", "nurse",
         "assistant_professor", "resident", "general_practitioner")
PLAN_STATUSES = ("optimal", "feasible", "heuristic", "greedy", "empty", "infeasible")
DEFAULT_TIMEZONE = "Africa/Algiers"  # the scheduling service's default host clock

# Intensive-care days a case holds a bed for, from the day of its surgery (the host's
# calendar), by risk category: the scheduling service's ICU_DAYS (its README, "Intensive-care
# days by risk category"); a cardiac scheme without a category counts 3, as it does.
ICU_DAYS: dict[tuple[str, int | None], int] = {
    **{("STAT", c): c for c in range(1, 6)},
    **{("RACHS-1", c): min(c, 5) for c in range(1, 7)},
    ("none", None): 0,
}


def icu_days(scheme: str | None, category: int | None) -> int:
    scheme = scheme or "none"
    return ICU_DAYS.get((scheme, category), 0 if scheme == "none" else 3)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def instant(value: Any) -> datetime:
    """An instant from the service (ISO 8601 with its offset, ``Z`` included)."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def local_day(value: Any, tz: ZoneInfo) -> date:
    return instant(value).astimezone(tz).date()


# -- who may do what ---------------------------------------------------------------------------

def manages(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> bool:
    """A coordinator of the host or of the visiting institution (the service's MANAGE rule)."""
    return ("coordinator" in set(roles) and institution_id is not None
            and institution_id in (mission.get("host_institution_id"), mission.get("visiting_institution_id")))


def actions(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> tuple[str, ...]:
    if not manages(mission, roles, institution_id):
        return ()
    return ACTIONS.get(str(mission.get("status")), ())


FOLLOW_UP_OUTCOMES = ("alive", "readmitted", "reoperated", "surgical_site_infection", "deceased", "lost_to_follow_up")
"""How a patient is thirty days after surgery, as the host's clinicians record it."""


def records_follow_up(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> bool:
    """The host's clinicians record the 30-day follow-ups (the scheduling service decides again)."""
    return "clinician" in set(roles) and institution_id is not None and \
        str(mission.get("host_institution_id")) == str(institution_id)


def follow_ups(lines: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The completed surgeries whose patient did not die at surgery: those a follow-up is for."""
    return [line for line in lines if line.get("status") == "completed" and line.get("outcome") != "deceased"]


def team_editable(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> bool:
    return manages(mission, roles, institution_id) and mission.get("status") in TEAM_CHANGES


def dates_editable(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> bool:
    """A member's days on site change before the mission starts and while it runs (an early flight home)."""
    return manages(mission, roles, institution_id) and mission.get("status") in (*TEAM_CHANGES, "started")


def sites_editable(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> bool:
    """The host sites (added, their days, removed) change before the mission starts and while it runs."""
    return manages(mission, roles, institution_id) and mission.get("status") in (*TEAM_CHANGES, "started")


def plannable(mission: Mapping[str, Any], roles: Iterable[str], institution_id: str | None) -> bool:
    return manages(mission, roles, institution_id) and mission.get("status") in PLANNABLE


# -- the calendar ------------------------------------------------------------------------------

def filter_missions(missions: Iterable[Mapping[str, Any]], *, host: str | None = None,
                    convention: str | None = None, status: str | None = None) -> list[Mapping[str, Any]]:
    """The missions the person sees, by host, convention and status; earliest first."""
    found = [m for m in missions
             if (host is None or m.get("host_institution_id") == host)
             and (convention is None or m.get("convention_id") == convention)
             and (status is None or m.get("status") == status)]
    return sorted(found, key=lambda m: (str(m.get("starts_on")), str(m.get("id"))))


def calendar_events(missions: Iterable[Mapping[str, Any]], names: Mapping[str, str],
                    conventions: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each mission as an all-day event of the calendar (its end is exclusive there)."""
    out = []
    for m in missions:
        ends = date.fromisoformat(str(m["ends_on"])) + timedelta(days=1)
        host = names.get(m["host_institution_id"], m["host_institution_id"])
        visiting = names.get(m["visiting_institution_id"], m["visiting_institution_id"])
        out.append({"id": m["id"], "start": str(m["starts_on"]), "end": ends.isoformat(), "allDay": True,
                    "url": f"/missions/{m['id']}", "classNames": [f"mission-{m['status']}"],
                    "host": host, "visiting": visiting, "status": m["status"],
                    "convention": conventions.get(m["convention_id"], ""), "specialty": m.get("specialty", "")})
    return out


# -- the team ----------------------------------------------------------------------------------

def team(mission: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The members with their role, home institution (the visiting institution unless the
    service says otherwise) and the days they are on site (the mission's unless they said)."""
    visiting = mission.get("visiting_institution_id")
    out = []
    for m in mission.get("team", []):
        home = m.get("home_institution_id") or visiting
        arrives, leaves = m.get("arrives_on") or mission.get("starts_on"), m.get("leaves_on") or mission.get("ends_on")
        out.append({"practitioner_id": m["practitioner_id"], "full_name": m["full_name"], "role": m["role"],
                    "institution_id": home, "institution": names.get(home, home) if home else None,
                    "arrives_on": arrives, "leaves_on": leaves,
                    "whole_mission": (arrives, leaves) == (mission.get("starts_on"), mission.get("ends_on"))})
    return out


def member_names(mission: Mapping[str, Any]) -> dict[str, str]:
    return {m["practitioner_id"]: m["full_name"] for m in mission.get("team", [])}


# -- risk and priority -------------------------------------------------------------------------

@dataclass(frozen=True)
class Risk:
    """What the page says of a case's risk: known only to those who may read the case."""

    scheme: str | None   # STAT, RACHS-1, none; None: not disclosed to this reader
    category: int | None
    priority: int | None

    @property
    def band(self) -> str:
        """The colour's name: high (category 4 and more), medium (3, or a cardiac case
        without a category), low (1-2), none (non-cardiac), unknown (not disclosed)."""
        if self.scheme is None:
            return "unknown"
        if self.scheme == "none":
            return "none"
        if self.category is None or self.category == 3:
            return "medium"
        return "high" if self.category >= 4 else "low"

    @property
    def urgency(self) -> str:
        """The border's name: urgent (priority 1-2), routine (3-5), unknown."""
        if self.priority is None:
            return "unknown"
        return "urgent" if self.priority <= 2 else "routine"


RISK_BANDS = ("high", "medium", "low", "none", "unknown")
URGENCIES = ("urgent", "routine", "unknown")


def risks(cases: Iterable[Mapping[str, Any]] | None) -> dict[str, Risk]:
    """By case id, from the waiting list (``None``: this reader may not read it)."""
    return {c["id"]: Risk(c.get("risk_scheme") or "none", c.get("risk_category"), c.get("priority"))
            for c in cases or ()}


def surgery_risks(surgeries: Iterable[Mapping[str, Any]]) -> dict[str, Risk]:
    """By case id, from the surgeries: the scheduling service gives each its case's priority and
    risk, to everyone who may read the mission (clinical facts, not the patient's identity).
    A surgery without them (a service from before they were added) is left out."""
    return {s["case_id"]: Risk(s.get("risk_scheme") or "none", s.get("risk_category"), s.get("priority"))
            for s in surgeries if s.get("risk_scheme") is not None}


def bands_shown(lines: Iterable[Mapping[str, Any]]) -> set[str]:
    """The risk bands and urgencies on the plan (not cancelled): the legend names no other."""
    shown: set[str] = set()
    for line in lines:
        if line.get("status") != "cancelled":
            shown.update({f"risk-{line['risk'].band}", f"urgency-{line['risk'].urgency}"})
    return shown


UNKNOWN = Risk(None, None, None)


# -- the plan as the page draws it ---------------------------------------------------------------

def rooms(resources: Mapping[str, Any] | None, surgeries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The timeline's rows: the host's operating rooms (or, to a reader who may not read the
    host's resources, the rooms its surgeries are in), with their hours."""
    seen: dict[str, dict[str, Any]] = {}
    if resources and resources.get("operating_rooms"):
        seen = {r["id"]: {"id": r["id"], "title": r["name"], "opens_at": str(r["opens_at"])[:5],
                          "closes_at": str(r["closes_at"])[:5]} for r in resources["operating_rooms"]}
    for s in surgeries:  # and the rooms of other sites a mission at several sites has surgeries in
        seen.setdefault(s["operating_room_id"], {"id": s["operating_room_id"], "title": s["operating_room"],
                                                 "opens_at": None, "closes_at": None})
    return list(seen.values())


def hours(room_list: Iterable[Mapping[str, Any]]) -> tuple[str, str]:
    """The timeline's columns: from the earliest opening to the latest closing (else 07:00-19:00)."""
    opens = [r["opens_at"] for r in room_list if r.get("opens_at")]
    closes = [r["closes_at"] for r in room_list if r.get("closes_at")]
    return (min(opens) if opens else "07:00") + ":00", (max(closes) if closes else "19:00") + ":00"


def plan_lines(surgeries: Iterable[Mapping[str, Any]], mission: Mapping[str, Any], tz: ZoneInfo,
               risk_of: Mapping[str, Risk], patients: Mapping[str, Mapping[str, Any]] | None = None,
               *, include_cancelled: bool = True) -> list[dict[str, Any]]:
    """The surgeries as the table and the timeline show them: host wall-clock times, names of
    the surgeon and anaesthetist, risk and priority (when this reader may know them), and the
    patient's identity only when the service gave it (``patients``: the host's cases by id)."""
    who = member_names(mission)
    out = []
    for s in surgeries:
        if not include_cancelled and s.get("status") == "cancelled":
            continue
        start, end = instant(s["scheduled_start"]).astimezone(tz), instant(s["scheduled_end"]).astimezone(tz)
        risk = risk_of.get(s["case_id"], UNKNOWN)
        case = (patients or {}).get(s["case_id"])
        out.append({
            "id": s.get("id"), "case_id": s["case_id"], "patient_ref": s["patient_ref"],
            "patient": (case or {}).get("patient"), "procedure": s.get("procedure"),
            "room_id": s["operating_room_id"], "room": s["operating_room"], "day": start.date(),
            "start": start, "end": end, "minutes": s.get("expected_duration_minutes"),
            "surgeon": who.get(s["lead_surgeon_id"], s["lead_surgeon_id"]),
            "anaesthetist": who.get(s["anaesthetist_id"], s["anaesthetist_id"]) if s.get("anaesthetist_id") else None,
            "status": s.get("status", "scheduled"), "risk": risk, "outcome": s.get("outcome"),
            "completed_at": instant(s["completed_at"]).astimezone(tz) if s.get("completed_at") else None,
            "lead_side": s.get("lead_side"), "follow_up_outcome": s.get("follow_up_outcome"),
            "followed_up_on": s.get("followed_up_on"),
            # The host site it takes place at (a mission may visit several): its case's institution.
            "site": s.get("site_institution_id") or mission.get("host_institution_id"),
        })
    return sorted(out, key=lambda line: (line["start"], line["room"]))


def sites(mission: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The mission's host sites with its days at each (the host alone, every day, when the
    service says nothing: a mission read from before it knew sites)."""
    listed = mission.get("sites") or [{"institution_id": mission["host_institution_id"],
                                       "starts_on": mission["starts_on"], "ends_on": mission["ends_on"],
                                       "whole_mission": True, "host": True}]
    return [dict(site) for site in listed]


def site_choices(convention: Mapping[str, Any] | None, sites: Iterable[Mapping[str, Any]],
                 names: Mapping[str, str]) -> list[tuple[str, str]]:
    """The convention's beneficiaries the mission does not visit yet, as (id, name), by name: the
    institutions a site may be added for (none when the convention is not known to the reader)."""
    there = {str(s["institution_id"]) for s in sites}
    found = {str(p["institution_id"]) for p in (convention or {}).get("parties") or ()
             if p.get("role") == "beneficiary"} - there
    return sorted(((i, names.get(i, i)) for i in found), key=lambda choice: (choice[1], choice[0]))


def timeline_events(lines: Iterable[Mapping[str, Any]], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Blocks of the resource timeline. ``labels``: the reader's words for each risk band and
    urgency, so the block's text says what its colour and border say."""
    out = []
    for line in lines:
        if line["status"] == "cancelled":
            continue
        risk: Risk = line["risk"]
        said = [line["patient_ref"], line.get("procedure") or ""]
        if risk.scheme is not None and risk.scheme != "none":
            said.append(f"{risk.scheme} {risk.category}" if risk.category else risk.scheme)
        said.append(labels.get(f"risk-{risk.band}", risk.band))
        if risk.priority is not None:
            said.append(labels.get("priority", "P%(n)s").replace("%(n)s", str(risk.priority)))
        said.append(labels.get(f"urgency-{risk.urgency}", risk.urgency))
        out.append({"id": str(line.get("id") or line["case_id"]), "resourceIds": [line["room_id"]],
                    "start": line["start"].strftime("%Y-%m-%d %H:%M"), "end": line["end"].strftime("%Y-%m-%d %H:%M"),
                    "title": " · ".join(p for p in said if p),
                    "classNames": [f"risk-{risk.band}", f"urgency-{risk.urgency}", f"surgery-{line['status']}"]})
    return out


# -- intensive-care beds ---------------------------------------------------------------------------

def icu_strip(stays: Iterable[tuple[date, int]], first: date, last: date, beds: int) -> list[dict[str, Any]]:
    """Beds in use each day from ``first`` to ``last`` (inclusive), as the scheduling service
    counts them: a surgery's patient holds a bed for its stay's ``days`` from the host-calendar
    day of the surgery's start. ``beds`` 0: the host has not recorded them (no limit known)."""
    stays = [(d, n) for d, n in stays if n > 0]
    out = []
    day = first
    while day <= last:
        in_use = sum(1 for start, n in stays if start <= day < start + timedelta(days=n))
        out.append({"day": day, "in_use": in_use, "beds": beds, "over": bool(beds) and in_use > beds,
                    "full": bool(beds) and in_use >= beds})
        day += timedelta(days=1)
    return out


def stays(surgeries: Iterable[Mapping[str, Any]], tz: ZoneInfo,
          days_of: Mapping[str, int]) -> tuple[list[tuple[date, int]], int]:
    """Each surgery not cancelled as (its host-calendar day, its intensive-care days), from
    ``days_of`` (case id -> days); and how many surgeries' stays this reader cannot know."""
    known, unknown = [], 0
    for s in surgeries:
        if s.get("status") == "cancelled":
            continue
        n = days_of.get(s["case_id"])
        if n is None:
            unknown += 1
            continue
        known.append((local_day(s["scheduled_start"], tz), n))
    return known, unknown


def strip_span(mission: Mapping[str, Any], stays_known: Iterable[tuple[date, int]]) -> tuple[date, date]:
    """The mission's days, and after them the days its last patients are still in intensive care."""
    first, last = date.fromisoformat(str(mission["starts_on"])), date.fromisoformat(str(mission["ends_on"]))
    for start, n in stays_known:
        if n > 0:
            first = min(first, start)
            last = max(last, start + timedelta(days=n - 1))
    return first, last


def icu_days_of(risk_of: Mapping[str, Risk]) -> dict[str, int]:
    return {case: icu_days(r.scheme, r.category) for case, r in risk_of.items() if r.scheme is not None}


# -- a proposal against the current plan ---------------------------------------------------------

def plan_diff(current: Iterable[Mapping[str, Any]], proposal: Mapping[str, Any],
              tz: ZoneInfo | None = None) -> dict[str, Any]:
    """What the proposal changes in the mission's plan: which surgeries it adds, which it
    moves and by how much (minutes; room change), which it keeps or cannot move (fixed), which
    of the current ones it leaves out (none should: the service never drops a booked one), and
    which cases it leaves out and why (the service's words). The status is the optimiser's, as
    it says it. Times are on ``tz``, the host's clock (else as the service sent them)."""

    def at(value: Any) -> datetime:
        moment = instant(value)
        return moment.astimezone(tz) if tz else moment

    live = [s for s in current if s.get("status") != "cancelled"]
    by_id = {s["id"]: s for s in live}
    by_case = {s["case_id"]: s for s in live}
    added, moved, kept, fixed = [], [], [], []
    matched: set[str] = set()
    for a in proposal.get("assignments", []):
        existing = by_id.get(a.get("surgery_id") or "") or by_case.get(a["case_id"])
        line = {"case_id": a["case_id"], "patient_ref": a.get("patient_ref"), "room_id": a["operating_room_id"],
                "room": a.get("operating_room"), "start": at(a["scheduled_start"]),
                "end": at(a["scheduled_end"]) if a.get("scheduled_end") else None,
                "minutes": a.get("expected_duration_minutes"), "lead_surgeon_id": a.get("lead_surgeon_id"),
                "anaesthetist_id": a.get("anaesthetist_id"), "icu_days": a.get("icu_days"),
                "change": a.get("change")}
        if existing is None:
            added.append(line)
            continue
        matched.add(existing["id"])
        was = at(existing["scheduled_start"])
        shift = round((line["start"] - was).total_seconds() / 60)
        room_changed = existing["operating_room_id"] != a["operating_room_id"]
        line.update(surgery_id=existing["id"], was_start=was, was_room=existing["operating_room"],
                    was_room_id=existing["operating_room_id"], shift_minutes=shift, room_changed=room_changed)
        if shift or room_changed:
            moved.append(line)
        elif a.get("change") == "fixed" or existing.get("status") != "scheduled":
            fixed.append(line)
        else:
            kept.append(line)
    dropped = [s for s in live if s["id"] not in matched]
    left_out = [{"case_id": u["case_id"], "patient_ref": u.get("patient_ref"), "reason": u.get("reason", "")}
                for u in proposal.get("unplanned", [])]
    key = lambda line: (line["start"], str(line["room"]))  # noqa: E731
    return {"status": str(proposal.get("status", "")), "added": sorted(added, key=key),
            "moved": sorted(moved, key=key), "kept": sorted(kept, key=key), "fixed": sorted(fixed, key=key),
            "dropped": dropped, "left_out": left_out, "reasons": list(proposal.get("reasons", [])),
            "objective": proposal.get("objective"), "bound": proposal.get("bound"), "gap": proposal.get("gap"),
            "greedy_objective": proposal.get("greedy_objective"), "solve_seconds": proposal.get("solve_seconds"),
            "moves": proposal.get("moves"), "changes": bool(added or moved)}


def proposal_stays(proposal: Mapping[str, Any], tz: ZoneInfo) -> list[tuple[date, int]]:
    """The stays of the proposed plan: the service gives each assignment's intensive-care days."""
    return [(local_day(a["scheduled_start"], tz), int(a.get("icu_days") or 0)) for a in proposal.get("assignments", [])]


APPLIED_FIELDS = ("case_id", "operating_room_id", "scheduled_start", "lead_surgeon_id", "anaesthetist_id",
                  "surgery_id", "expected_duration_minutes")


def to_apply(proposal: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The proposal's assignments as the apply endpoint takes them: exactly that plan."""
    return [{k: a.get(k) for k in APPLIED_FIELDS} for a in proposal.get("assignments", [])]


# -- the day's operating list ---------------------------------------------------------------------

def mission_days(mission: Mapping[str, Any]) -> list[date]:
    first, last = date.fromisoformat(str(mission["starts_on"])), date.fromisoformat(str(mission["ends_on"]))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def operating_list(lines: Iterable[Mapping[str, Any]], day: date) -> list[Mapping[str, Any]]:
    """That day's surgeries (not cancelled), by room then time."""
    return sorted((line for line in lines if line["day"] == day and line["status"] != "cancelled"),
                  key=lambda line: (str(line["room"]), line["start"]))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime.combine(day, time.min, tz), datetime.combine(day + timedelta(days=1), time.min, tz)
