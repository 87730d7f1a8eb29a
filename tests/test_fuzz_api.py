"""A bounded fuzz run: Schemathesis against each service's OpenAPI over real HTTP.

The three services run as real processes (SQLite in a temporary folder, the real
broker under a namespace of this module's own), with a little data registered
first so that path ids sometimes name real records. Each service's operations
are fuzzed twice, as an administrator and as a coordinator of a registered
institution, with a fixed number of examples per operation, derandomised so a
run is repeatable. Every response is held to three checks:

- no 5xx (``not_a_server_error``);
- the body matches the documented schema (``response_schema_conformance``);
- the status is one the operation documents (``status_code_conformance``).

Every failure is collected (no stop at the first, no shrinking) and reported
together, by kind, with the request that shows it.

    .venv/bin/pytest tests/test_fuzz_api.py -q          # the fuzz run alone
    FUZZ_EXAMPLES=50 .venv/bin/pytest tests/test_fuzz_api.py -q -s   # more examples, the figures printed
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, MalformedJson, ServerError
from schemathesis.openapi.checks import JsonSchemaError, UndefinedStatusCode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from jumelage.testkit.client import TEST_AUTH_SECRET, TEST_IDENTITY_ENV, token
from jumelage.testkit.ports import free_port
from jumelage.testkit.servers import delete_namespace
from jumelage.testkit.waiting import scaled, wait_until

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("convention", "scheduling", "notification")
# Examples per operation and identity: the module takes about 45 s, 2 min beside a CPU hog on both cores.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]

pytestmark = [pytest.mark.fuzz, pytest.mark.system]


@dataclass
class Service:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start(name: str, env: dict[str, str], data_dir: Path) -> Service:
    port = free_port()
    log = data_dir / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", name, "serve"], cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env={**env, "HTTP_PORT": str(port), "MIGRATE_ON_START": "true"},
    )
    return Service(name, port, proc, log)


def ready(service: Service) -> bool:
    assert service.proc.poll() is None, f"{service.name} exited:\n{service.tail()}"
    try:
        return httpx.get(f"{service.url}/health/ready", timeout=scaled(5)).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class World:
    services: dict[str, Service]
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, service: str, method: str, path: str, status: int, json: Any = None, *,
             as_coordinator_of: str | None = None) -> Any:
        bearer = (token("coordinator", institution=self.ids[as_coordinator_of], subject="fuzz-seed")
                  if as_coordinator_of else token("administrator", subject="fuzz-seed"))
        r = httpx.request(method, f"{self.services[service].url}{path}", json=json, timeout=scaled(30),
                          headers={"Authorization": f"Bearer {bearer}"})
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()


@pytest.fixture(scope="module")
def world(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    namespace = f"fz{uuid.uuid4().hex[:10]}."
    env = {**os.environ, "AMQP_URL": amqp_url, "TOPOLOGY_NAMESPACE": namespace, "DATA_DIR": str(data_dir),
           "AUTH_SECRET": TEST_AUTH_SECRET, **TEST_IDENTITY_ENV, "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
           "RETRY_DELAYS": "0.1,0.2",  # the retry queues delete_namespace removes
           "SMTP_PORT": str(free_port())}  # nothing listens: deliveries fail, which the API does not show
    for name in ("DATABASE_URL", "DATABASE_SCHEMA"):
        env.pop(name, None)  # SQLite at DATA_DIR/<service>.db, one per service
    services = {name: start(name, env, data_dir) for name in SERVICES}
    try:
        for service in services.values():
            wait_until(lambda s=service: ready(s), timeout=scaled(60), what=f"{service.name} ready")
        world = World(services)
        seed(world)
        yield world
    finally:
        for service in services.values():
            service.proc.terminate()
        for service in services.values():
            try:
                service.proc.wait(timeout=scaled(20))
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()
        asyncio.run(delete_namespace(amqp_url, namespace))


def seed(world: World) -> None:
    """Three institutions, a signed convention between them, a mission under it: known to every service."""
    ids = world.ids
    today = datetime.now(UTC).date()  # the services run on the real clock
    for key, kind in (("provider", "hospital_group"), ("beneficiary", "clinic"), ("funder", "insurer")):
        ids[key] = world.call("convention", "POST", "/institutions", 201, json={
            "name": f"Fuzz {key}", "kind": kind, "country": "DZ", "city": "Alger"})["id"]
    convention = world.call("convention", "POST", "/conventions", 201, json={
        "reference": "FUZZ-01", "title": "Chirurgie cardiaque pédiatrique", "kind": "international_cooperation",
        "parties": [{"institution_id": ids["provider"], "role": "provider"},
                    {"institution_id": ids["beneficiary"], "role": "beneficiary"},
                    {"institution_id": ids["funder"], "role": "funder"}],
        "effective_from": today.isoformat(), "effective_until": (today + timedelta(days=730)).isoformat(),
        "specialties": ["paediatric cardiac surgery"],
        "objectives": {"surgeries": 10, "consultations": 30, "training_sessions": 2},
        "cost_bearers": [{"institution_id": ids["funder"], "covers": "missions"}],
    }, as_coordinator_of="provider")
    ids["convention"] = convention["id"]
    world.call("convention", "POST", f"/conventions/{convention['id']}/sign", 200,
               json={"signed_on": today.isoformat(), "signed_at": "Alger"}, as_coordinator_of="provider")

    def known(service: str, path: str) -> bool:
        r = httpx.get(f"{world.services[service].url}{path}", timeout=scaled(30),
                      headers={"Authorization": f"Bearer {token('administrator', subject='fuzz-seed')}"})
        return r.status_code == 200

    for service in ("scheduling", "notification"):
        wait_until(lambda s=service: known(s, f"/institutions/{ids['funder']}"), timeout=scaled(60),
                   what=f"{service} knows the institutions")
    wait_until(lambda: known("scheduling", f"/conventions/{ids['convention']}"), timeout=scaled(60),
               what="scheduling knows the convention")
    ids["mission"] = world.call("scheduling", "POST", "/missions", 201, json={
        "convention_id": ids["convention"], "host_institution_id": ids["beneficiary"],
        "visiting_institution_id": ids["provider"], "specialty": "paediatric cardiac surgery",
        "starts_on": (today + timedelta(days=180)).isoformat(), "ends_on": (today + timedelta(days=184)).isoformat(),
        "team": [{"practitioner_id": str(uuid.uuid4()), "full_name": "Marco Bellini", "role": "surgeon"}],
    }, as_coordinator_of="beneficiary")["id"]


IDENTITIES = {
    "administrator": lambda ids: token("administrator", subject="fuzz-admin"),
    "coordinator": lambda ids: token("coordinator", institution=ids["beneficiary"], subject="fuzz-coordinator"),
}


def known_path_parameters(operation: schemathesis.APIOperation, ids: dict[str, str]) -> dict[str, str] | None:
    """The seeded records' ids for the operation's path parameters, where their names say which."""
    by_name = {"institution_id": ids["beneficiary"], "convention_id": ids["convention"],
               "mission_id": ids["mission"]}
    names = [p.name for p in operation.path_parameters]
    known = {n: by_name[n] for n in names if n in by_name}
    return known or None


@dataclass(frozen=True)
class Finding:
    kind: str  # "5xx", "schema mismatch", "undocumented status" or "no answer"
    operation: str
    status: int | None
    what: str


@dataclass
class Figures:
    operations: int = 0
    examples: int = 0
    failing_examples: int = 0  # an example may fail several checks (a 500 is also undocumented)
    failures: list[Finding] = field(default_factory=list)

    def add(self, kind: str, operation: str, case: schemathesis.Case, failure: BaseException,
            response: Any = None) -> None:
        status = getattr(response, "status_code", None)
        self.failures.append(Finding(kind, operation, status, _describe(case, failure, response)))

    def report(self, title: str) -> str:
        by_kind = Counter(f.kind for f in self.failures)
        statuses = Counter(f.status for f in self.failures if f.kind == "undocumented status")
        lines = [f"{title}: {self.operations} operations, {self.examples} examples, "
                 f"{self.failing_examples} failing, {len(self.failures)} failures {dict(by_kind)}"
                 + (f"; undocumented statuses {dict(sorted(statuses.items()))}" if statuses else "")]
        seen: set[tuple[str, str]] = set()
        for f in self.failures:
            if (f.kind, f.operation) not in seen:  # one example per operation and kind
                seen.add((f.kind, f.operation))
                lines.append(f"  [{f.kind}] {f.operation}: {f.what}")
        return "\n".join(lines)


# The examples of each operation, generated once per module and sent as each identity: the
# same requests either way (Hypothesis, derandomised, draws the same examples for the same
# strategy), and generating them is most of the run's time (about 40 s of the 50 s per identity).
_EXAMPLES: dict[tuple[str, str], list[schemathesis.Case]] = {}


def examples(service: Service, operation: schemathesis.APIOperation, ids: dict[str, str]) -> list[schemathesis.Case]:
    """``EXAMPLES`` examples of ``operation``, positive and negative data (and with the seeded
    records' ids in its path, where it names them), derandomised: the same on every run."""
    key = (service.name, operation.label)
    if key not in _EXAMPLES:
        strategies = [operation.as_strategy(mode) for mode in schemathesis.GenerationMode]
        known = known_path_parameters(operation, ids)
        if known:
            strategies.append(operation.as_strategy(path_parameters=known))
        drawn: list[schemathesis.Case] = []

        @given(case=st.one_of(strategies))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def one(case: schemathesis.Case) -> None:
            drawn.append(case)

        one()
        _EXAMPLES[key] = drawn
    return _EXAMPLES[key]


def fuzz(service: Service, identity: str, ids: dict[str, str]) -> Figures:
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", timeout=scaled(30))
    # Liveness and readiness answer on timing and the broker, not on input: nothing to fuzz there.
    schema = schema.exclude(path_regex=r"^/health/")
    figures = Figures()
    headers = {"Authorization": f"Bearer {IDENTITIES[identity](ids)}"}
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        figures.operations += 1
        for case in examples(service, operation, ids):
            before = len(figures.failures)
            exercise(case, service.url, session, headers, figures)
            figures.examples += 1
            figures.failing_examples += len(figures.failures) > before
    session.close()
    return figures


def exercise(case: schemathesis.Case, base_url: str, session: requests.Session, headers: dict[str, str],
             figures: Figures) -> None:
    """Send the case; hold the answer to the three checks, keeping every failure."""
    label = case.operation.label
    try:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=scaled(30))
    except requests.ConnectionError as error:  # no answer at all: worse than a 5xx
        figures.add("no answer", label, case, error)
        return
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            figures.add(_kind(failure), label, case, failure, response)
    except AssertionError as failure:  # one failed check is raised alone
        figures.add(_kind(failure), label, case, failure, response)


