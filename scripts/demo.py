"""Play the two reference programmes through the three services' HTTP APIs.

1. CNAS (funder) and the San Donato hospital group (provider) sign a convention
   for paediatric cardiac surgery at CMCI Bousmail (beneficiary); a five-day
   mission (26-30 May 2024) operates on children who had been referred abroad
   and trains the local team.
2. CHU Oran (provider) and EPH Tiaret (beneficiary) under a twinning convention
   supervised by DSP Oran: a delegation of general surgery B (assistant
   professors, general practitioners, residents) operates, consults and trains.

Every event on the exchange and every e-mail that reaches the local mail
catcher is printed as a timeline while it happens; each convention's progress is
printed at the end. The services run on a scenario clock that this script
moves (``SCENARIO_CLOCK_FILE``, see ``scripts/run.py``): the convention is
signed on 20 May, the plan made on the eve of the mission (nothing may be
planned in the past), and what happened is recorded after the mission (the
scheduling service refuses to record as done what has not happened yet).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jumelage.clock import write_scenario_instant
from jumelage.testkit.client import ServicesClient
from jumelage.testkit.tap import event_tap


ALGIERS_OFFSET = timedelta(hours=1)  # Africa/Algiers, no daylight saving


def at(day: date, hour: int, minute: int = 0) -> str:
    """A local (Algiers) wall-clock time on ``day`` as an ISO instant."""
    local = datetime(day.year, day.month, day.day, hour, minute)
    return (local - ALGIERS_OFFSET).replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Timeline:
    """Prints what crosses the exchange, in the order it happens."""

    seen: list[dict[str, Any]] = field(default_factory=list)

    def show(self, body: dict[str, Any]) -> None:
        self.seen.append(body)
        data = body.get("data", {})
        detail = ", ".join(f"{k}={v}" for k, v in data.items()
                           if k in ("name", "reference", "reason", "starts_on", "ends_on", "procedure", "outcome",
                                    "operating_room", "scheduled_start", "topic", "trainee_count", "channel",
                                    "template", "amendment_number", "patient_ref"))
        print(f"  event  {body['time'][:19]}  {body['type']:<22} {detail}", flush=True)


# Everyone the demo acts as, and the institutions' names: the web app's local
# sign-in page lists them (``people.json`` beside the databases, LOCAL_PEOPLE_FILE).
PEOPLE: dict[str, dict[str, Any]] = {}
NAMES: dict[str, str] = {}


class Api(ServicesClient):
    """The three services called as one person (``as_``: another person's view, with a token
    of their own, minted with the local AUTH_SECRET); each person met is remembered."""

    people_file: Path | None = None

    def as_(self, subject: str, *roles: str, institution: str | None = None) -> ServicesClient:
        PEOPLE[subject] = {"subject": subject, "name": subject, "roles": list(roles), "institution_id": institution,
                           "institution": NAMES.get(institution or "")}
        if self.people_file is not None:
            self.people_file.write_text(json.dumps(list(PEOPLE.values()), ensure_ascii=False, indent=1))
        return super().as_(subject, *roles, institution=institution)


class Story:
    """The scenario clock every service reads."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def moves_to(self, instant: str) -> None:
        write_scenario_instant(self.path, instant)  # atomically: the services read it meanwhile
        print(f"  clock  {instant}", flush=True)


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


async def institution(api: Api, name: str, kind: str, country: str, city: str, wilaya: str | None = None) -> str:
    body = {"name": name, "kind": kind, "country": country, "city": city, "wilaya": wilaya}
    registered = (await api.call("convention", "POST", "/institutions", body))["id"]
    NAMES[registered] = name
    return registered


async def signed_convention(api: Api, body: dict[str, Any], signed_on: str, place: str, chain: str) -> str:
    convention = await api.call("convention", "POST", "/conventions", body, correlation=chain)
    await api.call("convention", "POST", f"/conventions/{convention['id']}/sign",
                   {"signed_on": signed_on, "signed_at": place}, correlation=chain)
    # The scheduling service learns of it from ConventionSigned, not from a call.
    await api.until("scheduling", f"/conventions/{convention['id']}", lambda c: c["status"] == "signed")
    return convention["id"]


