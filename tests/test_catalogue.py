"""The catalogue a subscriber generates code from: each service's AsyncAPI document
(``jumelage.catalogue``) as a subscribing developer meets it, with the official tools.

- Its keys keep to the specification's rule, each message says its content type and
  carries an example that its payload schema accepts, the dead-letter headers are
  described, and a production server names its security scheme.
- The AsyncAPI project's own CLI (``asyncapi validate``, from the npm registry, pinned in
  tools/package-lock.json and installed by scripts/tools.sh) finds it valid, warnings
  included. A CLI that cannot be had fails the test.
- Python models generated from it (datamodel-code-generator, on the messages' payload
  schemas) import and validate every example and a real event captured off the exchange
  from the convention service, whose ``dataschema`` the service serves.
- ``/docs``, ``/redoc`` and ``/asyncapi`` load their scripts and styles only from the
  service itself, and the service serves each of them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

import convention.app
import notification.app
import scheduling.app
from jumelage.catalogue import KEY
from jumelage.events import CONTENT_TYPE, registry
from jumelage.testkit.client import ActingAs
from jumelage.testkit.servers import Database
from jumelage.testkit.services import running, service_settings
from jumelage.testkit.tap import EventTap, event_tap

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"convention": convention.app, "scheduling": scheduling.app, "notification": notification.app}
ASYNCAPI_CLI = ROOT / "tools" / "node_modules" / ".bin" / "asyncapi"


def _app(name: str) -> Any:
    module = SERVICES[name]
    return module.create_app(module.Settings(public_url=f"http://{name}"))


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    """Each service's catalogue, as /asyncapi.json serves it (built without a broker)."""
    return {name: _app(name).state.runtime.catalogue() for name in SERVICES}


def _validator(document: dict[str, Any], ref: str) -> jsonschema.Draft202012Validator:
    """A validator of the schema at ``ref`` (``#/components/schemas/...``) inside ``document``."""
    return jsonschema.Draft202012Validator({"$ref": ref, "components": document["components"]},
                                           format_checker=jsonschema.FormatChecker())


