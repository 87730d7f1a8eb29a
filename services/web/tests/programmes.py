"""A programme set up through the services' APIs, for the web app's tests (and the browser
tests): a convention signed between the fund (CNAS), the provider (GSD) and the host clinic
(CMCI), the host's operating rooms and intensive-care beds, a visiting team, cases on the
host's waiting list, and a mission. Every step is an HTTP call as the person who may make it;
what the scheduling service learns from events (the institution, the signature) is waited for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from web_testkit import Stack

from jumelage.testkit.waiting import eventually

SPECIALTY = "paediatric cardiac surgery"

# (diagnosis, procedure, minutes, priority, risk scheme, risk category)
CASES = [
    ("Transposition of the great arteries", "Arterial switch", 300, 1, "RACHS-1", 4),
    ("Tetralogy of Fallot", "Complete repair", 240, 2, "STAT", 3),
    ("Ventricular septal defect", "VSD closure", 180, 3, "RACHS-1", 2),
    ("Inguinal hernia", "Herniotomy", 60, 4, "none", None),
]


@dataclass
class Programme:
    convention_id: str
    mission_id: str
    host: str
    visiting: str
    rooms: dict[str, str]                 # name -> id
    cases: list[dict[str, Any]]           # as the service registered them (identity included)
    team: dict[str, dict[str, Any]]       # key -> member (practitioner_id, full_name, role)
    days: list[date] = field(default_factory=list)
    icu_beds: int = 0

    @property
    def path(self) -> str:
        return f"/missions/{self.mission_id}"


def member(name: str, role: str) -> dict[str, Any]:
    return {"practitioner_id": str(uuid.uuid4()), "full_name": name, "role": role}


async def as_clinician(stack: Stack, key: str, method: str, path: str, **kw: Any) -> Any:
    return await stack.call(method, "scheduling", path, ("clinician",), stack.ids[key], **kw)


async def signed_convention(stack: Stack, reference: str | None = None, also_benefit: tuple[str, ...] = ()) -> str:
    """A convention CNAS funds, GSD provides and CMCI benefits from (with ``also_benefit``'s
    institutions), signed; once the scheduling service has it (from ConventionSigned)."""
    ids, today = stack.ids, date.today()
    draft = await stack.as_coordinator("cmci", "POST", "convention", "/conventions", json={
        "reference": reference or f"CNAS-GSD-{uuid.uuid4().hex[:6].upper()}",
        "title": "Paediatric cardiac surgery at CMCI", "kind": "international_cooperation",
        "parties": [{"institution_id": ids["cnas"], "role": "funder"},
                    {"institution_id": ids["gsd"], "role": "provider"},
                    {"institution_id": ids["cmci"], "role": "beneficiary"},
                    *({"institution_id": ids[key], "role": "beneficiary"} for key in also_benefit)],
        "effective_from": today.isoformat(), "effective_until": (today + timedelta(days=365)).isoformat(),
        "specialties": [SPECIALTY], "objectives": {"surgeries": 40, "consultations": 100, "training_sessions": 10}})
    await stack.as_coordinator("cmci", "POST", "convention", f"/conventions/{draft['id']}/sign",
                               json={"signed_on": today.isoformat(), "signed_at": "Alger"})
    await _seen(stack, f"/conventions/{draft['id']}", lambda c: c.get("status") == "signed")
    return draft["id"]


async def _seen(stack: Stack, path: str, check: Any = lambda body: True) -> Any:
    """The scheduling service's answer to a host coordinator, once it says what ``check`` wants."""
    client = stack.services["scheduling"]

    async def ready() -> Any:
        with client.auth.acting("coordinator", institution=stack.ids["cmci"]):
            r = await client.get(path)
        return r.json() if r.status_code == 200 and check(r.json()) else None

    return await eventually(ready)


