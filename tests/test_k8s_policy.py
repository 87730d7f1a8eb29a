"""The rendered Kubernetes manifests against the Kubernetes API's own schemas
(kubernetes-validate, from PyPI, pinned in constraints.txt), strictly: a field the
API does not know (a typo, a field at the wrong level) fails, as ``kubectl apply
--validate=strict`` would refuse it. Then the policies a cluster's admission would
hold them to (the namespace's Pod Security Standard ``restricted``, resources on
every container, no service-account token, no host namespaces or ports).

Rendered as ``kubectl kustomize deploy/k8s`` renders them (this kustomization sets
the namespace and the ``part-of`` label, nothing else: ``test_render_is_the_kustomization``),
without needing kubectl on the machine."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes these manifests are meant for, and the newest the validator knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CLUSTER_SCOPED = {"Namespace"}


def render() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        labels |= entry["pairs"]
    objects = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / resource).read_text(encoding="utf-8")):
            if doc is None:
                continue
            obj = copy.deepcopy(doc)
            meta = obj["metadata"]
            if obj["kind"] not in CLUSTER_SCOPED:
                meta["namespace"] = kustomization["namespace"]
            meta["labels"] = {**meta.get("labels", {}), **labels}
            objects.append(obj)
    return objects


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render()


def test_render_is_the_kustomization(rendered: list[dict[str, Any]]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    # Only what render() does: a transformer it does not apply would be missed by this suite.
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "labels", "resources"}, set(kustomization)
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "Job", "HorizontalPodAutoscaler", "NetworkPolicy", "PodDisruptionBudget"} <= kinds
    assert len(rendered) == 30


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_is_valid_for_the_kubernetes_api(rendered: list[dict[str, Any]], version: str) -> None:
    failures = []
    for obj in rendered:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert not failures, "\n".join(failures)


def test_an_unknown_field_is_refused() -> None:
    """The check has teeth: a misplaced field fails it."""
    job = next(o for o in render() if o["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["comand"] = ["python"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, VERSIONS[-1], strict=True)


def _pods(rendered: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"])
            for o in rendered if o["kind"] in ("Deployment", "Job")]


def test_every_pod_meets_the_restricted_pod_security_standard(rendered: list[dict[str, Any]]) -> None:
    namespace = next(o for o in rendered if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = _pods(rendered)
    assert len(pods) == 7
    for where, pod in pods:
        assert pod["automountServiceAccountToken"] is False, where
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(flag), where
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        for c in pod["containers"]:
            sc = {**pod["securityContext"], **c["securityContext"]}
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0, where
            assert sc["allowPrivilegeEscalation"] is False and not sc.get("privileged"), where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert not any("hostPort" in p for p in c.get("ports", [])), where
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), (where, part)
        assert not any("hostPath" in v for v in pod.get("volumes", [])), where