# -- the document's own rules ---------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_key_keeps_to_the_specification_rule(documents: dict[str, Any], service: str) -> None:
    document = documents[service]
    keyed = {"channels": document["channels"], "operations": document["operations"],
             **{f"components.{k}": v for k, v in document["components"].items()}}
    bad = [f"{where}: {key}" for where, keys in keyed.items() for key in keys if not KEY.match(key)]
    assert not bad, bad
    assert not any("[" in key for key in document["components"]["schemas"])
    # One message per event type the service publishes, its envelope named after it.
    emitted = {cls.event_type for cls in registry.from_source(f"/services/{service}")}
    sent = {op["messages"][0]["$ref"].rsplit("/", 1)[1]
            for op in document["operations"].values() if op["action"] == "send"}
    assert sent == emitted
    for event_type in emitted:
        assert document["components"]["messages"][event_type]["payload"] == {
            "$ref": f"#/components/schemas/{event_type}Event"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_message_says_its_content_type_and_its_examples_fit_its_payload(
    documents: dict[str, Any], service: str,
) -> None:
    document = documents[service]
    for name, message in document["components"]["messages"].items():
        assert message["contentType"] == CONTENT_TYPE, name
        assert message["examples"], name
        if "$ref" not in message["payload"]:  # the dead letter: any body
            continue
        validator = _validator(document, message["payload"]["$ref"])
        for example in message["examples"]:
            errors = [e.message for e in validator.iter_errors(example["payload"])]
            assert not errors, (name, errors)
            assert example["payload"]["type"] == name
            assert example["payload"]["dataschema"].endswith(f"/schemas/{name}.json")
            registry.parse(json.dumps(example["payload"]).encode())  # and our own parser takes it


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_dead_letter_headers_are_described(documents: dict[str, Any], service: str) -> None:
    document = documents[service]
    queue = next(k for k, op in document["operations"].items()
                 if op["action"] == "receive" and not k.endswith(".dlq"))
    dlq = document["channels"][f"{queue}.dlq"]
    assert dlq["address"] == f"{queue}.dlq"
    (reference,) = dlq["messages"].values()
    dead_letter = document["components"]["messages"][reference["$ref"].rsplit("/", 1)[1]]
    headers = dead_letter["headers"]
    assert {"x-error", "x-attempts"} <= set(headers["required"])
    assert headers["properties"]["x-attempts"]["type"] == "integer"
    assert headers["properties"]["x-error"]["type"] == "string"
    jsonschema.validate(dead_letter["examples"][0]["headers"], headers)
    # The queue's own messages name the retry header too (a redelivery carries it).
    for ref in document["channels"][queue]["messages"].values():
        message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
        assert "x-attempts" in message["headers"]["properties"]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_production_server_names_its_security(documents: dict[str, Any], service: str) -> None:
    document = documents[service]
    production = document["servers"]["production"]
    assert production["protocol"] == "amqp" and production["pathname"] == "/jumelage"
    (requirement,) = production["security"]
    scheme = requirement["$ref"].rsplit("/", 1)[1]
    assert document["components"]["securitySchemes"][scheme]["type"] == "userPassword"
    assert all(server["security"] for server in document["servers"].values())


# -- the official validator -------------------------------------------------------------


def _asyncapi_cli() -> Path:
    """The AsyncAPI CLI, installed (pinned) when missing; a failure to install fails the test."""
    result = subprocess.run([str(ROOT / "scripts" / "tools.sh")], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"scripts/tools.sh could not install the AsyncAPI CLI:\n{result.stderr}"
    assert ASYNCAPI_CLI.exists(), f"{ASYNCAPI_CLI} missing after scripts/tools.sh"
    return ASYNCAPI_CLI


@pytest.mark.system
def test_the_asyncapi_cli_finds_every_document_valid(documents: dict[str, Any], tmp_path: Path) -> None:
    cli = _asyncapi_cli()
    analytics = tmp_path / "analytics.json"  # its usage reporting off: nothing leaves the machine
    analytics.write_text(json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "tests"}))
    env = {**os.environ, "ASYNCAPI_METRICS_CONFIG_PATH": str(analytics), "SUPPRESS_NO_CONFIG_WARNING": "1"}
    runs = {}
    for service, document in documents.items():
        path = tmp_path / f"{service}.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        # Side by side (each run is a few seconds of Node start-up); warnings fail too.
        runs[service] = subprocess.Popen([str(cli), "validate", str(path), "--fail-severity=warn"], cwd=tmp_path,
                                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for service, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{service}:\n{output}"
        assert f"{service}.json is valid" in output, output


# -- generated models -------------------------------------------------------------------


def _generate_models(document: dict[str, Any], folder: Path, module: str) -> Any:
    """What a subscriber does: the messages' payload schemas (components.schemas, every
    message's payload among them) through datamodel-codegen into a module, imported."""
    schemas = json.loads(json.dumps(document["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/"))
    payloads = sorted({m["payload"]["$ref"].rsplit("/", 1)[1]
                       for m in document["components"]["messages"].values() if "$ref" in m["payload"]})
    source = folder / f"{module}.json"
    source.write_text(json.dumps({"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Messages",
                                  "anyOf": [{"$ref": f"#/$defs/{p}"} for p in payloads], "$defs": schemas}))
    target = folder / f"{module}.py"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "datamodel-codegen"), "--input", str(source), "--input-file-type",
         "jsonschema", "--output", str(target), "--output-model-type", "pydantic_v2.BaseModel",
         "--target-python-version", "3.11", "--disable-timestamp", "--formatters", "builtin"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    spec = importlib.util.spec_from_file_location(module, target)
    assert spec is not None and spec.loader is not None
    generated = importlib.util.module_from_spec(spec)
    sys.modules[module] = generated  # pydantic resolves the models' forward references through it
    spec.loader.exec_module(generated)  # it imports
    return generated


@pytest.fixture
async def convention_service(amqp_url: str, namespace: str, database: Database
                             ) -> AsyncIterator[tuple[Any, EventTap]]:
    settings = service_settings(convention.app.Settings, amqp_url=amqp_url, namespace=namespace,
                                database=await database.for_service("convention"),
                                public_url="http://convention.test")
    async with event_tap(amqp_url, f"{namespace}jumelage.events") as tap:
        async with running(convention.app.create_app(settings), convention.app.MIGRATIONS,
                           acting_as=ActingAs("administrator")) as client:
            yield client, tap


@pytest.fixture
def namespace(declared_namespace: str) -> str:
    return declared_namespace


@pytest.mark.system
async def test_models_generated_from_the_documents_import_and_validate_real_messages(
    documents: dict[str, Any], tmp_path: Path, convention_service: tuple[Any, EventTap],
) -> None:
    client, tap = convention_service
    # A real event: what the running service published for a registration, off the exchange.
    response = await client.post("/institutions", json={"name": "CMCI Bousmail", "kind": "clinic", "country": "DZ",
                                                        "city": "Bou Ismail", "wilaya": "Tipaza"})
    assert response.status_code == 201, response.text
    await tap.wait_for(lambda bodies: any(b["type"] == "InstitutionRegistered" for b in bodies))
    (captured,) = tap.of_type("InstitutionRegistered")
    assert tap.messages[0].content_type == CONTENT_TYPE

    suffix = re.sub(r"\W", "_", tmp_path.name)  # one module per run: the sqlite and postgresql runs share a process
    generated = {service: await asyncio.to_thread(_generate_models, document, tmp_path, f"{service}_models_{suffix}")
                 for service, document in documents.items()}
    # Every example of every document, through the models generated from it.
    for service, document in documents.items():
        for name, message in document["components"]["messages"].items():
            if "$ref" not in message["payload"]:
                continue
            model = getattr(generated[service], message["payload"]["$ref"].rsplit("/", 1)[1])
            parsed = model.model_validate(message["examples"][0]["payload"])
            assert type(parsed.data).__name__ == name
    # The real one, through the publisher's models and through a subscriber's (scheduling receives it).
    for service in ("convention", "scheduling"):
        event = generated[service].InstitutionRegisteredEvent.model_validate(captured)
        assert str(event.data.institution_id) == response.json()["id"]
        assert event.data.wilaya == "Tipaza"
        with pytest.raises(ValueError):  # and they refuse what the contract refuses
            generated[service].InstitutionRegisteredEvent.model_validate(
                {**captured, "data": {**captured["data"], "country": "Algeria"}})

    # Its dataschema is served by the service that published it, and its data fits it.
    assert captured["dataschema"] == "http://convention.test/schemas/InstitutionRegistered.json"
    served = await client.get("/schemas/InstitutionRegistered.json")
    assert served.status_code == 200 and served.headers["content-type"] == "application/schema+json"
    jsonschema.Draft202012Validator(served.json(), format_checker=jsonschema.FormatChecker()).validate(
        captured["data"])
    envelope = (await client.get("/schemas/InstitutionRegistered.envelope.json")).json()
    jsonschema.validate(captured, envelope)
    assert envelope["title"] == "InstitutionRegisteredEvent"


async def test_each_service_serves_only_its_own_event_schemas() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app("scheduling")), base_url="http://test") as c:
        own = await c.get("/schemas/MissionScheduled.json")
        assert own.status_code == 200
        jsonschema.Draft202012Validator.check_schema(own.json())
        for name in ("InstitutionRegistered.json", "MissionScheduled.yaml", "MissionScheduled.other.json",
                     "Nothing.json"):
            refused = await c.get(f"/schemas/{name}")
            assert refused.status_code == 404, name
            assert "MissionScheduled" in refused.text  # it says what it does serve