async def host_resources(stack: Stack, rooms: tuple[str, ...] = ("Bloc A", "Bloc B"), icu_beds: int = 4,
                         opens: str = "08:00", closes: str = "18:00") -> dict[str, str]:
    """The host's clock, intensive-care beds and operating rooms (its coordinator keeps them)."""
    cmci = stack.ids["cmci"]
    await _seen(stack, f"/institutions/{cmci}")  # the scheduling service knows the institution (its replica)
    await stack.as_coordinator("cmci", "PUT", "scheduling", f"/institutions/{cmci}/resources",
                               json={"timezone": "Africa/Algiers", "icu_beds": icu_beds})
    out = {}
    for name in rooms:
        room = await stack.as_coordinator("cmci", "POST", "scheduling", f"/institutions/{cmci}/operating-rooms",
                                          json={"name": name, "opens_at": opens, "closes_at": closes})
        out[name] = room["id"]
    return out


READINESS = ("consent_signed", "tests_done", "fit_for_anaesthesia", "travel_arranged")


async def waiting_list(stack: Stack, cases: list[tuple[Any, ...]] = CASES) -> list[dict[str, Any]]:
    """Cases on the host's waiting list, registered by a clinician of the host (the patients' names
    are the only place their identity appears: the tests look for them to see who is shown it)."""
    out = []
    for i, (diagnosis, procedure, minutes, priority, scheme, category) in enumerate(cases):
        out.append(await as_clinician(stack, "cmci", "POST", f"/institutions/{stack.ids['cmci']}/cases", json={
            "patient": {"full_name": f"Patient Enfant{i + 1} Testnom", "date_of_birth": f"20{18 + i % 6}-03-1{i % 9}",
                        "sex": "female" if i % 2 else "male", "weight_kg": 8.5 + i},
            "diagnosis": diagnosis, "planned_procedure": procedure, "priority": priority,
            "expected_duration_minutes": minutes, "risk_scheme": scheme, "risk_category": category,
            "referred_abroad": i % 2 == 0}))
    for case in out:  # ready before the team arrives: the optimiser plans only ready cases
        for item in READINESS:
            await as_clinician(stack, "cmci", "PUT", f"/cases/{case['id']}/readiness/{item}")
    return [await as_clinician(stack, "cmci", "GET", f"/cases/{case['id']}") for case in out]


async def mission_programme(stack: Stack, *, cases: list[tuple[Any, ...]] = CASES, icu_beds: int = 4,
                            rooms: tuple[str, ...] = ("Bloc A", "Bloc B"), starts_in: int = 2,
                            days: int = 3, also_benefit: tuple[str, ...] = ()) -> Programme:
    """Everything a mission's pages need, through the services' APIs: a signed convention, the
    host's rooms and beds, its waiting list, and a scheduled mission with a surgeon, an
    anaesthetist and a nurse, from ``starts_in`` days from today for ``days`` days."""
    ids = stack.ids
    convention_id = await signed_convention(stack, also_benefit=also_benefit)
    room_ids = await host_resources(stack, rooms, icu_beds)
    registered = await waiting_list(stack, cases)
    team = {"surgeon": member("Alessandro Frigiola", "surgeon"),
            "anaesthetist": member("Sara Conti", "anaesthetist"),
            "nurse": member("Amina Ferhat", "nurse")}
    first = date.today() + timedelta(days=starts_in)
    mission = await stack.as_coordinator("cmci", "POST", "scheduling", "/missions", json={
        "convention_id": convention_id, "host_institution_id": ids["cmci"], "visiting_institution_id": ids["gsd"],
        "specialty": SPECIALTY, "starts_on": first.isoformat(),
        "ends_on": (first + timedelta(days=days - 1)).isoformat(), "team": list(team.values())})
    return Programme(convention_id=convention_id, mission_id=mission["id"], host=ids["cmci"], visiting=ids["gsd"],
                     rooms=room_ids, cases=registered, team=team,
                     days=[first + timedelta(days=i) for i in range(days)], icu_beds=icu_beds)


async def planned(stack: Stack, programme: Programme, time_limit: float = 3) -> list[dict[str, Any]]:
    """The optimiser's plan, applied through the API (for tests that start from a planned mission)."""
    plan = await stack.as_coordinator("cmci", "POST", "scheduling", f"/missions/{programme.mission_id}/plan",
                                      json={"time_limit_seconds": time_limit})
    await stack.as_coordinator("cmci", "POST", "scheduling", f"/missions/{programme.mission_id}/plan/apply",
                               json={"assignments": plan["assignments"]})
    return await stack.as_coordinator("cmci", "GET", "scheduling", f"/missions/{programme.mission_id}/surgeries")
