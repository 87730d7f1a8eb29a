"""deploy/observability: the Grafana dashboard and the alert rules query metrics the
services expose (jumelage.metrics), and the scrape configuration reaches /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from jumelage.metrics import Metrics, metric_names

HERE = Path(__file__).resolve().parents[1] / "deploy" / "observability"
# A metric name in PromQL: a token of ours, or the process collector's.
METRIC = re.compile(r"\b((?:jumelage|process)_[a-zA-Z0-9_:]*)")


def exposed() -> set[str]:
    from prometheus_client import REGISTRY

    return metric_names(Metrics("any").registry, REGISTRY)


def dashboard_queries() -> list[str]:
    dashboard = json.loads((HERE / "grafana-dashboard.json").read_text(encoding="utf-8"))
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_dashboard_queries_name_metrics_that_exist() -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    names = exposed()
    for query in queries:
        used = set(METRIC.findall(query))
        assert used, f"{query!r} names no metric"
        assert used <= names, f"{query!r} names {sorted(used - names)}, which no service exposes"


def test_dashboard_covers_every_metric_of_ours() -> None:
    used = {n for q in dashboard_queries() for n in METRIC.findall(q)}
    families = {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in used}
    ours = {n for n in exposed() if n.startswith("jumelage_") and not re.search(r"_(total|bucket|sum|count|created)$", n)}
    assert ours <= families, f"not on the dashboard: {sorted(ours - families)}"


def test_alert_rules_name_metrics_that_exist() -> None:
    rules = yaml.safe_load((HERE / "alerts.yml").read_text(encoding="utf-8"))
    exprs = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    assert any("jumelage_dlq_depth" in e for e in exprs), "dead letters are alert-worthy"
    for expr in exprs:
        used = set(METRIC.findall(expr))
        assert used and used <= exposed(), expr


def test_scrape_configuration_reads_metrics_of_the_pods() -> None:
    config = yaml.safe_load((HERE / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]
    (cluster,) = [j for j in config["scrape_configs"] if j["job_name"] == "jumelage"]
    assert cluster["metrics_path"] == "/metrics"
    assert cluster["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["jumelage"]
    keep = {tuple(r["source_labels"]): r["regex"] for r in cluster["relabel_configs"] if r.get("action") == "keep"}
    assert keep[("__meta_kubernetes_pod_container_port_name",)] == "http"
    manifests = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
    for service in ("convention", "scheduling", "notification", "web"):
        text = (manifests / f"{service}.yaml").read_text(encoding="utf-8")
        assert "- name: http" in text, f"{service}'s container port is named http"
