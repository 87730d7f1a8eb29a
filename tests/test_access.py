"""Access control across the three services, on the real broker and both databases.

One world is seeded through the APIs by the people who may do each step: an
administrator registers the institutions, the visiting hospital's coordinator
drafts and signs the convention, the host's coordinator schedules the mission and
its activities, the host's clinician registers the patient.

Then every route of every service's OpenAPI document is walked: without a token
and with a bad one it is a 401; with a token of the wrong role, and with one of
the wrong institution, it is a 403 (never a 500, never an empty answer that
hides the refusal), except the few routes meant for any authenticated caller;
and some insider is let through. Then the table of roles, and the audit trail.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

import convention.app
import notification.app
import scheduling.app
from jumelage.testkit.client import bearer
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running_services
from jumelage.testkit.waiting import eventually

MODULES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
# Meant for anyone authenticated: the directory of institutions (a reference list, no patient data).
ANY_AUTHENTICATED = {("GET", "/institutions"), ("GET", "/institutions/{institution_id}")}
# Lists answer with the caller's own records; naming another institution's is the refusal to prove.
AIMED_AT_THE_HOST = {
    ("convention", "GET", "/conventions"): {"party": "host"},
    ("scheduling", "GET", "/conventions"): {"party": "host"},
    ("scheduling", "GET", "/missions"): {"host_institution_id": "host"},
    ("notification", "GET", "/contacts"): {"managed_by": "host"},
}
# Creations name their institutions in the body: the outsider names the host's.
def aimed_bodies(i: dict[str, str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        ("convention", "POST", "/conventions"): {
            "reference": "X-1", "title": "x", "kind": "twinning", "effective_from": "2030-01-01",
            "effective_until": "2030-12-31", "specialties": ["x"],
            "parties": [{"institution_id": i["visiting"], "role": "provider"},
                        {"institution_id": i["host"], "role": "beneficiary"}]},
        ("scheduling", "POST", "/missions"): {
            "convention_id": i["convention_id"], "host_institution_id": i["host"],
            "visiting_institution_id": i["visiting"], "specialty": "paediatric urology", "starts_on": "2030-01-01",
            "ends_on": "2030-01-02", "team": [{"practitioner_id": str(uuid.uuid4()), "full_name": "X",
                                               "role": "surgeon"}]},
        ("notification", "POST", "/contacts"): {"kind": "institution", "institution_id": i["host"],
                                                "email": "eavesdropper@example.org"},
    }


NOT_A_ROLE_HERE = ("coordinator", "clinician", "funder", "supervisor", "practitioner", "privacy_officer")


@dataclass
class World:
    clients: dict[str, httpx.AsyncClient]
    ids: dict[str, str] = field(default_factory=dict)

    def identities(self) -> dict[str, dict[str, Any]]:
        i = {k: self.ids.get(k) for k in ("host", "visiting", "funder", "supervisor", "practitioner_id")}
        return {
            "administrator": {"roles": ("administrator",), "subject": "admin"},
            "host coordinator": {"roles": ("coordinator",), "institution": i["host"], "subject": "coord-host"},
            "visiting coordinator": {"roles": ("coordinator",), "institution": i["visiting"],
                                     "subject": "coord-visiting"},
            "host clinician": {"roles": ("clinician",), "institution": i["host"], "subject": "clin-host"},
            "funder": {"roles": ("funder",), "institution": i["funder"], "subject": "funder"},
            "supervisor": {"roles": ("supervisor",), "institution": i["supervisor"], "subject": "supervisor"},
            "host privacy officer": {"roles": ("privacy_officer",), "institution": i["host"], "subject": "dpo-host"},
            "surgeon on the team": {"roles": ("practitioner",), "institution": i["visiting"],
                                    "practitioner": i["practitioner_id"], "subject": "surgeon"},
        }

    async def as_(self, who: dict[str, Any], service: str, method: str, path: str, **kw: Any) -> httpx.Response:
        roles, rest = who["roles"], {k: v for k, v in who.items() if k != "roles"}
        headers = {**bearer(*roles, **rest), **kw.pop("headers", {})}
        return await self.clients[service].request(method, path, headers=headers, **kw)

    async def ok(self, who: str, service: str, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = await self.as_(self.identities()[who], service, method, path, **kw)
        assert r.status_code == status, f"{who}: {method} {service}{path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


async def seed(w: World) -> World:
    i = w.ids
    for key, kind in (("host", "clinic"), ("visiting", "hospital_group"), ("funder", "insurer"),
                      ("supervisor", "health_directorate"), ("outsider", "hospital")):
        i[key] = (await w.ok("administrator", "convention", "POST", "/institutions", 201, json={
            "name": f"{key.title()} {uuid.uuid4().hex[:6]}", "kind": kind, "country": "DZ", "city": "Alger"}))["id"]
    today = date.today()
    convention = await w.ok("visiting coordinator", "convention", "POST", "/conventions", 201, json={
        "reference": f"ACCESS-{uuid.uuid4().hex[:6]}", "title": "Urologie pédiatrique", "kind": "twinning",
        "parties": [{"institution_id": i["visiting"], "role": "provider"},
                    {"institution_id": i["host"], "role": "beneficiary"},
                    {"institution_id": i["funder"], "role": "funder"},
                    {"institution_id": i["supervisor"], "role": "supervisor"}],
        "effective_from": str(today), "effective_until": str(today + timedelta(days=365)),
        "specialties": ["paediatric urology"], "objectives": {"surgeries": 10}})
    i["convention_id"] = convention["id"]
    await w.ok("visiting coordinator", "convention", "POST", f"/conventions/{i['convention_id']}/sign",
               json={"signed_on": str(today), "signed_at": "Oran"}, headers={"X-Correlation-ID": "access-seed"})

    async def replica_signed() -> bool:
        r = await w.as_(w.identities()["host coordinator"], "scheduling", "GET", f"/conventions/{i['convention_id']}")
        return r.status_code == 200 and r.json()["status"] == "signed"

    await eventually(replica_signed)
    await w.ok("host coordinator", "scheduling", "PUT", f"/institutions/{i['host']}/resources",
               json={"timezone": "Africa/Algiers", "icu_beds": 2})
    i["room_id"] = (await w.ok("host coordinator", "scheduling", "POST", f"/institutions/{i['host']}/operating-rooms",
                               201, json={"name": "Bloc 1", "opens_at": "08:00", "closes_at": "18:00"}))["id"]
    i["practitioner_id"] = str(uuid.uuid4())
    starts = today + timedelta(days=10)
    mission = await w.ok("host coordinator", "scheduling", "POST", "/missions", 201, json={
        "convention_id": i["convention_id"], "host_institution_id": i["host"],
        "visiting_institution_id": i["visiting"], "specialty": "paediatric urology",
        "starts_on": str(starts), "ends_on": str(starts + timedelta(days=3)),
        "team": [{"practitioner_id": i["practitioner_id"], "full_name": "Dr Access", "role": "surgeon"}]})
    i["mission_id"] = mission["id"]
    case = await w.ok("host clinician", "scheduling", "POST", f"/institutions/{i['host']}/cases", 201, json={
        "patient": {"full_name": "Enfant Access", "date_of_birth": "2020-01-01", "sex": "male", "weight_kg": 20},
        "diagnosis": "Hypospadias", "planned_procedure": "Urethroplasty", "priority": 2,
        "expected_duration_minutes": 120, "risk_scheme": "none", "referred_abroad": True})
    i["case_id"], i["patient_ref"] = case["id"], case["patient_ref"]
    i["surgery_id"] = (await w.ok("host coordinator", "scheduling", "POST", f"/missions/{i['mission_id']}/surgeries",
                                  201, json={"case_id": i["case_id"], "operating_room_id": i["room_id"],
                                             "scheduled_start": f"{starts}T09:00:00+01:00",
                                             "lead_surgeon_id": i["practitioner_id"]}))["id"]
    i["consultation_id"] = (await w.ok("host clinician", "scheduling", "POST",
                                       f"/missions/{i['mission_id']}/consultations", 201,
                                       json={"case_id": i["case_id"], "scheduled_at": f"{starts}T14:00:00+01:00"}))["id"]
    i["training_session_id"] = (await w.ok("host coordinator", "scheduling", "POST",
                                           f"/missions/{i['mission_id']}/training-sessions", 201,
                                           json={"topic": "Endo-urologie", "scheduled_at": f"{starts}T16:00:00+01:00",
                                                 "hours": 2}))["id"]
    i["placement_id"] = (await w.ok("visiting coordinator", "scheduling", "POST",
                                    f"/conventions/{i['convention_id']}/training-placements", 201, json={
        "kind": "observership", "specialty": "paediatric urology", "provider_institution_id": i["visiting"],
        "beneficiary_institution_id": i["host"], "starts_on": str(today), "ends_on": str(today + timedelta(days=14)),
        "trainees": [{"practitioner_id": str(uuid.uuid4()), "full_name": "Dr Stage"}]}))["id"]
    contact = await w.ok("host coordinator", "notification", "POST", "/contacts", 201, json={
        "kind": "practitioner", "practitioner_id": i["practitioner_id"], "email": "dr.access@example.org"})
    i["contact_id"] = contact["id"]
    await w.ok("host clinician", "notification", "POST", "/contacts", 201, json={  # the family's: its access request
        "kind": "family", "patient_ref": i["patient_ref"], "email": "famille.access@example.org"})
    i["subscription_id"] = (await w.ok("host coordinator", "notification", "POST",
                                       f"/contacts/{i['contact_id']}/subscriptions", 201,
                                       json={"event_type": "ConventionSuspended"}))["id"]
    return w


def routes(service: str, w: World) -> list[tuple[str, str, str]]:
    """(method, template, concrete path) of every operation in the service's OpenAPI document."""
    doc = _openapi(service)
    fill = {**w.ids, "institution_id": w.ids["host"], "notification_id": str(uuid.uuid4()),
            "event_type": "MissionScheduled", "language": "fr", "channel": "email", "item": "consent_signed",
            "subscription_id": str(uuid.uuid4()), "key": str(uuid.uuid4()),
            "purpose": "care"}
    found = []
    for template, operations in doc["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: fill[m.group(1)], template)
        for method in operations:
            found.append((method.upper(), template, path))
    return found


@functools.cache
def _openapi(service: str) -> dict[str, Any]:
    module = MODULES[service]
    return module.create_app(module.Settings()).openapi()


@pytest.fixture
async def world(amqp_url: str, declared_namespace: str, database: Database) -> AsyncIterator[World]:
    """A world of the test's own: for the walk of every route, which changes what it may."""
    # Anonymous clients: every call says who makes it.
    async with running_services(MODULES, amqp_url=amqp_url, namespace=declared_namespace,
                                database=database) as clients:
        yield await seed(World(clients))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_world(amqp_url: str, module_namespace: str, module_database: Database) -> AsyncIterator[World]:
    """One world per backend for the tests that read it and change nothing another asserts
    (a contact's language, refused or 409 commands): seeding it starts the three services
    and takes some forty calls, which each of them paid before."""
    async with running_services(MODULES, amqp_url=amqp_url, namespace=module_namespace,
                                database=module_database) as clients:
        yield await seed(World(clients))


on_the_shared_world = pytest.mark.asyncio(loop_scope="module")


def _signed_as_is(**claims: Any) -> dict[str, str]:
    """A token signed with the services' secret, its claims as given (``mint`` would make them strings)."""
    import time

    import jwt

    from jumelage.testkit.client import TEST_AUTH_SECRET

    now = int(time.time())
    body = {"sub": "crafted", "aud": "jumelage", "iss": "jumelage-local", "iat": now, "exp": now + 600, **claims}
    return {"Authorization": f"Bearer {jwt.encode(body, TEST_AUTH_SECRET, 'HS256')}"}


@pytest.mark.cost(15)  # every route of the three services, several tokens each
async def test_every_route_refuses_whoever_it_is_not_for(world: World) -> None:
    w = world
    bad_tokens = {
        "no token": {},
        "not a JWT": {"Authorization": "Bearer not-a-token"},
        "another secret": bearer("administrator", secret="another-secret-of-at-least-32-characters!"),
        "expired": bearer("administrator", ttl_seconds=-120),
        "another audience": bearer("administrator", audience="somebody-else"),
        "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        # Correctly signed, with claims of the wrong shape (a 500 on every route before issue 16).
        "roles holding an object": _signed_as_is(roles=[{"a": 1}]),
        "roles holding a list": _signed_as_is(roles=[["administrator"]]),
        "institution a list": _signed_as_is(roles=["coordinator"], institution=[str(uuid.uuid4())]),
    }
    wrong_role = {"roles": (), "institution": w.ids["host"], "subject": "no-role"}
    wrong_institution = {"roles": NOT_A_ROLE_HERE, "institution": w.ids["outsider"],
                         "practitioner": str(uuid.uuid4()), "subject": "outsider"}
    walked = 0
    for service in MODULES:
        public = {"/health/live", "/health/ready"}
        for method, template, path in routes(service, w):
            if template in public:
                r = await w.clients[service].request(method, path, headers={})
                assert r.status_code == 200, (service, path, r.text)
                continue
            walked += 1
            where = f"{method} {service}{template}"
            body = {} if method in ("POST", "PUT", "PATCH") else None
            for name, headers in bad_tokens.items():
                r = await w.clients[service].request(method, path, headers=headers, json=body)
                assert r.status_code == 401, f"{where} with {name}: {r.status_code} {r.text}"
                assert r.headers["www-authenticate"].startswith("Bearer"), where
                assert "detail" in r.json(), where

            params = {k: w.ids[v] for k, v in AIMED_AT_THE_HOST.get((service, method, template), {}).items()}
            aimed = aimed_bodies(w.ids).get((service, method, template), body)
            for label, who in (("wrong role", wrong_role), ("wrong institution", wrong_institution)):
                r = await w.as_(who, service, method, path, json=aimed, params=params)
                if (method, template) in ANY_AUTHENTICATED:
                    assert r.status_code == 200, f"{where} ({label}): {r.status_code} {r.text}"
                else:
                    assert r.status_code == 403, f"{where} ({label}): {r.status_code} {r.text}"
                    assert "may not" in r.json()["detail"], where
    assert walked >= 60  # every service's routes, not a lucky few

    # And each route lets some insider through (whatever the outcome then: 2xx, 404, 409, 422),
    # so the refusals above are the rules at work, not a door shut on everyone.
    insiders = w.identities()
    for service in MODULES:
        ordered = sorted(routes(service, w), key=lambda r: r[0] == "DELETE")  # deletions last
        for method, template, path in ordered:
            if template.startswith("/health"):
                continue
            params = {k: w.ids[v] for k, v in AIMED_AT_THE_HOST.get((service, method, template), {}).items()}
            statuses = []
            for who in insiders.values():
                r = await w.as_(who, service, method, path, params=params,
                                json={} if method in ("POST", "PUT", "PATCH") else None)
                assert r.status_code < 500, f"{method} {service}{template}: {r.status_code} {r.text}"
                statuses.append(r.status_code)
                if r.status_code not in (401, 403):
                    break
            assert statuses[-1] not in (401, 403), f"nobody may {method} {service}{template}: {statuses}"


@on_the_shared_world
async def test_each_role_sees_and_does_what_is_its_own(shared_world: World) -> None:
    w, i = shared_world, shared_world.ids
    mission, case = f"/missions/{i['mission_id']}", f"/cases/{i['case_id']}"
    # Patient identity: the host's clinicians only.
    assert (await w.ok("host clinician", "scheduling", "GET", case))["patient"]["full_name"] == "Enfant Access"
    for who in ("host coordinator", "visiting coordinator", "surgeon on the team", "administrator"):
        await w.ok(who, "scheduling", "GET", case, 403)
    # The surgeries show a patient reference, and are read by the mission's people.
    for who in ("host coordinator", "visiting coordinator", "host clinician", "surgeon on the team"):
        surgeries = await w.ok(who, "scheduling", "GET", f"{mission}/surgeries")
        assert [s["id"] for s in surgeries] == [i["surgery_id"]]
        assert "patient" not in surgeries[0]
    # A practitioner reads the missions they are on, and only those.
    assert [m["id"] for m in await w.ok("surgeon on the team", "scheduling", "GET", "/missions")] == [i["mission_id"]]
    stranger = await w.as_({"roles": ("practitioner",), "practitioner": str(uuid.uuid4())}, "scheduling", "GET",
                           "/missions")
    assert (stranger.status_code, stranger.json()) == (200, [])
    other = await w.as_({"roles": ("practitioner",), "practitioner": str(uuid.uuid4())}, "scheduling", "GET",
                        mission)
    assert other.status_code == 403
    await w.ok("surgeon on the team", "scheduling", "POST", f"{mission}/cancel", 403, json={"reason": "no"})
    # Funder and supervisor read progress; neither changes the convention; coordinators of parties do.
    progress = f"/conventions/{i['convention_id']}/progress"
    for who in ("funder", "supervisor", "host coordinator", "visiting coordinator"):
        assert (await w.ok(who, "convention", "GET", progress))["convention_id"] == i["convention_id"]
    funder_as_supervisor = {"roles": ("supervisor",), "institution": i["funder"]}
    assert (await w.as_(funder_as_supervisor, "convention", "GET", progress)).status_code == 403
    for who in ("funder", "supervisor"):
        await w.ok(who, "convention", "POST", f"/conventions/{i['convention_id']}/suspend", 403,
                   json={"reason": "x"})
    # Only an administrator registers institutions.
    await w.ok("host coordinator", "convention", "POST", "/institutions", 403,
               json={"name": "Nouvelle clinique", "kind": "clinic", "country": "DZ", "city": "Oran"})
    # A coordinator cannot draft a convention its institution is not party to.
    outsider = {"roles": ("coordinator",), "institution": i["outsider"]}
    r = await w.as_(outsider, "convention", "POST", "/conventions", json={
        "reference": "X-1", "title": "x", "kind": "twinning",
        "parties": [{"institution_id": i["visiting"], "role": "provider"},
                    {"institution_id": i["host"], "role": "beneficiary"}],
        "effective_from": "2030-01-01", "effective_until": "2030-12-31", "specialties": ["x"]})
    assert r.status_code == 403 and "not a party" in r.json()["detail"]
    # Lists hold the caller's own: the outsider's list is empty because it has none, not because it is refused.
    assert (await w.as_(outsider, "convention", "GET", "/conventions")).json()["items"] == []
    assert [c["id"] for c in (await w.ok("funder", "convention", "GET", "/conventions"))["items"]] == \
        [i["convention_id"]]
    # The host's privacy officer reads who saw its patients' identity (the reads above), and only that.
    history = await w.ok("host privacy officer", "scheduling", "GET", f"/institutions/{i['host']}/identity-access")
    assert ("clin-host", "GET /cases/{case_id}") in {(r["subject"], r["action"]) for r in history["items"]}
    await w.ok("host privacy officer", "scheduling", "GET", case, 403)
    await w.ok("host privacy officer", "scheduling", "GET", f"/institutions/{i['host']}/cases", 403)
    await w.ok("host privacy officer", "convention", "GET", "/conventions", 403)
    # Contacts are the keeping institution's: the host's coordinator lists its own, others are refused.
    kept = await w.ok("host coordinator", "notification", "GET", "/contacts")
    assert [c["id"] for c in kept["items"]] == [i["contact_id"]] and kept["items"][0]["managed_by"] == i["host"]
    await w.ok("visiting coordinator", "notification", "GET", f"/contacts/{i['contact_id']}", 403)
    assert (await w.ok("visiting coordinator", "notification", "GET", "/contacts"))["items"] == []
    # The practitioner keeps their own contact.
    await w.ok("surgeon on the team", "notification", "PATCH", f"/contacts/{i['contact_id']}",
               json={"language": "en"})


@on_the_shared_world
async def test_the_audit_trail_says_who_changed_what_and_cannot_be_changed(shared_world: World) -> None:
    w, i = shared_world, shared_world.ids
    page = await w.ok("administrator", "convention", "GET", "/audit", params={"correlation_id": "access-seed"})
    (signed,) = page["items"]
    assert signed["subject"] == "coord-visiting" and signed["institution_id"] == i["visiting"]
    assert signed["roles"] == ["coordinator"]
    assert signed["action"] == "POST /conventions/{convention_id}/sign"
    assert signed["target"] == f"/conventions/{i['convention_id']}/sign"
    assert [e["type"] for e in signed["events"]] == ["ConventionSigned"]
    # Every change of the seed is there, by whom it was made, and nothing that was only read.
    actions = {(e["subject"], e["action"])
               for e in (await w.ok("administrator", "scheduling", "GET", "/audit"))["items"]}
    assert ("clin-host", "POST /institutions/{institution_id}/cases") in actions
    assert ("coord-host", "POST /missions") in actions
    assert not any(a.startswith("GET ") for _, a in actions)
    before = (await w.ok("administrator", "scheduling", "GET", "/audit"))["total"]
    # Refused, or refused by the domain (409): no change, no row.
    await w.ok("host clinician", "scheduling", "POST", f"/missions/{i['mission_id']}/cancel", 403,
               json={"reason": "x"})
    await w.ok("host coordinator", "scheduling", "POST", f"/missions/{i['mission_id']}/complete", 409)
    assert (await w.ok("administrator", "scheduling", "GET", "/audit"))["total"] == before
    # Only administrators read it.
    await w.ok("host coordinator", "scheduling", "GET", "/audit", 403)
    # Append-only, whatever the database.
    runtime = w.clients["convention"].runtime  # type: ignore[attr-defined]
    rows = (await w.ok("administrator", "convention", "GET", "/audit"))["items"]
    for statement in ("UPDATE audit SET subject = 'someone else'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"):
            async with runtime.engine.begin() as conn:
                await conn.execute(text(statement))
    assert (await w.ok("administrator", "convention", "GET", "/audit"))["items"] == rows




# A query parameter that names an institution, whatever the service calls it.
NAMES_AN_INSTITUTION = re.compile(r"institution|party|managed_by|host|visiting")


@on_the_shared_world
async def test_every_list_filter_naming_another_institution_is_refused_not_answered_empty(shared_world: World) -> None:
    w = shared_world
    # The outsider holds every role but the administrator's: only its institution is wrong.
    outsider = {"roles": NOT_A_ROLE_HERE, "institution": w.ids["outsider"], "practitioner": str(uuid.uuid4()),
                "subject": "outsider"}
    tried = []
    for service in MODULES:
        for template, operations in _openapi(service)["paths"].items():
            get = operations.get("get")
            if get is None or "{" in template:
                continue
            for parameter in get.get("parameters", []):
                if parameter["in"] != "query" or not NAMES_AN_INSTITUTION.search(parameter["name"]):
                    continue
                tried.append((service, template, parameter["name"]))
                r = await w.as_(outsider, service, "GET", template, params={parameter["name"]: w.ids["host"]})
                assert r.status_code == 403, f"{service} {template}?{parameter['name']}=<host>: {r.status_code} {r.text}"
                assert "may not" in r.json()["detail"], r.text
    assert ("notification", "/contacts", "institution_id") in tried and len(tried) >= 7, tried
