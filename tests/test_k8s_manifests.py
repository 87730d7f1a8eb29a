"""Static checks of the Kubernetes manifests in deploy/k8s (no cluster needed).

Every manifest parses; the kustomization lists every file; each Deployment has
its probes on the health paths, runs non-root with a read-only root filesystem,
has at least two replicas, and names only environment variables and secret
files that are fields of its service's ``Settings``; each Service selects its
Deployment's pods and targets its container port. The web app is one of them,
without a database, reaching the three services through their Services.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("convention", "scheduling", "notification")
WEB = "web"  # the web app: no database, its own broker user, the identity provider's client
APPS = (*SERVICES, WEB)
SECRETS_DIR = "/run/secrets/jumelage"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"

# Environment variables that are not settings fields but are read by the
# settings machinery itself (jumelage.settings: secrets_dir=os.environ["SECRETS_DIR"]).
NOT_FIELDS = {"SECRETS_DIR"}


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _load_all() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in _manifest_files():
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None)
    return docs


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return _load_all()


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def _settings_fields(service: str) -> set[str]:
    settings = importlib.import_module(f"{service}.app").Settings
    return set(settings.model_fields)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# ------------------------------------------------------------------- files ---


def test_manifests_exist() -> None:
    assert (K8S / "kustomization.yaml").is_file()
    assert (K8S / "README.md").is_file()
    assert _manifest_files()


@pytest.mark.parametrize("path", _manifest_files() + [K8S / "kustomization.yaml"], ids=lambda p: p.name)
def test_every_manifest_parses(path: Path) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert docs, f"{path.name} is empty"
    for doc in docs:
        assert isinstance(doc, dict)
        assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: apiVersion and kind required"
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"]


def test_kustomization_lists_every_file() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert set(listed) == {p.name for p in _manifest_files()}
    assert kustomization["namespace"] == "jumelage"


def test_namespace(objects: list[dict[str, Any]]) -> None:
    _find(objects, "Namespace", "jumelage")
    for obj in objects:
        # kustomize sets the namespace; a different one written by hand would be a mistake
        assert obj["metadata"].get("namespace", "jumelage") == "jumelage"


def test_common_configmap(objects: list[dict[str, Any]]) -> None:
    data = _find(objects, "ConfigMap", "jumelage-config")["data"]
    assert data["LOG_FORMAT"] == "json"
    assert data["HTTP_HOST"] == "0.0.0.0"
    assert data["HTTP_PORT"] == "8000"
    assert data["DECLARE_TOPOLOGY"] == "own"
    assert data["QUEUE_TYPE"] == "quorum"
    assert data["TIMEZONE"] == "Africa/Algiers"
    assert data["SECRETS_DIR"] == SECRETS_DIR
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"


# ------------------------------------------------------------- deployments ---


@pytest.mark.parametrize("service", APPS)
def test_deployment_shape(objects: list[dict[str, Any]], service: str) -> None:
    dep = _find(objects, "Deployment", service)
    # The autoscaler owns the count (an apply would reset a replicas field): two at least.
    assert "replicas" not in dep["spec"]
    assert _find(objects, "HorizontalPodAutoscaler", service)["spec"]["minReplicas"] >= 2
    pod = dep["spec"]["template"]
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    c = _container(dep)
    # The service's release, never a floating :latest that changes under a running Deployment.
    version = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())["project"]["version"]
    assert c["image"] == f"jumelage-{service}:{version}"
    assert {"requests", "limits"} <= set(c["resources"])
    for part in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][part])


@pytest.mark.parametrize("service", APPS)
def test_probes_on_health_paths(objects: list[dict[str, Any]], service: str) -> None:
    c = _container(_find(objects, "Deployment", service))
    port_names = {p["name"]: p["containerPort"] for p in c["ports"]}

    def probe(kind: str) -> dict[str, Any]:
        get = c[kind]["httpGet"]
        port = get["port"]
        assert (port_names.get(port) if isinstance(port, str) else port) == 8000, f"{kind} port"
        return get

    assert probe("livenessProbe")["path"] == "/health/live"
    assert probe("readinessProbe")["path"] == "/health/ready"
    assert probe("startupProbe")["path"] in {"/health/live", "/health/ready"}


@pytest.mark.parametrize("service", APPS)
def test_security_context(objects: list[dict[str, Any]], service: str) -> None:
    dep = _find(objects, "Deployment", service)
    pod_spec = dep["spec"]["template"]["spec"]
    c = _container(dep)
    pod_sc = pod_spec.get("securityContext", {})
    sc = {**pod_sc, **c.get("securityContext", {})}  # the container's wins
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] == 10001
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert not sc["capabilities"].get("add")
    # a read-only root needs somewhere to write
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    # (the web app has no SQLite fallback: no database at all, so no /app/data)
    for path in ("/tmp",) if service == WEB else ("/tmp", "/app/data"):
        assert path in mounts, f"{path} not mounted"
        assert "emptyDir" in volumes[mounts[path]]


@pytest.mark.parametrize("service", APPS)
def test_env_names_are_settings_fields(objects: list[dict[str, Any]], service: str) -> None:
    fields = _settings_fields(service)
    c = _container(_find(objects, "Deployment", service))
    names: set[str] = {e["name"] for e in c.get("env", [])}
    for source in c.get("envFrom", []):
        assert "configMapRef" in source, "secrets are mounted as files, not put in the environment"
        names |= set(_find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    assert {"LOG_FORMAT", "HTTP_HOST", "HTTP_PORT", "DECLARE_TOPOLOGY", "QUEUE_TYPE", "TIMEZONE",
            "MIGRATE_ON_START", "SECRETS_DIR"} <= names
    unknown = {n for n in names - NOT_FIELDS if n.lower() not in fields}
    assert not unknown, f"{service}: not a Settings field: {sorted(unknown)}"
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    # No replica migrates: the service's Job does (the web app owns no database at all).
    assert env["MIGRATE_ON_START"] == "false"
    if service != WEB:  # the base of its events' dataschema: its own Service
        assert urlsplit(env["PUBLIC_URL"]).hostname == _find(objects, "Service", service)["metadata"]["name"]


@pytest.mark.parametrize("service", APPS)
def test_secrets_mounted_as_setting_files(objects: list[dict[str, Any]], service: str) -> None:
    fields = _settings_fields(service)
    dep = _find(objects, "Deployment", service)
    pod_spec = dep["spec"]["template"]["spec"]
    c = _container(dep)
    secret_volumes = {v["name"]: v["secret"] for v in pod_spec["volumes"] if "secret" in v}
    mounted = [m for m in c["volumeMounts"] if m["name"] in secret_volumes]
    assert [m["mountPath"] for m in mounted] == [SECRETS_DIR]
    assert mounted[0].get("readOnly") is True
    volume = secret_volumes[mounted[0]["name"]]
    secret = _find(objects, "Secret", volume["secretName"])
    # example manifests: readable placeholders, never base64 blobs of real values
    assert "stringData" in secret and "data" not in secret
    keys = set(secret["stringData"])
    if volume.get("items"):
        keys = {item["path"] for item in volume["items"]}
    if service == WEB:
        assert {"amqp_url", "session_secret", "oidc_client_secret"} <= keys and "database_url" not in keys
    else:
        assert {"amqp_url", "database_url"} <= keys
    unknown = keys - fields
    assert not unknown, f"{service}: secret files that are not Settings fields: {sorted(unknown)}"
    for key in keys:
        assert key == key.lower(), "pydantic-settings matches the file name to the field name"
    assert "CHANGE-ME" in secret["stringData"]["amqp_url"]
    assert secret["stringData"]["amqp_url"].startswith(f"amqp://{service}:")


# ---------------------------------------------------------- service and PDB ---


@pytest.mark.parametrize("service", APPS)
def test_service_targets_the_pods(objects: list[dict[str, Any]], service: str) -> None:
    dep = _find(objects, "Deployment", service)
    svc = _find(objects, "Service", service)
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    c = _container(dep)
    [port] = svc["spec"]["ports"]
    assert port["port"] == 80
    target = port["targetPort"]
    container_ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if isinstance(target, str):
        assert target in container_ports
        target = container_ports[target]
    assert target == 8000 and 8000 in container_ports.values()


@pytest.mark.parametrize("service", APPS)
def test_pod_disruption_budget(objects: list[dict[str, Any]], service: str) -> None:
    dep = _find(objects, "Deployment", service)
    pdb = _find(objects, "PodDisruptionBudget", service)
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["minAvailable"] < _find(objects, "HorizontalPodAutoscaler", service)["spec"]["minReplicas"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("service", APPS)
def test_services_reach_the_broker_in_the_definitions_vhost_as_their_own_user(
    objects: list[dict[str, Any]], service: str
) -> None:
    definitions = json.loads(DEFINITIONS.read_text(encoding="utf-8"))
    (vhost,) = [v["name"] for v in definitions["vhosts"]]
    url = urlsplit(_find(objects, "Secret", f"{service}-secrets")["stringData"]["amqp_url"])
    assert url.path == f"/{vhost}", f"{service}: amqp_url should name the vhost {vhost!r}, not {url.path!r}"
    assert url.username == service
    assert {"user": service, "vhost": vhost} in [{"user": p["user"], "vhost": p["vhost"]}
                                                  for p in definitions["permissions"]]


# ----------------------------------------------------------------- web app ---


def _web_config(objects: list[dict[str, Any]]) -> dict[str, str]:
    c = _container(_find(objects, "Deployment", WEB))
    config: dict[str, str] = {}
    for source in c.get("envFrom", []):
        config |= _find(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
    return config | {e["name"]: e["value"] for e in c.get("env", [])}


def test_the_web_app_reaches_each_service_through_its_service(objects: list[dict[str, Any]]) -> None:
    config = _web_config(objects)
    for service in SERVICES:
        url = urlsplit(config[f"{service.upper()}_URL"])
        svc = _find(objects, "Service", url.hostname.split(".")[0])
        assert svc["metadata"]["name"] == service
        [port] = svc["spec"]["ports"]
        assert (url.port or 80) == port["port"] and url.scheme == "http", config[f"{service.upper()}_URL"]


def test_the_web_app_signs_in_with_the_provider_whose_tokens_the_services_verify(
    objects: list[dict[str, Any]],
) -> None:
    config = _web_config(objects)
    assert config["OIDC_ISSUER"] == config["AUTH_ISSUER"], "one identity provider"
    assert config["OIDC_CLIENT_ID"]
    # rs256: no local secret, so no local sign-in page in the cluster.
    assert config["AUTH_MODE"] == "rs256" and "AUTH_SECRET" not in config
    assert urlsplit(config["PUBLIC_URL"]).scheme == "https"
    assert config["COOKIE_SECURE"] == "true", "behind HTTPS the session cookie is never sent in clear"
    assert config["DECLARE_TOPOLOGY"] == "own", "its user may configure its live queues only"


def test_no_secret_setting_is_in_a_configmap(objects: list[dict[str, Any]]) -> None:
    """The session key, the client secret and every password are files of a Secret."""
    for config in (o for o in objects if o["kind"] == "ConfigMap"):
        for key, value in config["data"].items():
            if key in NOT_FIELDS:  # SECRETS_DIR: where the Secret is mounted
                continue
            assert not any(word in key.upper() for word in ("SECRET", "PASSWORD", "TOKEN")), key
            assert "@" not in urlsplit(value).netloc, f"{key}: credentials in a URL"


# ------------------------------------------------ migrations, scaling, network ---


@pytest.mark.parametrize("service", SERVICES)
def test_a_job_runs_the_migrations_of_each_service(objects: list[dict[str, Any]], service: str) -> None:
    job = _find(objects, "Job", f"{service}-migrate")
    dep = _find(objects, "Deployment", service)
    pod = job["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["python", "-m", service, "migrate"]
    assert c["image"] == _container(dep)["image"], "the same release as the Deployment's"
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1
    # The same settings and secret files as the service's pods, the same locked-down container.
    assert c["envFrom"] == [{"configMapRef": {"name": "jumelage-config"}}]
    secret = next(v for v in pod["volumes"] if "secret" in v)
    assert secret["secret"]["secretName"] == f"{service}-secrets"
    assert {"mountPath": SECRETS_DIR, "name": secret["name"], "readOnly": True} in c["volumeMounts"]
    sc = {**pod["securityContext"], **c["securityContext"]}
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
    assert pod["automountServiceAccountToken"] is False
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"


def _matches(labels: dict[str, str], expression: tuple[str, set[str]]) -> bool:
    """A set-based label selector ``key notin (values)``: an object without the key matches."""
    key, values = expression
    return labels.get(key) not in values


def test_the_first_apply_step_brings_what_the_jobs_need_and_no_workload(objects: list[dict[str, Any]]) -> None:
    """README.md's "Deploying": ``kubectl apply -k deploy/k8s -l 'app.kubernetes.io/component
    notin (service,web)'`` first (then the Jobs are waited for, then everything is applied)."""
    first = [o for o in objects if _matches(o["metadata"].get("labels", {}),
                                            ("app.kubernetes.io/component", {"service", "web"}))]
    kinds = {o["kind"] for o in first}
    assert "Deployment" not in kinds
    names = {(o["kind"], o["metadata"]["name"]) for o in first}
    for service in SERVICES:
        job = _find(objects, "Job", f"{service}-migrate")
        assert ("Job", f"{service}-migrate") in names
        needs = {("Secret", v["secret"]["secretName"]) for v in job["spec"]["template"]["spec"]["volumes"]
                 if "secret" in v}
        needs |= {("ConfigMap", e["configMapRef"]["name"])
                  for e in job["spec"]["template"]["spec"]["containers"][0]["envFrom"]}
        assert needs <= names, needs - names
    assert ("Namespace", "jumelage") in names