async def host(api: Api, institution_id: str, rooms: list[str], icu_beds: int) -> list[str]:
    await api.until("scheduling", f"/institutions/{institution_id}")
    await api.call("scheduling", "PUT", f"/institutions/{institution_id}/resources",
                   {"timezone": "Africa/Algiers", "icu_beds": icu_beds})
    return [(await api.call("scheduling", "POST", f"/institutions/{institution_id}/operating-rooms",
                            {"name": name, "opens_at": "08:00", "closes_at": "18:00"}))["id"] for name in rooms]


async def contacts(api: Api, team: list[dict[str, Any]], mailboxes: dict[str, str]) -> None:
    for member in team:
        email = member["full_name"].lower().replace(" ", ".").replace("'", "") + "@example.org"
        await api.call("notification", "POST", "/contacts", {
            "kind": "practitioner", "practitioner_id": member["practitioner_id"],
            "display_name": member["full_name"], "email": email, "language": member.get("language", "fr")})
    desk = api.as_("bureau.notifications", "administrator")  # an institution's mailbox: the desk, or its own
    for institution_id, email in mailboxes.items():
        await desk.call("notification", "POST", "/contacts", {
            "kind": "institution", "institution_id": institution_id, "email": email, "language": "fr"})


def member(name: str, role: str, language: str = "fr") -> dict[str, Any]:
    return {"practitioner_id": str(uuid.uuid4()), "full_name": name, "role": role, "language": language}


