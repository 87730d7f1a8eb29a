"""The input rules at work, on the three services running together (real broker, SQLite and
PostgreSQL), walked from each service's OpenAPI document so that a route added later is held
to them too (README: Input rules):

- every integer parameter refuses a value out of its bounds, 2**64 included, with a 422 that
  names it, and takes its bounds themselves without a server error;
- every date and instant parameter refuses a number (which pydantic would read as a Unix time);
- every PATCH, every field: ``null`` never makes a 500; it changes nothing, unless the field is
  marked clearable, where it clears the value (or the domain refuses, 4xx);
- every answer of both walks has a documented status and the documented body.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest

import convention.app
import notification.app
import scheduling.app
from jumelage.testkit.client import bearer
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running_services
from jumelage.testkit.waiting import eventually

MODULES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
REF = "#/components/schemas/"


@functools.cache
def document(service: str) -> dict[str, Any]:
    module = MODULES[service]
    return module.create_app(module.Settings()).openapi()


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].removeprefix(REF)]
    return schema


def conforms(service: str, method: str, template: str, response: httpx.Response) -> None:
    """The status is documented for the operation, and the body matches what is documented."""
    doc = document(service)
    where = f"{method} {service}{template}"
    documented = doc["paths"][template][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{where}: undocumented {status}: {response.text[:300]}"
    schema = documented[status].get("content", {}).get("application/json", {}).get("schema")
    if schema is not None and response.content:
        # OpenAPI 3.1 schemas are JSON Schema 2020-12; refs resolve within the document.
        validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())]
        assert not errors, f"{where} {status}: body breaks its schema: {errors[:3]}"


@functools.cache
def _unused(_: str) -> str:
    return str(uuid.uuid4())


class World:
    def __init__(self, clients: dict[str, httpx.AsyncClient]) -> None:
        self.clients = clients
        self.ids: dict[str, str] = {}

    def identities(self) -> list[dict[str, Any]]:
        host, visiting = self.ids.get("host"), self.ids.get("visiting")
        return [{"roles": ("administrator",), "subject": "admin"},
                {"roles": ("coordinator",), "institution": host, "subject": "coord-host"},
                {"roles": ("coordinator",), "institution": visiting, "subject": "coord-visiting"},
                {"roles": ("clinician",), "institution": host, "subject": "clin-host"},
                {"roles": ("privacy_officer",), "institution": host, "subject": "dpo-host"}]

    def path(self, template: str) -> str:
        fill = {**self.ids, "institution_id": self.ids.get("host"), "purpose": "care"}
        return re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1)) or _unused(m.group(1)), template)

    async def call(self, who: dict[str, Any], service: str, method: str, template: str,
                   **kw: Any) -> httpx.Response:
        roles, rest = who["roles"], {k: v for k, v in who.items() if k != "roles"}
        headers = {**bearer(*roles, **rest), **kw.pop("headers", {})}
        response = await self.clients[service].request(method, self.path(template), headers=headers, **kw)
        conforms(service, method, template, response)
        return response

    async def insider(self, service: str, method: str, template: str, **kw: Any) -> tuple[dict[str, Any],
                                                                                         httpx.Response]:
        """The first identity the route lets through, and its answer."""
        for who in self.identities():
            r = await self.call(who, service, method, template, **kw)
            if r.status_code not in (401, 403):
                return who, r
        raise AssertionError(f"nobody may {method} {service}{template}")

    async def created(self, who: int, service: str, path: str, body: dict[str, Any]) -> str:
        r = await self.call(self.identities()[who], service, "POST", path, json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.fixture
async def world(amqp_url: str, declared_namespace: str, database: Database) -> AsyncIterator[World]:
    async with running_services(MODULES, amqp_url=amqp_url, namespace=declared_namespace,
                                database=database) as clients:
        w = World(clients)
        for key, kind in (("host", "clinic"), ("visiting", "hospital_group")):
            w.ids[key] = await w.created(0, "convention", "/institutions", {
                "name": f"{key.title()} {uuid.uuid4().hex[:6]}", "kind": kind, "country": "DZ", "city": "Oran",
                "wilaya": "Oran"})
        yield w


def integer_parameters(service: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for template, item in document(service)["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                for integer in [schema, *schema.get("anyOf", [])]:  # an optional one: integer or null
                    if integer.get("type") == "integer" and parameter["in"] == "query":
                        found.append((method.upper(), template, parameter["name"], integer))
    return found


async def test_every_integer_parameter_refuses_what_is_out_of_its_bounds(world: World) -> None:
    w = world
    walked = 0
    for service in MODULES:
        for method, template, name, schema in integer_parameters(service):
            where = f"{method} {service}{template}?{name}="
            who, _ = await w.insider(service, method, template)
            for beyond in (99999999999999999999, 2**63, -(2**63) - 1):  # past what the databases hold
                r = await w.call(who, service, method, template, params={name: beyond})
                assert r.status_code == 422, f"{where}{beyond}: {r.status_code} {r.text}"
                assert [e["loc"] for e in r.json()["detail"]] == [["query", name]], r.text
            assert {"minimum", "maximum"} <= schema.keys(), f"{where}: no documented bounds"
            low, high = schema["minimum"], schema["maximum"]
            for beyond in (low - 1, high + 1):
                r = await w.call(who, service, method, template, params={name: beyond})
                assert r.status_code == 422, f"{where}{beyond}: {r.status_code} {r.text}"
                assert [e["loc"] for e in r.json()["detail"]] == [["query", name]], r.text
            for bound in (low, high):
                r = await w.call(who, service, method, template, params={name: bound})
                assert r.status_code < 500, f"{where}{bound}: {r.status_code} {r.text}"
            walked += 1
    # limit and offset of every paged list (institutions, conventions, contacts, notifications,
    # reminders, each service's audit), and a waiting list's priority.
    assert walked >= 17


async def test_every_date_parameter_is_iso_text(world: World) -> None:
    # A number where the document says a date or an instant is refused, not read as a Unix time.
    walked = 0
    for service in MODULES:
        for template, item in document(service)["paths"].items():
            for method, operation in item.items():
                for parameter in operation.get("parameters", []):
                    formats = {s.get("format") for s in [parameter["schema"], *parameter["schema"].get("anyOf", [])]}
                    if parameter["in"] != "query" or not formats & {"date", "date-time"}:
                        continue
                    name = parameter["name"]
                    who, _ = await world.insider(service, method.upper(), template)
                    for number in ("0.5", "1717171717", "-1"):
                        r = await world.call(who, service, method.upper(), template, params={name: number})
                        assert r.status_code == 422, f"{method} {service}{template}?{name}={number}: {r.text}"
                        assert [e["loc"] for e in r.json()["detail"]] == [["query", name]], r.text
                    walked += 1
    assert walked >= 7  # since and until of each audit trail, a convention list's active_on


async def test_null_in_a_patch_changes_nothing_unless_the_field_is_clearable(world: World) -> None:
    w, i = world, world.ids
    i["convention_id"] = await w.created(2, "convention", "/conventions", {
        "reference": f"PATCH-{uuid.uuid4().hex[:6]}", "title": "Chirurgie pédiatrique", "kind": "twinning",
        "parties": [{"institution_id": i["visiting"], "role": "provider"},
                    {"institution_id": i["host"], "role": "beneficiary"}],
        "effective_from": "2030-01-01", "effective_until": "2030-12-31", "specialties": ["paediatric surgery"],
        "objectives": {"surgeries": 10, "consultations": 5}})

    async def scheduling_knows_the_host() -> bool:
        r = await w.call(w.identities()[1], "scheduling", "GET", "/institutions/{institution_id}")
        return r.status_code == 200

    await eventually(scheduling_knows_the_host)
    i["room_id"] = await w.created(1, "scheduling", "/institutions/{institution_id}/operating-rooms",
                                   {"name": "Bloc 1", "opens_at": "08:00", "closes_at": "18:00"})
    i["case_id"] = await w.created(3, "scheduling", "/institutions/{institution_id}/cases", {
        "patient": {"full_name": "Enfant Null", "date_of_birth": "2021-02-03", "sex": "female", "weight_kg": 14},
        "diagnosis": "CIV", "planned_procedure": "Fermeture de CIV", "priority": 2,
        "expected_duration_minutes": 180, "risk_scheme": "STAT", "risk_category": 2})
    i["contact_id"] = await w.created(1, "notification", "/contacts", {
        "kind": "practitioner", "practitioner_id": str(uuid.uuid4()), "display_name": "Dr Null",
        "email": "dr.null@example.org", "phone": "+213555123456", "language": "en"})

    patched = 0
    for service in MODULES:
        doc = document(service)
        for template, item in doc["paths"].items():
            if "patch" not in item:
                continue
            body = resolve(doc, item["patch"]["requestBody"]["content"]["application/json"]["schema"])
            who, _ = await w.insider(service, "PATCH", template, json={})
            for field, schema in body["properties"].items():
                nested = [resolve(doc, s) for s in schema.get("anyOf", []) if "$ref" in s]
                inner = [{field: {q: None}} for s in nested if s.get("type") == "object" for q in s["properties"]]
                for change in [{field: None}, *inner]:
                    before = await w.call(who, service, "PATCH", template, json={})
                    assert before.status_code == 200, before.text
                    headers = {"If-Match": before.headers["etag"]} if "etag" in before.headers else {}
                    r = await w.call(who, service, "PATCH", template, json=change, headers=headers)
                    where = f"PATCH {service}{template} {change}"
                    assert r.status_code < 500, f"{where}: {r.status_code} {r.text}"
                    if change[field] is None and schema.get("x-clearable"):
                        assert r.status_code in (200, 422), f"{where}: {r.status_code} {r.text}"
                        if r.status_code == 200:
                            after = r.json()
                            assert after.get(field, after.get(f"{field}_set")) in (None, False), where
                    else:
                        assert r.status_code == 200, f"{where}: {r.status_code} {r.text}"
                        assert r.json() == before.json(), f"{where} changed the record"
                    patched += 1
    assert patched >= 20
    # The clearable ones did clear, and the others held: what the walk leaves is the record minus them.
    contact = (await w.call(w.identities()[1], "notification", "GET", "/contacts/{contact_id}")).json()
    assert (contact["display_name"], contact["email"], contact["language"]) == (None, None, "en")
    assert contact["phone"] == "+213555123456"  # the last address: clearing it was refused
    host = (await w.call(w.identities()[0], "convention", "GET", "/institutions/{institution_id}")).json()
    assert (host["wilaya"], host["city"], host["country"], host["kind"]) == (None, "Oran", "DZ", "clinic")
