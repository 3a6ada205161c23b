"""Dockerfile and deploy/: the manifests parse, fit together, and ship a config that validates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tagwatch.app.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "base"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def by_kind(kind: str) -> dict[str, Any]:
    found = [d for p in sorted(DEPLOY.glob("*.yaml")) for d in docs(p) if d.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind} in deploy/, found {len(found)}"
    return found[0]


def test_every_manifest_parses_and_names_its_kind() -> None:
    for path in DEPLOY.glob("*.yaml"):
        for doc in docs(path):
            assert "kind" in doc and "apiVersion" in doc, path


def test_the_kustomization_includes_rbac_and_every_manifest_but_the_secret() -> None:
    kustomization = docs(DEPLOY / "kustomization.yaml")[0]
    resources = kustomization["resources"]
    assert "rbac.yaml" in resources
    assert set(resources) == {p.name for p in DEPLOY.glob("*.yaml")} - {
        "kustomization.yaml",
        "secret.yaml",
    }


def test_kubectl_renders_the_kustomization() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (apt-get install kubernetes-client)")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY)], capture_output=True, text=True, check=True
    ).stdout
    kinds = {d["kind"] for d in yaml.safe_load_all(rendered) if d}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "ClusterRole"} <= kinds


def test_the_deployment_runs_unprivileged_as_the_rbac_service_account() -> None:
    deployment = by_kind("Deployment")
    account = by_kind("ServiceAccount")["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    secret = by_kind("Secret")["metadata"]["name"]
    assert {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v} == {secret}
    service = by_kind("Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_the_configmap_config_is_valid_and_holds_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = by_kind("ConfigMap")["data"]["tagwatch.yaml"]
    secret_keys = by_kind("Secret")["stringData"]
    for key in secret_keys:
        (tmp_path / key).write_text("value")
    config = tmp_path / "tagwatch.yaml"
    config.write_text(text.replace("/run/secrets/tagwatch", str(tmp_path)))
    settings = load_settings(config)
    assert settings.listen == "0.0.0.0:8080"
    assert "CHANGE-ME" not in text and "xoxb" not in text


def test_the_dockerfile_is_multi_stage_non_root_and_runs_the_service() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sum(line.startswith("FROM ") for line in lines) == 2
    assert any("uv sync --frozen --no-dev" in line for line in lines)
    user = [line for line in lines if line.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("0", "root"))
    assert lines[-1] == 'ENTRYPOINT ["tagwatch", "run"]'
