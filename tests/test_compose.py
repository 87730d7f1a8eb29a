"""Static checks of the local deployment: docker-compose.yml, deploy/Dockerfile,
the RabbitMQ definitions and the PostgreSQL init script.

No Docker engine is needed: the files are parsed and cross-checked, and the
Compose file is validated against the official Compose Specification schema
(vendored from compose-spec/compose-spec, schema/compose-spec.json).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"

SERVICES = ("convention", "scheduling", "notification")
EXCHANGE = "jumelage.events"
RETRY_TTLS = {"1s": 1000, "5s": 5000, "30s": 30000}
EXPECTED_BINDINGS = {
    "convention.events": {
        "surgery.completed",
        "consultation.held",
        "training_session.held",
        "mission.completed",
    },
    "scheduling.events": {"institution.*", "convention.*"},
    "notification.events": {
        "institution.*",
        "convention.*",
        "mission.*",
        "surgery.*",
        "consultation.*",
        "training_session.*",
    },
}


# --------------------------------------------------------------- loading ---


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def definitions() -> dict:
    return json.loads(DEFINITIONS.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def app_services(compose: dict) -> dict[str, dict]:
    """Compose services built from deploy/Dockerfile."""
    apps = {}
    for name, service in compose["services"].items():
        build = service.get("build")
        if isinstance(build, dict) and _same_path(build.get("dockerfile", "Dockerfile"), build.get("context", "."), DOCKERFILE):
            apps[name] = service
    return apps


def _same_path(dockerfile: str, context: str, expected: Path) -> bool:
    context_dir = (ROOT / context).resolve()
    return (context_dir / dockerfile).resolve() == expected.resolve()


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        env = {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _database_names_in_init_script() -> set[str]:
    text = INIT_DATABASES.read_text(encoding="utf-8")
    assert "CREATE DATABASE" in text
    loops = re.findall(r"^\s*for\s+\w+\s+in\s+([^;\n]+?)\s*;\s*do\b", text, re.MULTILINE)
    assert loops, "init-databases.sh should loop over the database names"
    return {name for loop in loops for name in shlex.split(loop)}


def _rabbit_sha256_matches(password_hash: str, password: str) -> bool:
    raw = base64.b64decode(password_hash)
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode("utf-8")).digest() == digest


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = pending + stripped
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends with a line continuation"
    return instructions


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    froms = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert froms, "Dockerfile has no FROM"
    return instructions[froms[-1]:]


# --------------------------------------------------------------- compose ---


def test_compose_file_is_valid_against_the_compose_specification(compose: dict) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_three_services_are_built_from_the_shared_dockerfile(app_services: dict) -> None:
    assert set(app_services) == set(SERVICES)
    for name, service in app_services.items():
        args = service["build"].get("args") or {}
        if isinstance(args, list):
            args = dict(item.split("=", 1) for item in args)
        assert args.get("SERVICE") == name, f"{name}: build arg SERVICE should be {name!r}"
        assert (ROOT / "services" / name).is_dir(), f"services/{name} does not exist"


def test_infrastructure_services_are_present(compose: dict) -> None:
    services = compose["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:4.1-management")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_app_services_reach_the_broker_as_their_own_user(compose: dict, app_services: dict, definitions: dict) -> None:
    users = {user["name"]: user for user in definitions["users"]}
    for name, service in app_services.items():
        env = _environment(service)
        assert "AMQP_URL" in env, f"{name}: no AMQP_URL"
        url = urlsplit(env["AMQP_URL"])
        assert url.scheme in {"amqp", "amqps"}
        assert url.hostname in compose["services"], f"{name}: AMQP host {url.hostname!r} is not a compose service"
        assert url.username == name, f"{name}: should connect as its own broker user"
        assert url.username in users, f"{name}: user {url.username!r} is not in definitions.json"
        password = unquote(url.password or "")
        assert _rabbit_sha256_matches(users[url.username]["password_hash"], password), (
            f"{name}: AMQP_URL password does not match the hash in definitions.json"
        )


def test_app_services_use_their_own_database(compose: dict, app_services: dict) -> None:
    created = _database_names_in_init_script()
    for name, service in app_services.items():
        env = _environment(service)
        assert "DATABASE_URL" in env, f"{name}: no DATABASE_URL"
        url = urlsplit(env["DATABASE_URL"])
        assert url.scheme.split("+")[0] in {"postgresql", "postgres"}
        assert url.hostname in compose["services"], f"{name}: database host {url.hostname!r} is not a compose service"
        database = url.path.lstrip("/")
        assert database in created, f"{name}: database {database!r} is not created by init-databases.sh"
        assert database == name and url.username == name, f"{name}: should use its own database and role"
        assert url.password == name, "init-databases.sh sets each role's password to its name"


def test_app_services_log_json_and_notification_has_smtp(app_services: dict) -> None:
    for name, service in app_services.items():
        assert _environment(service).get("LOG_FORMAT") == "json", name
    env = _environment(app_services["notification"])
    assert env.get("SMTP_HOST") == "mailpit"
    assert env.get("SMTP_PORT") == "1025"


def test_app_services_wait_for_a_healthy_broker_and_database(compose: dict, app_services: dict) -> None:
    for name, service in app_services.items():
        depends_on = service.get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency in ("rabbitmq", "postgres"):
            assert depends_on.get(dependency, {}).get("condition") == "service_healthy", (
                f"{name} should wait for {dependency} to be healthy"
            )
        for dependency, spec in depends_on.items():
            assert dependency in compose["services"], f"{name}: depends on unknown {dependency!r}"
            if spec.get("condition") == "service_healthy":
                assert compose["services"][dependency].get("healthcheck"), (
                    f"{dependency} is waited on as healthy but has no healthcheck"
                )


def test_app_services_have_a_healthcheck_and_publish_port_8000(app_services: dict) -> None:
    published = {}
    for name, service in app_services.items():
        healthcheck = service.get("healthcheck") or {}
        test = healthcheck.get("test")
        assert test and not healthcheck.get("disable"), f"{name}: no healthcheck"
        command = test if isinstance(test, str) else " ".join(test)
        assert "/health/ready" in command, f"{name}: healthcheck should probe /health/ready"
        ports = service.get("ports") or []
        targets = [str(port).rsplit(":", 1) for port in ports]
        assert any(target == "8000" for _, target in targets), f"{name}: container port 8000 not published"
        for host, _ in targets:
            published.setdefault(host, []).append(name)
    clashes = {port: names for port, names in published.items() if len(names) > 1}
    assert not clashes, f"host ports used twice: {clashes}"


def test_bind_mounted_files_exist(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = volume if isinstance(volume, str) else volume.get("source", "")
            source = source.split(":", 1)[0] if isinstance(volume, str) else source
            if source.startswith((".", "/")):
                assert (ROOT / source).resolve().exists(), f"{name}: {source} does not exist"
            elif source:
                assert source in (compose.get("volumes") or {}), f"{name}: named volume {source!r} is not declared"


# ------------------------------------------------------------ rabbitmq ---


def test_definitions_declare_the_exchange(definitions: dict) -> None:
    exchanges = {exchange["name"]: exchange for exchange in definitions["exchanges"]}
    exchange = exchanges[EXCHANGE]
    assert exchange["type"] == "topic"
    assert exchange["durable"] is True
    assert exchange["vhost"] == "/"
    assert {"name": "/"} in [{"name": vhost["name"]} for vhost in definitions["vhosts"]]


def test_every_queue_is_durable_and_quorum(definitions: dict) -> None:
    assert definitions["queues"]
    for queue in definitions["queues"]:
        assert queue["durable"] is True, queue["name"]
        assert queue.get("auto_delete") is False, queue["name"]
        assert queue["arguments"].get("x-queue-type") == "quorum", queue["name"]


def test_main_queues_have_dead_letter_and_retry_queues(definitions: dict) -> None:
    queues = {queue["name"]: queue for queue in definitions["queues"]}
    for service in SERVICES:
        main = f"{service}.events"
        assert main in queues, f"{main} not declared"
        args = queues[main]["arguments"]
        assert args.get("x-dead-letter-exchange") == ""
        assert args.get("x-dead-letter-routing-key") == f"{main}.dlq"
        assert args.get("x-delivery-limit") == 20
        assert f"{main}.dlq" in queues, f"{main}.dlq not declared"
        for suffix, ttl in RETRY_TTLS.items():
            retry = queues.get(f"{main}.retry.{suffix}")
            assert retry, f"{main}.retry.{suffix} not declared"
            assert retry["arguments"] == {
                "x-queue-type": "quorum",
                "x-message-ttl": ttl,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": main,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            }
    # every dead-letter route leads to a declared queue
    for queue in queues.values():
        target = queue["arguments"].get("x-dead-letter-routing-key")
        if target is not None:
            assert target in queues, f"{queue['name']} dead-letters to undeclared {target!r}"


def test_bindings_come_from_the_exchange_to_declared_queues(definitions: dict) -> None:
    queues = {queue["name"] for queue in definitions["queues"]}
    seen: dict[str, set[str]] = {}
    for binding in definitions["bindings"]:
        assert binding["source"] == EXCHANGE
        assert binding["destination_type"] == "queue"
        assert binding["destination"] in queues, binding["destination"]
        seen.setdefault(binding["destination"], set()).add(binding["routing_key"])
    assert seen == EXPECTED_BINDINGS


def test_users_have_sha256_hashes_and_admin_is_an_administrator(definitions: dict) -> None:
    users = {user["name"]: user for user in definitions["users"]}
    assert set(users) >= {"admin", *SERVICES}
    for user in users.values():
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        assert "password" not in user
    assert "administrator" in users["admin"]["tags"]
    assert _rabbit_sha256_matches(users["admin"]["password_hash"], "admin")
    for service in SERVICES:
        assert users[service]["tags"] in ([], ""), f"{service} should have no management tags"


def test_each_service_user_has_narrow_permissions(definitions: dict) -> None:
    permissions = {(p["user"], p["vhost"]): p for p in definitions["permissions"]}
    queues = {queue["name"] for queue in definitions["queues"]}
    for service in SERVICES:
        perm = permissions.get((service, "/"))
        assert perm, f"{service} has no permissions on vhost /"
        own = {q for q in queues if q.startswith(f"{service}.")}
        others = queues - own
        assert own
        for kind in ("configure", "write", "read"):
            pattern = re.compile(perm[kind])
            for queue in own:
                assert pattern.search(queue), f"{service}: {kind} should allow {queue}"
            for queue in others:
                assert not pattern.search(queue), f"{service}: {kind} should not allow {queue}"
            assert not pattern.search("amq.rabbitmq.trace") and not pattern.search("some.other.exchange")
        assert re.search(perm["configure"], EXCHANGE)
        assert re.search(perm["write"], EXCHANGE)
        assert re.search(perm["write"], "amq.default"), f"{service}: retries go through the default exchange"
        assert re.search(perm["read"], EXCHANGE), f"{service}: queue.bind needs read on the exchange"


# ------------------------------------------------------------ dockerfile ---


def test_dockerfile_final_stage_runs_as_non_root_with_healthcheck() -> None:
    instructions = _dockerfile_instructions()
    final = _final_stage(instructions)
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "final stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0", ""}, f"runs as {users[-1]!r}"
    healthchecks = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert healthchecks and "NONE" not in healthchecks[-1].upper().split()
    assert "/health/live" in healthchecks[-1]
    exposed = {port.split("/")[0] for keyword, args in final if keyword == "EXPOSE" for port in args.split()}
    assert "8000" in exposed
    assert any(keyword == "CMD" and "serve" in args for keyword, args in final)
    assert any(keyword == "ARG" and args.split("=")[0] == "SERVICE" for keyword, args in instructions)