# -- the pages, offline -----------------------------------------------------------------


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/asyncapi"])
async def test_the_document_pages_load_their_assets_from_the_service(page: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app("convention")), base_url="http://test") as c:
        response = await c.get(page)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        parser = _References()
        parser.feed(response.text)
        assert parser.urls, "the page loads no script at all?"
        remote = [u for u in parser.urls if not u.startswith("/") or u.startswith("//")]
        assert not remote, f"{page} loads from elsewhere: {remote}"
        assert "https://" not in response.text.replace("https://json-schema.org", ""), page
        assert "default-src 'self'" in response.headers["content-security-policy"]
        for url in parser.urls:
            asset = await c.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, (url, asset.status_code)


@pytest.mark.system
async def test_the_document_pages_render_in_a_browser_with_nothing_from_elsewhere() -> None:
    """Headless chromium (scripts/ensure-browser.sh) with no network: every request goes
    to the service in this process, anything else is counted and refused. Each page
    shows the service's documents, and none asks for anything elsewhere."""
    from jumelage.testkit.browser import chromium

    origin = "http://convention.test"
    elsewhere: list[str] = []
    errors: list[str] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app("convention")), base_url=origin) as c:
        async def serve(route: Any) -> None:
            url = route.request.url
            if not url.startswith(f"{origin}/"):
                elsewhere.append(url)
                await route.abort()
                return
            answer = await c.get(url.removeprefix(origin))
            await route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.content)

        async with chromium() as browser:
            page = await browser.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.route("**/*", serve)
            for path, shown in [("/docs", "/institutions"), ("/redoc", "/institutions"),
                                ("/asyncapi", "sendInstitutionRegistered")]:
                await page.goto(f"{origin}{path}")
                await page.wait_for_function("text => document.body.innerText.includes(text)", arg=shown,
                                             timeout=30_000)
                assert "Jumelage convention" in await page.inner_text("body"), path
    assert not elsewhere, f"the pages asked for {elsewhere}"
    assert not errors, errors
