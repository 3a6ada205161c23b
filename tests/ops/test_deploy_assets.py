"""deploy/ and the Dockerfile: lint-clean by tagwatch itself, valid against Kubernetes' schemas
offline, rendered by `kubectl kustomize`, and the two installs (PostgreSQL pair, SQLite single)
shaped as documented; the alerts and the dashboard read only metrics tagwatch exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from tagwatch.app.metrics import Metrics
from tagwatch.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.30"
INSTALLS = ["deploy", "deploy/overlays/postgres", "deploy/overlays/sqlite"]


def _render(directory: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (apt-get install kubernetes-client)")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / directory)], capture_output=True, text=True, check=False
    )
    assert rendered.returncode == 0, rendered.stderr
    return [d for d in yaml.safe_load_all(rendered.stdout) if d]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def test_tagwatch_lint_passes_on_the_dockerfile_and_deploy() -> None:
    result = CliRunner().invoke(app, ["lint", "Dockerfile", "deploy/", "-o", "json"])
    assert result.exit_code == 0, result.output
    uses = json.loads(result.stdout)
    assert {u["state"] for u in uses} == {"pinned"}
    # the base images, the uv image and the tagwatch image in both containers
    assert len(uses) >= 5


@pytest.mark.parametrize("directory", INSTALLS)
def test_every_rendered_manifest_is_valid_against_the_kubernetes_schemas(directory: str) -> None:
    objects = _render(directory)
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "NetworkPolicy"} <= kinds


def test_every_manifest_file_is_valid_on_its_own() -> None:
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") == "Kustomization" or "$patch" in str(doc):
                continue
            if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # CRDs: checked by shape below
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_postgresql_pair_migrates_first_spreads_and_keeps_one_up() -> None:
    objects = _render("deploy/overlays/postgres")
    deployment = _one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    [migrate] = pod["initContainers"]
    [main] = pod["containers"]
    assert migrate["command"][:3] == ["tagwatch", "db", "upgrade"]
    assert migrate["image"] == main["image"] and "@sha256:" in main["image"]
    assert migrate["env"] == main["env"]  # the same database
    assert {s["topologyKey"] for s in pod["topologySpreadConstraints"]} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    for container in (migrate, main):
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    labels = pod.get("labels") or deployment["spec"]["template"]["metadata"]["labels"]
    pdb = _one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _render("deploy") == objects  # `kubectl apply -k deploy/` is this pair


def test_the_network_policy_admits_the_http_port_only_and_names_each_egress() -> None:
    objects = _render("deploy/overlays/postgres")
    policy = _one(objects, "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    [ingress] = policy["ingress"]
    container_ports = {
        p["containerPort"]
        for p in _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert [p["port"] for p in ingress["ports"]] == sorted(container_ports) == [8080]
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 443, 6443, 5432} <= egress_ports
    sqlite = _one(_render("deploy/overlays/sqlite"), "NetworkPolicy")["spec"]
    assert 5432 not in {p["port"] for rule in sqlite["egress"] for p in rule["ports"]}


def test_the_sqlite_install_is_one_replica_on_a_volume_without_a_budget() -> None:
    objects = _render("deploy/overlays/sqlite")
    assert not [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    deployment = _one(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    claim = _one(objects, "PersistentVolumeClaim")["metadata"]["name"]
    [volume] = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    for container in pod["containers"] + pod["initContainers"]:
        env = {e["name"]: e for e in container["env"]}
        url = env["TAGWATCH_DATABASE_URL"]["value"]
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert url.startswith(f"sqlite:///{mounts[volume['name']]}/"), (url, mounts)


def _exported_series() -> set[str]:
    names: set[str] = set()
    for family in Metrics().registry.collect():
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
        }.get(family.type, [""])
        names |= {family.name + s for s in suffixes}
    return names


def _series_in(text: str) -> set[str]:
    return set(re.findall(r"\btagwatch_[a-z_]+\b", text))


def test_alerts_and_dashboard_use_only_exported_series() -> None:
    exported = _exported_series()
    rules = yaml.safe_load((DEPLOY / "monitoring" / "prometheusrule.yaml").read_text())
    assert rules["apiVersion"] == "monitoring.coreos.com/v1" and rules["kind"] == "PrometheusRule"
    exprs = [r for g in rules["spec"]["groups"] for r in g["rules"]]
    for rule in exprs:
        assert rule["alert"] and rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        used = _series_in(rule["expr"])
        assert used and used <= exported, (rule["alert"], used - exported)
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    targets = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set().union(*(_series_in(t) for t in targets))
    assert used <= exported, used - exported
    # every family tagwatch exports is on the dashboard or in an alert
    rule_series = set().union(*(_series_in(r["expr"]) for r in exprs))
    families = {n.removesuffix("_total") for n in exported if not n.endswith(("_sum", "_count"))}
    shown = {n.removesuffix("_total").removesuffix("_bucket") for n in used | rule_series}
    assert families - {"tagwatch_check_batch_seconds_bucket"} <= shown | {
        "tagwatch_check_batch_seconds"
    }, families - shown


def test_the_service_monitor_scrapes_the_service_port() -> None:
    objects = _render("deploy/monitoring")
    monitor = _one(objects, "ServiceMonitor")["spec"]
    service = _one(_render("deploy"), "Service")
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["endpoints"]} <= ports
    dashboard = _one(objects, "ConfigMap")
    kubernetes_validate.validate(dashboard, K8S_VERSION, strict=True)
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(dashboard["data"]["grafana-dashboard.json"])
