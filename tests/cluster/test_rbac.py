"""deploy/base/rbac.yaml grants just what `skew` and `verify` read, enforced by the fake API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tests.support import kube_fixtures as kf
from tests.support.cluster import Cli, Kube
from tests.support.kube_fixtures import C
from tests.support.kubeapi import RESOURCES, FakeKubeAPI

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "base" / "rbac.yaml"
READ = ("get", "list", "watch")
DIGEST = "sha256:" + "ab" * 32
IMAGE = f"registry.example.com/shop/web@{DIGEST}"
STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "sa-token"


def _docs(text: str | None = None) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text if text is not None else RBAC.read_text()) if d]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"deploy/base/rbac.yaml must hold exactly one {kind}"
    return found[0]


def _granted(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples the ClusterRole allows."""
    out: set[tuple[str, str, str]] = set()
    for rule in _one(docs, "ClusterRole")["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    out.add((group, resource, verb))
    return out


def _forbidden(docs: list[dict[str, Any]]) -> tuple[str, ...]:
    """Resource plurals the fake server must refuse, as RBAC would for this service account."""
    granted = _granted(docs)
    return tuple(
        r.plural for r in RESOURCES if not all((r.group, r.plural, v) in granted for v in READ)
    )


def _cluster() -> list[dict[str, Any]]:
    """A Deployment pinned by digest (verify passes offline), a CronJob's Job, a DaemonSet."""
    lab = {"app": "web"}
    return [
        kf.deployment("web", "shop", containers=[C("web", IMAGE)], replicas=1, labels=lab),
        kf.replicaset(
            "web-7f9c",
            "shop",
            deployment="web",
            template_hash="7f9c",
            containers=[C("web", IMAGE)],
            labels=lab,
        ),
        kf.pod(
            "web-7f9c-x1",
            "shop",
            owner=("ReplicaSet", "web-7f9c"),
            template_hash="7f9c",
            labels=lab,
            containers=[C("web", IMAGE, f"registry.example.com/shop/web@{DIGEST}", STARTED)],
        ),
        kf.cronjob("report", "shop", containers=[C("report", IMAGE)]),
        kf.job("report-29000", "shop", containers=[C("report", IMAGE)], cronjob="report"),
        kf.pod(
            "report-29000-q",
            "shop",
            owner=("Job", "report-29000"),
            containers=[C("report", IMAGE, f"registry.example.com/shop/web@{DIGEST}", STARTED)],
        ),
        kf.daemonset("agent", "ops", containers=[C("agent", IMAGE)], desired=1),
        kf.pod(
            "agent-abcde",
            "ops",
            owner=("DaemonSet", "agent"),
            containers=[C("agent", IMAGE, f"registry.example.com/shop/web@{DIGEST}", STARTED)],
        ),
        kf.node("node-a", images=[[f"registry.example.com/shop/web@{DIGEST}"]]),
    ]


def _paths(api: FakeKubeAPI) -> set[tuple[str, str]]:
    """(group, plural) of every resource path the client asked for."""
    out: set[tuple[str, str]] = set()
    for path, _query in api.requests:
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3:
            group, rest = "", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, rest = parts[1], parts[3:]
        else:
            continue  # discovery: every authenticated user may read it (system:discovery)
        if rest[0] == "namespaces" and len(rest) >= 3:
            rest = rest[2:]
        out.add((group, rest[0]))
    return out


def test_rbac_manifest_is_a_service_account_bound_to_a_read_only_cluster_role() -> None:
    docs = _docs()
    assert {d["kind"] for d in docs} == {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
    }
    assert _one(docs, "Namespace")["metadata"]["name"] == "tagwatch"
    account = _one(docs, "ServiceAccount")["metadata"]
    assert (account["name"], account["namespace"]) == ("tagwatch", "tagwatch")
    role = _one(docs, "ClusterRole")
    binding = _one(docs, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tagwatch", "namespace": "tagwatch"}
    ]
    for doc in docs:
        assert doc["apiVersion"] == (
            "v1"
            if doc["kind"] in ("Namespace", "ServiceAccount")
            else "rbac.authorization.k8s.io/v1"
        )
    verbs = {verb for _group, _resource, verb in _granted(docs)}
    assert verbs == set(READ), "tagwatch only reads"
    assert not any("*" in part for triple in _granted(docs) for part in triple), "no wildcards"


def test_rbac_grants_read_on_the_eight_kinds_and_nothing_else() -> None:
    granted = {(group, resource) for group, resource, _verb in _granted(_docs())}
    assert granted == {
        ("", "pods"),
        ("", "nodes"),
        ("apps", "replicasets"),
        ("apps", "deployments"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
        ("batch", "cronjobs"),
    }
    # Secrets and namespaces are not needed: the fake server refuses them under this role.
    assert _forbidden(_docs()) == ("namespaces",)


def test_skew_and_verify_work_with_only_the_shipped_rbac_and_touch_nothing_else(
    kube: Callable[..., Kube], cli: Cli
) -> None:
    docs = _docs()
    k = kube(_cluster(), token=TOKEN, forbidden=_forbidden(docs))
    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=0)
    assert {(w["kind"], w["name"]) for w in report["workloads"]} == {
        ("Deployment", "web"),
        ("CronJob", "report"),
        ("DaemonSet", "agent"),
    }
    verdict = cli.json(
        "verify", "deploy/web", "-n", "shop", "--offline", "--kubeconfig", str(k.kubeconfig)
    )
    assert verdict["passed"] is True, verdict
    cli.json(
        "verify", "ds/agent", "-n", "ops", "--offline", "--kubeconfig", str(k.kubeconfig), code=0
    )
    granted = {(group, resource) for group, resource, _verb in _granted(docs)}
    touched = _paths(k.api)
    assert touched, "the commands asked the API server for nothing"
    assert touched <= granted, (
        f"asked for resources deploy/base/rbac.yaml does not grant: {touched - granted}"
    )


def test_each_rule_of_the_rbac_is_needed(kube: Callable[..., Kube], cli: Cli) -> None:
    """Drop one resource from the role and skew fails naming it and the manifest to apply."""
    text = RBAC.read_text()
    for resource in sorted({resource for _g, resource, _v in _granted(_docs(text))}):
        docs = _docs(text)
        for rule in _one(docs, "ClusterRole")["rules"]:
            rule["resources"] = [r for r in rule["resources"] if r != resource]
        k = kube(_cluster(), token=TOKEN, forbidden=_forbidden(docs))
        # access denied: skew could not find out (exit 3 since the gates' exit codes)
        result = cli("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=3)
        [line] = result.stderr.strip().splitlines()
        assert f"denied (403) to list {resource} in all namespaces" in line, line
        assert "apply deploy/base/rbac.yaml" in line, line
