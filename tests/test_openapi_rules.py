"""The input rules, held on every route of every service's OpenAPI document (README: Input
rules), so that a route added later cannot forget them:

- every string, list and number a request carries (query, path, header, body) has a
  maximum, every number a minimum, and no object takes unbounded extra keys;
- no request model takes NaN or infinity;
- every request body documents an example that its own schema and its model accept;
- every authenticated operation documents the errors it can answer, with the error body's schema.

No server needed: the documents as the services build them.
"""

from __future__ import annotations

import functools
import math
import typing
from collections.abc import Iterator
from typing import Any

import jsonschema
import pydantic
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

import convention.app
import notification.app
import scheduling.app

MODULES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
SERVICES = list(MODULES)
# A string in one of these formats has a bounded length by its grammar.
BOUNDED_FORMATS = {"uuid", "date", "date-time", "time"}
REF = "#/components/schemas/"


@functools.cache
def app_of(service: str) -> FastAPI:
    module = MODULES[service]
    return module.create_app(module.Settings())


def document(service: str) -> dict[str, Any]:
    return app_of(service).openapi()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].removeprefix(REF)]
    return schema


def unbounded(doc: dict[str, Any], schema: dict[str, Any], where: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """What in ``schema`` a request could make as large as it likes."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return [] if name in seen else unbounded(doc, resolve(doc, schema), where, seen | {name})
    found: list[str] = []
    composed = [s for key in ("anyOf", "oneOf", "allOf") for s in schema.get(key, [])]
    for sub in composed:
        found += unbounded(doc, sub, where, seen)
    if "enum" in schema or "const" in schema:
        return found
    kind = schema.get("type")
    if kind is None:
        return found if composed else [*found, f"{where}: any value"]
    for t in kind if isinstance(kind, list) else [kind]:
        if t == "string" and schema.get("format") not in BOUNDED_FORMATS and "maxLength" not in schema:
            found.append(f"{where}: a string without maxLength")
        elif t == "array":
            if "maxItems" not in schema:
                found.append(f"{where}: an array without maxItems")
            found += unbounded(doc, schema.get("items", {}), f"{where}[]", seen)
        elif t in ("integer", "number"):
            if not {"minimum", "exclusiveMinimum"} & schema.keys():
                found.append(f"{where}: {_a(t)} without minimum")
            if not {"maximum", "exclusiveMaximum"} & schema.keys():
                found.append(f"{where}: {_a(t)} without maximum")
        elif t == "object":
            for name, sub in schema.get("properties", {}).items():
                found += unbounded(doc, sub, f"{where}.{name}", seen)
            extra = schema.get("additionalProperties", True)
            if extra is True:
                found.append(f"{where}: an object open to any other key")
            elif extra is not False:
                if "maxProperties" not in schema or "maxLength" not in schema.get("propertyNames", {}):
                    found.append(f"{where}: a map without maxProperties and bounded keys")
                found += unbounded(doc, extra, f"{where}{{}}", seen)
    return found


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_value_has_bounds(service: str) -> None:
    doc = document(service)
    found: list[str] = []
    walked = 0
    for method, path, operation in operations(doc):
        where = f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            walked += 1
            found += unbounded(doc, parameter["schema"], f"{where} {parameter['in']} {parameter['name']}")
        for content in operation.get("requestBody", {}).get("content", {}).values():
            walked += 1
            found += unbounded(doc, content["schema"], f"{where} body")
    assert walked > 10
    assert not found, "\n".join(found)


def test_the_rule_sees_what_it_must() -> None:
    """The walker itself: each kind of unbounded value is caught."""
    doc = {"components": {"schemas": {"M": {"type": "object", "properties": {"x": {"type": "string"}}}}}}
    assert unbounded(doc, {"$ref": f"{REF}M"}, "b") == ["b.x: a string without maxLength",
                                                        "b: an object open to any other key"]
    assert unbounded(doc, {"type": "array", "items": {"type": "integer", "minimum": 0}}, "q") == [
        "q: an array without maxItems", "q[]: an integer without maximum"]
    assert unbounded(doc, {"anyOf": [{"type": "number", "maximum": 1, "minimum": 0}, {"type": "null"}]}, "n") == []
    assert unbounded(doc, {}, "a") == ["a: any value"]
    assert unbounded(doc, {"type": "string", "format": "uuid"}, "u") == []


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers as such
            yield from api_routes(route.original_router.routes)


def body_routes(service: str) -> list[tuple[str, APIRoute, Any]]:
    return [(f"{sorted(r.methods)[0]} {r.path}", r, r.body_field.field_info.annotation)
            for r in api_routes(app_of(service).routes) if r.body_field is not None]


def models_in(annotation: Any) -> Iterator[type[pydantic.BaseModel]]:
    """The pydantic models an annotation holds, nested ones included."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        yield annotation
        for f in annotation.model_fields.values():
            yield from models_in(f.annotation)
    for arg in typing.get_args(annotation):
        yield from models_in(arg)


@pytest.mark.parametrize("service", SERVICES)
def test_no_request_model_takes_nan_or_infinity(service: str) -> None:
    refused = []
    routes = body_routes(service)
    assert routes
    for where, _, annotation in routes:
        for model in models_in(annotation):
            if model.model_config.get("allow_inf_nan", True):
                refused.append(f"{where}: {model.__name__} accepts NaN and infinity")
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("service", SERVICES)
def test_no_request_model_reads_a_number_as_a_date(service: str) -> None:
    # Pydantic's lax mode would read 0.5 as 1970-01-01T00:00:00.5Z; the documents say ISO 8601 text.
    checked = 0
    for where, _, annotation in body_routes(service):
        for model in models_in(annotation):
            for name, f in model.model_fields.items():
                if "date" in repr(f.annotation).lower() or "time" in repr(f.annotation).lower():
                    for number in (0, 0.5, "1717171717"):
                        with pytest.raises(pydantic.ValidationError) as refused:
                            model.model_validate({name: number})
                        assert any(e["loc"] == (name,) and "ISO 8601" in e["msg"] for e in refused.value.errors()), \
                            f"{where}: {model.__name__}.{name} takes {number!r}"
                    checked += 1
    assert checked >= 1


def test_nan_and_infinity_are_refused_by_a_real_body() -> None:
    from scheduling.api.activities import TrainingIn

    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(pydantic.ValidationError, match="finite_number"):
            TrainingIn.model_validate({"topic": "x", "scheduled_at": "2030-06-10T10:00:00Z", "hours": value})


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # OpenAPI 3.1 schemas are JSON Schema 2020-12; refs resolve within the document.
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_has_an_example_it_accepts(service: str) -> None:
    doc = document(service)
    missing = []
    bodies = 0
    for method, path, operation in operations(doc):
        for content in operation.get("requestBody", {}).get("content", {}).values():
            bodies += 1
            schema = content["schema"]
            models = [resolve(doc, s) for s in [schema, *schema.get("anyOf", [])] if "$ref" in s]
            examples = [e for m in models for e in m.get("examples", [])]
            if not examples:
                missing.append(f"{method.upper()} {path}")
            for example in examples:
                errors = [e.message for e in validator(doc, schema).iter_errors(example)]
                assert not errors, f"{method.upper()} {path}: its example breaks its schema: {errors}"
    assert bodies > 3
    assert not missing, "no example: " + ", ".join(missing)
    # And the model the route validates with accepts it (what the schema cannot say, the model can).
    for where, _, annotation in body_routes(service):
        model = next(models_in(annotation))  # the body's own model comes first
        extra = model.model_config.get("json_schema_extra")
        examples = extra.get("examples", []) if isinstance(extra, dict) else []
        assert examples, where
        for example in examples:
            pydantic.TypeAdapter(annotation).validate_python(example)


ALWAYS = {"401", "403", "503"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_documents_the_errors_it_can_answer(service: str) -> None:
    doc = document(service)
    body = doc["components"]["schemas"]["ErrorBody"]
    authenticated = 0
    for method, path, operation in operations(doc):
        if "security" not in operation:
            assert path.startswith("/health"), f"{method} {path} is public"
            continue
        authenticated += 1
        expected = set(ALWAYS)
        has_body = "requestBody" in operation
        if has_body or "{" in path:
            expected.add("404")
        if method in ("post", "put", "patch", "delete"):
            expected |= {"409", "412"}
        if has_body:
            expected |= {"400", "413"}
        if has_body or operation.get("parameters"):
            expected.add("422")
        responses = operation["responses"]
        assert expected <= responses.keys(), f"{method.upper()} {path}: {sorted(expected - responses.keys())}"
        for code in expected:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"{REF}ErrorBody"}, (method, path, code)
            assert responses[code]["description"] not in ("", "Validation Error"), (method, path, code)
        if "404" in responses:
            assert "404" in expected, f"{method.upper()} {path}: a 404 with nothing to look up"
    assert authenticated > 10
    assert "HTTPValidationError" not in repr(doc), "FastAPI's 422 schema left where ours answers"
    # The error body's schema takes what the services answer: a sentence, or FastAPI's and the domain's items.
    check = validator(doc, body)
    for answer in ({"detail": "no convention 5b0c"},
                   {"detail": [{"loc": ["query", "offset"], "msg": "Input should be less than or equal to 1000000",
                                "type": "less_than_equal", "input": "99999999999999999999", "ctx": {"le": 1000000}}]},
                   {"detail": [{"loc": ["body", "parties", 1, "role"], "msg": "unknown", "type": "domain"}]}):
        check.validate(answer)
    with pytest.raises(jsonschema.ValidationError):
        check.validate({"detail": {"message": "an object"}})


def test_the_patch_rule_is_stated_on_every_patch_body() -> None:
    from jumelage.api import PATCH_RULE

    patches = 0
    for service in SERVICES:
        doc = document(service)
        for method, path, operation in operations(doc):
            if method == "patch":
                patches += 1
                schema = resolve(doc, operation["requestBody"]["content"]["application/json"]["schema"])
                assert PATCH_RULE in schema.get("description", ""), path
    assert patches == 5



def test_a_proposed_plan_line_can_be_posted_back_as_is() -> None:
    # Plan lines are refused with unknown fields like every body: every field a proposal
    # shows must be one the apply body knows.
    from scheduling.api.planning import AssignmentIn, ProposedSurgeryOut

    assert set(ProposedSurgeryOut.model_fields) <= set(AssignmentIn.model_fields)