async def operate(api: Api, mission_id: str, surgeries: list[dict[str, Any]], outcomes: list[str],
                  locals_: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Each surgery started and completed, with the host's practitioners' parts in it: they climb
    from observer to assistant over the mission, and a local surgeon who leads one is supervised."""
    done_ = []
    for n, (surgery, outcome) in enumerate(zip(sorted(surgeries, key=lambda s: s["scheduled_start"]), outcomes,
                                               strict=False)):
        start = surgery["scheduled_start"]
        await api.call("scheduling", "POST", f"/surgeries/{surgery['id']}/start", {"started_at": start})
        done = datetime.fromisoformat(start.replace("Z", "+00:00")) + timedelta(
            minutes=surgery["expected_duration_minutes"])
        roles = [{"practitioner_id": m["practitioner_id"],
                  "role": "primary_under_supervision" if m["practitioner_id"] == surgery["lead_surgeon_id"]
                  else ("observer" if n < len(surgeries) // 2 else "assistant")} for m in locals_]
        done_.append(await api.call("scheduling", "POST", f"/surgeries/{surgery['id']}/complete", {
            "outcome": outcome, "duration_minutes": surgery["expected_duration_minutes"],
            "completed_at": done.isoformat(), "local_roles": roles}))
    return done_


@dataclass
class FollowUps:
    """A mission's surgeries to follow up on day 30, by the host's clinician (``outcomes`` by
    position; the others alive). Those of the mission's first day are recorded on their thirtieth
    day, before the reminder's hour: their reminders are cancelled, never sent. The others wait
    until the notification service has sent theirs (``after_reminders``)."""

    clinician: Api
    surgeries: list[dict[str, Any]]
    outcomes: dict[int, str]
    recorded: list[dict[str, Any]] = field(default_factory=list)

    def _alive(self) -> list[tuple[int, dict[str, Any]]]:
        return [(n, s) for n, s in enumerate(self.surgeries) if s["outcome"] != "deceased"]  # no reminder

    @staticmethod
    def day(surgery: dict[str, Any]) -> date:
        done = datetime.fromisoformat((surgery["completed_at"] or surgery["scheduled_start"]).replace("Z", "+00:00"))
        return (done.astimezone(UTC) + ALGIERS_OFFSET).date()

    @property
    def first_day(self) -> date:
        return min(self.day(s) for _, s in self._alive())

    def on_time(self) -> list[tuple[int, dict[str, Any]]]:
        return [(n, s) for n, s in self._alive() if self.day(s) == self.first_day]

    def after_reminders(self) -> list[tuple[int, dict[str, Any]]]:
        return [(n, s) for n, s in self._alive() if self.day(s) != self.first_day]

    async def record(self, which: list[tuple[int, dict[str, Any]]]) -> None:
        for n, surgery in which:
            self.recorded.append(await self.clinician.call(
                "scheduling", "POST", f"/surgeries/{surgery['id']}/follow-up", {"outcome": self.outcomes.get(n, "alive")}))


async def follow_up_reminder(desk: Api, surgery_id: str, done: Any) -> dict[str, Any]:
    """The notification service's day-30 reminder of a surgery, once ``done`` accepts it."""
    found = await desk.until("notification", f"/reminders?subject_id={surgery_id}",
                             lambda page: any(r["kind"] == "follow_up" and done(r) for r in page["items"]))
    return next(r for r in found["items"] if r["kind"] == "follow_up")


async def reminded(desk: Api, timeline: Timeline, surgery_id: str) -> dict[str, Any]:
    """Until the surgery's day-30 reminder has fired and its e-mails are sent (``NotificationSent``
    of that reminder on the exchange): the notification service's reminder job, on its clock."""
    reminder = await follow_up_reminder(desk, surgery_id, lambda r: r["status"] == "fired")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not any(e["type"] == "NotificationSent" and e["data"].get("cause_event_id") == reminder["id"]
                  for e in timeline.seen):
        if loop.time() > deadline:
            raise TimeoutError(f"the day-30 reminder {reminder['id']} fired but nothing was sent")
        await asyncio.sleep(0.1)
    return reminder


async def thirty_days_later(api: Api, story: Story, timeline: Timeline, programmes: list[FollowUps]) -> dict[str, int]:
    """Day 30 of each mission's first day (08:00, before the reminders' hour): those surgeries are
    followed up, and their reminders cancelled. Then 5 July: the notification service's reminder job
    sends the others' reminders, and only then are their follow-ups recorded."""
    desk = api.as_("bureau.notifications", "administrator")
    for programme in programmes:
        story.moves_to(at(programme.first_day + timedelta(days=30), 8))
        await programme.record(programme.on_time())
        for _, surgery in programme.on_time():
            await follow_up_reminder(desk, surgery["id"], lambda r: r["status"] == "cancelled")
    story.moves_to("2024-07-05T08:00:00Z")
    fired = {}
    for programme in programmes:
        for _, surgery in programme.after_reminders():
            fired[surgery["id"]] = await reminded(desk, timeline, surgery["id"])
        await programme.record(programme.after_reminders())
    reminder_ids = {r["id"] for r in fired.values()}
    figures = {
        "reminders_sent": len(fired),
        "reminder_emails": sum(1 for e in timeline.seen if e["type"] == "NotificationSent"
                               and e["data"].get("cause_event_id") in reminder_ids),
        "reminders_cancelled": sum(len(p.on_time()) for p in programmes),
        # From the services' own records: the follow-up's day against the reminder's.
        "followed_up_after_reminder": sum(
            1 for p in programmes for done in p.recorded if done["id"] in fired
            and date.fromisoformat(done["followed_up_on"])
            >= (datetime.fromisoformat(fired[done["id"]]["fired_at"].replace("Z", "+00:00")) + ALGIERS_OFFSET).date()),
    }
    return figures


def show_reminders(figures: dict[str, int]) -> None:
    print(f"\n  day-30 reminders: {figures['reminders_sent']} sent ({figures['reminder_emails']} e-mails), "
          f"{figures['reminders_cancelled']} cancelled (followed up first); "
          f"{figures['followed_up_after_reminder']} follow-ups recorded after their reminder", flush=True)


READINESS = ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged")


async def ready(clinician: Api, cases: list[dict[str, Any]], checked_on: str) -> None:
    """The host's clinician checks each case's readiness before the team arrives: the optimiser plans
    only ready cases."""
    for case in cases:
        for item in READINESS:
            await clinician.call("scheduling", "PUT", f"/cases/{case['id']}/readiness/{item}",
                                 {"checked_on": checked_on})


async def plan_and_apply(api: Api, mission_id: str, cases: list[dict[str, Any]], rooms: list[str],
                         surgeon_id: str, days: list[date]) -> list[dict[str, Any]]:
    """The optimiser's plan, applied; if this build has no optimiser, first fit by priority."""
    r = await api.http.post(api.urls["scheduling"] + f"/missions/{mission_id}/plan",
                            # The host's own cardiac team follows these children after surgery: no
                            # post-operative days with the visiting team (issue 20's default would ask 1-3).
                            json={"time_limit_seconds": 10, "post_operative_days": [
                                {"risk": f"{scheme} {c}", "days": 0}
                                for scheme, top in (("RACHS-1", 6), ("STAT", 5)) for c in range(1, top + 1)]},
                            headers=api.headers())
    if r.status_code == 200:
        plan = r.json()
        print(f"  plan   {len(plan['assignments'])} cases ({plan['status']}), objective {plan['objective']} "
              f"(greedy {plan['greedy_objective']}), bound {plan['bound']}, {plan['solve_seconds']} s", flush=True)
        for line in plan["unplanned"]:
            print(f"  plan   left out {line['patient_ref']}: {line['reason']}", flush=True)
        await api.call("scheduling", "POST", f"/missions/{mission_id}/plan/apply",
                       {"assignments": plan["assignments"]})
        return await api.call("scheduling", "GET", f"/missions/{mission_id}/surgeries")
    print("  plan   no optimiser in this build: first fit by priority", flush=True)
    free = {d: 8 * 60 for d in days}  # one lead surgeon: one case at a time, 30 min turnover
    scheduled = []
    for i, case in enumerate(sorted(cases, key=lambda c: c["priority"])):
        day = next((d for d in days if free[d] + case["expected_duration_minutes"] <= 18 * 60), None)
        if day is None:
            break
        start = free[day]
        free[day] += case["expected_duration_minutes"] + 30
        scheduled.append(await api.call("scheduling", "POST", f"/missions/{mission_id}/surgeries", {
            "case_id": case["id"], "operating_room_id": rooms[i % len(rooms)],
            "scheduled_start": at(day, start // 60, start % 60), "lead_surgeon_id": surgeon_id}))
    return scheduled


async def cnas_programme(api: Api, story: Story) -> tuple[str, str, FollowUps]:
    """The convention's id, its funder's (CNAS), and the 30-day follow-ups to record."""
    chain = "programme-cnas-san-donato-2024"
    step("CNAS – San Donato: paediatric cardiac surgery at CMCI Bousmail")
    story.moves_to("2024-05-20T08:00:00Z")
    admin = api.as_("admin.plateforme", "administrator")
    cnas = await institution(admin, "CNAS", "insurer", "DZ", "Alger", "Alger")
    gsd = await institution(admin, "Gruppo San Donato", "hospital_group", "IT", "Milano")
    cmci = await institution(admin, "CMCI Bousmail", "clinic", "DZ", "Bou Ismail", "Tipaza")
    # Who acts: each with a token of their institution and role.
    gsd_coordinator = api.as_("coord.san-donato", "coordinator", institution=gsd)
    cmci_coordinator = api.as_("coord.cmci", "coordinator", institution=cmci)
    cmci_clinician = api.as_("dr.cardio.cmci", "clinician", institution=cmci)
    convention = await signed_convention(gsd_coordinator, {
        "reference": f"CNAS-GSD-2024-{uuid.uuid4().hex[:4].upper()}",
        "title": "Chirurgie cardiaque pédiatrique au CMCI Bousmail",
        "kind": "international_cooperation",
        "parties": [{"institution_id": gsd, "role": "provider"}, {"institution_id": cmci, "role": "beneficiary"},
                    {"institution_id": cnas, "role": "funder"}],
        "effective_from": "2024-05-20", "effective_until": "2025-05-19",
        "specialties": ["paediatric cardiac surgery"],
        "objectives": {"surgeries": 60, "consultations": 120, "training_sessions": 12},
        # And per calendar year of the convention (issue 21): the progress by year is held to them.
        "yearly_objectives": [{"year": 2024, "surgeries": 35, "consultations": 70, "training_sessions": 7},
                              {"year": 2025, "surgeries": 25, "consultations": 50, "training_sessions": 5}],
        "cost_bearers": [{"institution_id": cnas, "covers": "missions, consumables and stays"}],
    }, "2024-05-20", "Alger", chain)
    rooms = await host(cmci_coordinator, cmci, ["Bloc cardiaque 1", "Bloc cardiaque 2"], icu_beds=6)
    team = [member("Alessandro Frigiola", "surgeon", "en"), member("Mario Carminati", "cardiologist", "en"),
            member("Giulia Rossi", "anaesthetist", "en"), member("Luca Bianchi", "perfusionist", "en"),
            member("Sara Conti", "nurse", "en"), member("Amina Ferhat", "nurse")]
    # The host's own cardiac team, on the mission to learn: their home institution is the host.
    local_team = [{**member("Nadia Saidi", "resident"), "home_institution_id": cmci},
                  {**member("Omar Khelifi", "assistant_professor"), "home_institution_id": cmci}]
    team += local_team
    await contacts(cmci_coordinator, team,
                   {cmci: "direction@cmci-bousmail.example.dz", cnas: "conventions@cnas.example.dz"})
    await cmci_coordinator.until("notification", f"/institutions/{cmci}")
    story.moves_to("2024-05-25T12:00:00Z")  # the eve of the mission: the waiting list and the plan
    days = [date(2024, 5, 26) + timedelta(days=i) for i in range(5)]
    mission = await cmci_coordinator.call("scheduling", "POST", "/missions", {
        "convention_id": convention, "host_institution_id": cmci, "visiting_institution_id": gsd,
        "specialty": "paediatric cardiac surgery", "starts_on": "2024-05-26", "ends_on": "2024-05-30",
        "team": [{k: m[k] for k in ("practitioner_id", "full_name", "role", "home_institution_id") if k in m}
                 for m in team]}, correlation=chain)
    procedures = [("Transposition of the great arteries", "Arterial switch", 300, 4),
                  ("Tetralogy of Fallot", "Complete repair", 240, 3),
                  ("Ventricular septal defect", "VSD closure", 180, 2),
                  ("Atrioventricular septal defect", "AVSD repair", 240, 3),
                  ("Coarctation of the aorta", "Coarctation repair", 150, 2),
                  ("Hypoplastic aortic arch", "Arch reconstruction", 300, 4),
                  ("Total anomalous pulmonary venous return", "TAPVR repair", 270, 4),
                  ("Atrial septal defect", "ASD closure", 150, 1)]
    cases = []
    for i, (diagnosis, procedure, minutes, risk) in enumerate(procedures):
        cases.append(await cmci_clinician.call("scheduling", "POST", f"/institutions/{cmci}/cases", {
            "patient": {"full_name": f"Enfant {i + 1}", "date_of_birth": f"20{19 + i % 5}-0{1 + i % 9}-15",
                        "sex": "female" if i % 2 else "male", "weight_kg": 6.5 + i},
            "diagnosis": diagnosis, "planned_procedure": procedure, "priority": 1 + i % 3,
            "expected_duration_minutes": minutes, "risk_scheme": "RACHS-1", "risk_category": risk,
            "referred_abroad": True}))
    family = await cmci_clinician.call("notification", "POST", "/contacts", {
        "kind": "family", "patient_ref": cases[0]["patient_ref"], "display_name": "Famille de l'enfant 1",
        "email": "famille1@example.dz", "language": "ar"})
    await cmci_clinician.call("notification", "POST", f"/contacts/{family['id']}/consent",
                              {"given_by": "la mère, formulaire signé"})
    await ready(cmci_clinician, cases, "2024-05-24")
    # The host's data-protection officer reads who saw its patients' identity (and only that).
    dpo = api.as_("dpo.cmci", "privacy_officer", institution=cmci)
    await dpo.call("scheduling", "GET", f"/institutions/{cmci}/identity-access")
    surgeon = team[0]["practitioner_id"]
    surgeries = await plan_and_apply(cmci_coordinator, mission["id"], cases, rooms, surgeon, days)
    await cmci_coordinator.call("scheduling", "POST", f"/missions/{mission['id']}/start", correlation=chain)
    story.moves_to("2024-05-31T08:00:00Z")  # the mission is over: what it did is recorded
    outcomes = ["successful"] * len(surgeries)
    if len(outcomes) > 2:
        outcomes[2] = "with_complications"
    operated = await operate(cmci_clinician, mission["id"], [s for s in surgeries if s["status"] == "scheduled"],
                             outcomes, local_team)
    for day, topic, hours, trainees in ((days[1], "Perfusion in neonates", 3, 8),
                                        (days[3], "Post-operative intensive care", 4, 12)):
        session = await cmci_coordinator.call("scheduling", "POST", f"/missions/{mission['id']}/training-sessions",
                                              {"topic": topic, "scheduled_at": at(day, 17), "hours": hours})
        await cmci_coordinator.call("scheduling", "POST", f"/training-sessions/{session['id']}/hold",
                                    {"trainee_count": trainees, "held_at": at(day, 17)})
    consultation = await cmci_clinician.call("scheduling", "POST", f"/missions/{mission['id']}/consultations",
                                             {"scheduled_at": at(days[0], 9), "case_id": cases[-1]["id"]})
    await cmci_clinician.call("scheduling", "POST", f"/consultations/{consultation['id']}/hold",
                              {"held_at": at(days[0], 9)})
    await cmci_coordinator.call("scheduling", "POST", f"/missions/{mission['id']}/complete", correlation=chain)
    return convention, cnas, FollowUps(cmci_clinician, operated, {2: "readmitted"})


async def twinning_programme(api: Api, story: Story) -> tuple[str, str, FollowUps]:
    """The convention's id, its supervisor's (DSP Oran), and the 30-day follow-ups to record."""
    chain = "programme-oran-tiaret-2024"
    step("CHU Oran – EPH Tiaret: twinning in general surgery, supervised by DSP Oran")
    admin = api.as_("admin.plateforme", "administrator")
    chu = await institution(admin, "CHU Oran", "university_hospital", "DZ", "Oran", "Oran")
    tiaret = await institution(admin, "EPH Tiaret", "hospital", "DZ", "Tiaret", "Tiaret")
    dsp = await institution(admin, "DSP Oran", "health_directorate", "DZ", "Oran", "Oran")
    chu_coordinator = api.as_("coord.chu-oran.chir-b", "coordinator", institution=chu)
    tiaret_coordinator = api.as_("coord.eph-tiaret", "coordinator", institution=tiaret)
    tiaret_clinician = api.as_("dr.chir.tiaret", "clinician", institution=tiaret)
    convention = await signed_convention(chu_coordinator, {
        "reference": f"DSP-ORAN-TIARET-2024-{uuid.uuid4().hex[:4].upper()}",
        "title": "Jumelage CHU Oran (chirurgie générale B) – EPH Tiaret",
        "kind": "twinning",
        "parties": [{"institution_id": chu, "role": "provider"}, {"institution_id": tiaret, "role": "beneficiary"},
                    {"institution_id": dsp, "role": "supervisor"}],
        "effective_from": "2024-01-01", "effective_until": "2024-12-31",
        "specialties": ["general surgery"],
        "objectives": {"surgeries": 40, "consultations": 200, "training_sessions": 10},
    }, "2024-01-10", "Oran", chain)
    rooms = await host(tiaret_coordinator, tiaret, ["Bloc opératoire A"], icu_beds=2)
    team = [member("Karim Benali", "assistant_professor"), member("Nadia Hamidi", "assistant_professor"),
            member("Yacine Mokrani", "surgeon"), member("Samir Ouali", "general_practitioner"),
            member("Lina Djebbar", "resident"), member("Rachid Kaci", "anaesthetist")]
    # Tiaret's own surgeon operates beside the delegation, and leads one surgery under its supervision.
    local_team = [{**member("Mourad Bensalah", "surgeon"), "home_institution_id": tiaret}]
    team += local_team
    await contacts(tiaret_coordinator, team,
                   {tiaret: "direction@eph-tiaret.example.dz", dsp: "jumelage@dsp-oran.example.dz"})
    story.moves_to("2024-06-01T12:00:00Z")
    days = [date(2024, 6, 2) + timedelta(days=i) for i in range(3)]
    mission = await chu_coordinator.call("scheduling", "POST", "/missions", {
        "convention_id": convention, "host_institution_id": tiaret, "visiting_institution_id": chu,
        "specialty": "general surgery", "starts_on": "2024-06-02", "ends_on": "2024-06-04",
        "team": [{k: m[k] for k in ("practitioner_id", "full_name", "role", "home_institution_id") if k in m}
                 for m in team]}, correlation=chain)
    cases = []
    for i, (diagnosis, procedure, minutes) in enumerate([
            ("Hydatid cyst of the liver", "Pericystectomy", 180), ("Thyroid goitre", "Total thyroidectomy", 150),
            ("Recurrent incisional hernia", "Mesh repair", 120), ("Chronic pancreatitis", "Frey procedure", 300)]):
        cases.append(await tiaret_clinician.call("scheduling", "POST", f"/institutions/{tiaret}/cases", {
            "patient": {"full_name": f"Patient Tiaret {i + 1}", "date_of_birth": f"19{70 + i}-03-0{1 + i}",
                        "sex": "male" if i % 2 else "female", "weight_kg": 60 + 5 * i},
            "diagnosis": diagnosis, "planned_procedure": procedure, "priority": 1 + i % 2,
            "expected_duration_minutes": minutes, "risk_scheme": "none", "referred_abroad": i == 3}))
    await ready(tiaret_clinician, cases, "2024-05-30")
    surgeries = await plan_and_apply(tiaret_coordinator, mission["id"], cases, rooms, team[2]["practitioner_id"],
                                     days)
    local_surgeon = local_team[0]["practitioner_id"]
    planned_ = sorted((s for s in surgeries if s["status"] == "scheduled"), key=lambda s: s["scheduled_start"])
    if planned_ and not any(s["lead_surgeon_id"] == local_surgeon for s in planned_):
        try:  # the last one led by the local surgeon, if he is free then
            planned_[-1] = await tiaret_coordinator.call(
                "scheduling", "POST", f"/surgeries/{planned_[-1]['id']}/lead",
                {"lead_surgeon_id": local_surgeon, "reason": "le chirurgien de l'EPH opère, supervisé"})
        except Exception:  # noqa: BLE001 (a refusal leaves the delegation's surgeon leading it)
            pass
    await chu_coordinator.call("scheduling", "POST", f"/missions/{mission['id']}/start", correlation=chain)
    story.moves_to("2024-06-05T08:00:00Z")
    operated = await operate(tiaret_clinician, mission["id"], planned_, ["successful"] * len(planned_), local_team)
    for i in range(3):  # specialised consultations, new patients seen by the delegation
        consultation = await tiaret_clinician.call("scheduling", "POST", f"/missions/{mission['id']}/consultations", {
            "scheduled_at": at(days[i], 9), "new_patient": {
                "patient": {"full_name": f"Consultant Tiaret {i}", "date_of_birth": "1980-01-01", "sex": "female",
                            "weight_kg": 70},
                "diagnosis": "Biliary lithiasis", "planned_procedure": "Cholecystectomy", "priority": 3,
                "expected_duration_minutes": 90}})
        await tiaret_clinician.call("scheduling", "POST", f"/consultations/{consultation['id']}/hold",
                                    {"held_at": at(days[i], 10)})
    session = await chu_coordinator.call(
        "scheduling", "POST", f"/missions/{mission['id']}/training-sessions",
        {"topic": "Laparoscopic cholecystectomy", "scheduled_at": at(days[1], 15), "hours": 3})
    await chu_coordinator.call("scheduling", "POST", f"/training-sessions/{session['id']}/hold",
                               {"trainee_count": 9, "held_at": at(days[1], 15)})
    await chu_coordinator.call("scheduling", "POST", f"/missions/{mission['id']}/complete", correlation=chain)
    return convention, dsp, FollowUps(tiaret_clinician, operated,
                                      {1: "surgical_site_infection", 3: "lost_to_follow_up"})


async def achieved(api: Api, convention_id: str, expected_surgeries: int) -> dict[str, Any]:
    """The convention's progress, once the convention service has heard of the mission's end."""
    return await api.until(
        "convention", f"/conventions/{convention_id}/progress",
        lambda p: p["missions_completed"] >= 1 and p["surgeries"]["done"] >= expected_surgeries)


def show_progress(progress: dict[str, Any]) -> None:
    s, c, t = progress["surgeries"], progress["consultations"], progress["training_sessions"]
    print(f"\n  {progress['reference']} ({progress['status']})\n"
          f"    surgeries         {s['done']:>4} / {s['target']:<4} ({s['percent']} %)  outcomes {progress['surgery_outcomes']}\n"
          f"    treated here instead of abroad: {progress['treated_locally_instead_of_abroad']}\n"
          f"    consultations     {c['done']:>4} / {c['target']:<4} ({c['percent']} %)\n"
          f"    training sessions {t['done']:>4} / {t['target']:<4} ({t['percent']} %), "
          f"{progress['training_hours']} h, {progress['trainees']} trainee places\n"
          f"    missions completed {progress['missions_completed']}", flush=True)
    autonomy, outcomes = progress.get("autonomy"), progress.get("outcomes")
    if autonomy:
        steps = ", ".join(f"{c['full_name']} {c['highest_role']}" for c in autonomy["practitioners"])
        print(f"    led by the local team {autonomy['led_locally']} / {autonomy['surgeries']} "
              f"({autonomy['share_led_locally']} %); local steps: {steps or 'none'}", flush=True)
    if outcomes:
        t = outcomes["total"]
        print(f"    30-day outcomes: followed up {t['followed_up']} / {t['operated']} ({t['followed_up_share']} %), "
              f"mortality {t['mortality_30_days']} %, complications {t['complications']}", flush=True)


async def reports(reader: Any, convention_id: str, reference: str) -> dict[str, int]:
    """The convention's report as its funder or supervisor downloads it (the PDF in French and in
    Arabic, the CSV files zipped) and its FHIR export: the size of each, the Bundle's entries."""
    sizes = {}
    for name, query in (("pdf_fr", "report.pdf?language=fr"), ("pdf_ar", "report.pdf?language=ar"),
                        ("zip", "report.zip")):
        r = await reader.http.get(f"{reader.urls['convention']}/conventions/{convention_id}/{query}",
                                  headers=reader.headers())
        if r.status_code != 200:
            raise RuntimeError(f"GET {query} of {reference} -> {r.status_code}: {r.text[:300]}")
        sizes[name] = len(r.content)
    bundle = await reader.call("convention", "GET", f"/conventions/{convention_id}/fhir")
    sizes["fhir_entries"] = len(bundle["entry"])
    print(f"    report: PDF {sizes['pdf_fr'] // 1024} KiB (fr), {sizes['pdf_ar'] // 1024} KiB (ar, right to left), "
          f"CSV zip {sizes['zip']} bytes; FHIR Bundle of {sizes['fhir_entries']} entries (Contract, Organizations)",
          flush=True)
    return sizes


async def settled(timeline: Timeline, mails: Any, quiet: float = 1.0, timeout: float = 20.0) -> None:
    """Until the last notifications went out (each e-mail confirmed by a NotificationSent)
    and nothing crossed the exchange for ``quiet`` seconds: the summary then prints alone."""
    loop = asyncio.get_running_loop()
    deadline, last_count, last_change = loop.time() + timeout, -1, loop.time()
    while loop.time() < deadline:
        await asyncio.sleep(0.1)
        if len(timeline.seen) != last_count:
            last_count, last_change = len(timeline.seen), loop.time()
            continue
        sent = sum(1 for e in timeline.seen if e["type"] == "NotificationSent")
        if (mails is None or len(mails()) == sent) and loop.time() - last_change >= quiet:
            return


async def play(urls: dict[str, str], amqp_url: str, exchange: str, clock_file: Path,
               mails: Any = None, *, secret: str, people_file: Path | None = None) -> dict[str, Any]:
    timeline = Timeline()
    Api.people_file = people_file
    api, story = Api(urls, secret), Story(clock_file)
    async with event_tap(amqp_url, exchange, on_event=timeline.show):
        try:
            return await _play(api, story, timeline, urls, mails)
        finally:
            await api.aclose()


async def _play(api: Api, story: Story, timeline: Timeline, urls: dict[str, str], mails: Any) -> dict[str, Any]:
    cnas, funder, cnas_follow_ups = await cnas_programme(api, story)
    twinning, supervisor, twinning_follow_ups = await twinning_programme(api, story)
    step("Thirty days later: the hosts' clinicians record how each patient is, some reminded on day 30")
    day30 = await thirty_days_later(api, story, timeline, [cnas_follow_ups, twinning_follow_ups])
    fund, directorate = (api.as_("suivi.cnas", "funder", institution=funder),
                         api.as_("inspection.dsp-oran", "supervisor", institution=supervisor))
    results = {"cnas": await achieved(fund, cnas, 1), "twinning": await achieved(directorate, twinning, 1)}
    for key, reader, convention_id in (("cnas", fund, cnas), ("twinning", directorate, twinning)):
        done = results[key]["surgeries"]["done"]
        results[key]["autonomy"] = await reader.until(
            "convention", f"/conventions/{convention_id}/progress/autonomy", lambda a, done=done: a["surgeries"] >= done)
        results[key]["outcomes"] = await reader.until(
            "convention", f"/conventions/{convention_id}/progress/outcomes",
            lambda o: o["total"]["followed_up"] >= o["total"]["operated"] > 0)
    await settled(timeline, mails)
    step("What each convention achieved (read by its funder, then its supervisor)")
    show_progress(results["cnas"])
    results["cnas_reports"] = await reports(fund, cnas, results["cnas"]["reference"])
    show_progress(results["twinning"])
    results["twinning_reports"] = await reports(directorate, twinning, results["twinning"]["reference"])
    show_reminders(day30)
    sent = [e for e in timeline.seen if e["type"] == "NotificationSent"]
    print(f"\n  {len(timeline.seen)} events, {len(sent)} notifications sent"
          + (f", {len(mails())} e-mails in the local mail catcher" if mails else ""), flush=True)
    results["follow_up_reminders"] = day30
    results["events"] = len(timeline.seen)
    results["notifications"] = len(sent)
    admin = api.as_("admin.plateforme", "administrator")
    audited = {service: (await admin.call(service, "GET", "/audit", ok=(200,)))["total"] for service in urls}
    print("  audit trail: " + ", ".join(f"{n} rows in {s}" for s, n in audited.items())
          + " (every change, and each report and export downloaded)", flush=True)
    results["audited"] = audited
    return results