@pytest.mark.parametrize("service", APPS)
def test_an_autoscaler_scales_each_deployment(objects: list[dict[str, Any]], service: str) -> None:
    hpa = _find(objects, "HorizontalPodAutoscaler", service)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # Utilization is against the pods' requests: the container must have one.
    assert _container(_find(objects, "Deployment", service))["resources"]["requests"]["cpu"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def test_network_policies_let_in_only_what_each_pod_serves(objects: list[dict[str, Any]]) -> None:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    deny = _find(objects, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}, "nothing comes in unless allowed"
    web_pod = _find(objects, "Deployment", WEB)["spec"]["template"]["metadata"]["labels"]

    def allowed(labels: dict[str, str]) -> list[dict[str, Any]]:
        return [rule for p in policies if _selects(p["spec"]["podSelector"], labels) and p is not deny
                for rule in p["spec"].get("ingress", [])]

    for service in SERVICES:
        pod = _find(objects, "Deployment", service)["spec"]["template"]["metadata"]["labels"]
        rules = allowed(pod)
        assert rules, f"{service}: no policy lets anything in"
        assert all(port == {"protocol": "TCP", "port": 8000} for r in rules for port in r["ports"])
        assert any("podSelector" in peer and _selects(peer["podSelector"], web_pod)
                   for r in rules for peer in r["from"]), f"{service}: the web app cannot call it"
    assert allowed(web_pod), "the web app: nothing lets its users in"
    for service in SERVICES:  # the migration Jobs serve nothing
        job_pod = _find(objects, "Job", f"{service}-migrate")["spec"]["template"]["metadata"]["labels"]
        assert not allowed(job_pod)


def _containers(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for o in objects:
        if o["kind"] in ("Deployment", "Job"):
            spec = o["spec"]["template"]["spec"]
            found += [(f"{o['kind']}/{o['metadata']['name']}", c)
                      for c in [*spec.get("initContainers", []), *spec["containers"]]]
    return found


def test_every_image_is_pinned(objects: list[dict[str, Any]]) -> None:
    containers = _containers(objects)
    assert len(containers) == len(APPS) + len(SERVICES)
    for where, c in containers:
        image = c["image"]
        name, _, digest = image.partition("@")
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
        assert digest.startswith("sha256:") or (tag and tag != "latest"), f"{where}: {image} is not pinned"
        assert c.get("imagePullPolicy") != "Always", where
    # The Dockerfile's base images too: a patch release each, never a floating tag.
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    bases = [line.split("=", 1)[1] for line in dockerfile.splitlines() if line.startswith("ARG ") and "_IMAGE=" in line]
    assert len(bases) == 2
    for base in bases:
        tag = base.split(":", 1)[1]
        assert tag != "latest" and tag.count(".") >= 2, base