def _kind(failure: BaseException) -> str:
    if isinstance(failure, ServerError):
        return "5xx"
    if isinstance(failure, (JsonSchemaError, MalformedJson)):
        return "schema mismatch"
    if isinstance(failure, UndefinedStatusCode):
        return "undocumented status"
    return type(failure).__name__


def _describe(case: schemathesis.Case, failure: BaseException, response: Any = None) -> str:
    message = " ".join(f"{getattr(failure, 'title', '')} {getattr(failure, 'message', failure)}".split())
    if response is not None:
        message += f" [{response.text[:160]!r}]"
    request = f"{case.method} {case.formatted_path}"
    if case.query:
        request += f" ?{case.query}"
    generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if generated:  # the Authorization header sent is the identity's token, unless the case leaves it out
        request += f" headers={generated}"
    if isinstance(case.body, (dict, list, str, int, float)):
        request += f" body={str(case.body)[:160]}"
    return f"{message[:400]} <- {request}"


@pytest.mark.parametrize("identity", list(IDENTITIES))
@pytest.mark.parametrize("name", SERVICES)
def test_fuzzed_requests_get_documented_answers(world: World, name: str, identity: str) -> None:
    started = time.monotonic()
    figures = fuzz(world.services[name], identity, world.ids)
    report = figures.report(f"{name} as {identity} ({time.monotonic() - started:.0f} s)")
    print(report)
    assert figures.operations > 0 and figures.examples >= figures.operations
    assert not figures.failures, report
