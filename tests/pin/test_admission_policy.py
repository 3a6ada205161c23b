"""`tagwatch lint --policy`: the admission policies that refuse tag-only images in a cluster.

The Kyverno and Gatekeeper documents are checked against the real CRD schemas (the parts they
use, tests/pin/data), and the Gatekeeper Rego is run by a real Rego interpreter (regopy)
against the admission requests a cluster would send.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from regopy import Interpreter

from tagwatch.core.admission import (
    CONTAINER_LISTS,
    PolicyEngine,
    gatekeeper_policy,
    kyverno_policy,
    policy_documents,
)

DATA = Path(__file__).parent / "data"
PINNED = "ghcr.io/acme/api:1.4@sha256:" + "ab" * 32
UNPINNED = "ghcr.io/acme/api:1.4"


def _schema(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tagwatch", "lint", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _violations(obj: dict[str, Any]) -> list[str]:
    template, _ = gatekeeper_policy()
    rego = Interpreter()
    rego.add_module("policy", template["spec"]["targets"][0]["rego"])
    rego.set_input_term(json.dumps({"review": {"object": obj}}))
    out = rego.query("x = data.tagwatchrequireimagedigests.violation")
    assert out.ok(), out
    return sorted(v["msg"] for v in json.loads(str(out))["bindings"]["x"])


def _pod_spec(**lists: list[str]) -> dict[str, Any]:
    return {
        name: [{"name": f"{name}-{i}", "image": image} for i, image in enumerate(images)]
        for name, images in lists.items()
    }


def test_kyverno_policy_fits_the_clusterpolicy_crd() -> None:
    jsonschema.validate(kyverno_policy(), _schema("kyverno-clusterpolicy-v1.schema.json"))


def test_schema_check_refuses_a_field_the_crd_does_not_know() -> None:
    policy = kyverno_policy()
    policy["spec"]["rules"][0]["validate"]["patern"] = {}
    with pytest.raises(jsonschema.ValidationError, match="patern"):
        jsonschema.validate(policy, _schema("kyverno-clusterpolicy-v1.schema.json"))


def test_kyverno_policy_covers_every_container_list_and_the_debug_subresource() -> None:
    rules = kyverno_policy()["spec"]["rules"]
    pod_rule, ephemeral_rule = rules
    assert pod_rule["match"]["any"][0]["resources"]["kinds"] == ["Pod"]
    assert pod_rule["validate"]["pattern"]["spec"] == {
        "containers": [{"image": "*@sha256:*"}],
        "=(initContainers)": [{"image": "*@sha256:*"}],
        "=(ephemeralContainers)": [{"image": "*@sha256:*"}],
    }
    assert ephemeral_rule["match"]["any"][0]["resources"]["kinds"] == ["Pod/ephemeralcontainers"]
    assert ephemeral_rule["validate"]["pattern"]["spec"] == {
        "ephemeralContainers": [{"image": "*@sha256:*"}]
    }
    for rule in rules:
        assert rule["validate"]["failureAction"] == "Enforce"


def test_excluded_namespaces_reach_every_rule() -> None:
    for rule in kyverno_policy(["kube-system", "monitoring"])["spec"]["rules"]:
        assert rule["exclude"]["any"][0]["resources"]["namespaces"] == ["kube-system", "monitoring"]
    _, constraint = gatekeeper_policy(["monitoring"])
    assert constraint["spec"]["match"]["excludedNamespaces"] == ["monitoring"]
    assert "exclude" not in kyverno_policy([])["spec"]["rules"][0]


def test_gatekeeper_documents_fit_their_crds() -> None:
    template, constraint = gatekeeper_policy()
    jsonschema.validate(template, _schema("gatekeeper-constrainttemplate-v1.schema.json"))
    jsonschema.validate(constraint, _schema("gatekeeper-constraint.schema.json"))
    assert constraint["kind"] == template["spec"]["crd"]["spec"]["names"]["kind"]
    assert template["metadata"]["name"] == constraint["kind"].lower()  # Gatekeeper requires it


@pytest.mark.parametrize("container_list", CONTAINER_LISTS)
def test_gatekeeper_rego_refuses_a_tag_in_any_container_list(container_list: str) -> None:
    spec = _pod_spec(containers=[PINNED]) | _pod_spec(**{container_list: [UNPINNED]})
    msgs = _violations({"kind": "Pod", "spec": spec})
    assert msgs == [
        f"{container_list} {container_list}-0 uses image {UNPINNED} without a digest; "
        "pin it (repo:tag@sha256:...)"
    ]


def test_gatekeeper_rego_admits_a_pod_pinned_everywhere() -> None:
    spec = _pod_spec(containers=[PINNED], initContainers=[PINNED], ephemeralContainers=[PINNED])
    assert _violations({"kind": "Pod", "spec": spec}) == []


def test_gatekeeper_rego_refuses_a_malformed_digest() -> None:
    spec = _pod_spec(containers=["ghcr.io/acme/api@sha256:abc"])
    assert len(_violations({"kind": "Pod", "spec": spec})) == 1


def test_gatekeeper_rego_reads_pod_templates_and_cronjobs() -> None:
    template = {"spec": _pod_spec(containers=[UNPINNED, PINNED])}
    deployment = {"kind": "Deployment", "spec": {"template": template}}
    cronjob = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": template}}}}
    assert len(_violations(deployment)) == 1
    assert len(_violations(cronjob)) == 1


@pytest.mark.parametrize("engine", list(PolicyEngine))
def test_lint_policy_prints_documents_kubectl_can_apply(engine: PolicyEngine) -> None:
    result = _lint("--policy", engine.value, "--exclude-namespace", "monitoring")
    assert result.returncode == 0, result.stderr
    expected = policy_documents(engine, ["monitoring"])
    assert list(yaml.safe_load_all(result.stdout)) == expected


def test_lint_policy_prints_rego_as_a_literal_block() -> None:
    result = _lint("--policy", "gatekeeper")
    assert result.returncode == 0, result.stderr
    assert "    rego: |\n      package tagwatchrequireimagedigests\n" in result.stdout


def test_lint_policy_with_files_or_without_policy_is_a_usage_error(tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("kind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1\n")
    for args in (
        ("--policy", "kyverno", str(manifest)),
        ("--exclude-namespace", "x", str(manifest)),
        (),
        ("--policy", "opa"),
    ):
        result = _lint(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
