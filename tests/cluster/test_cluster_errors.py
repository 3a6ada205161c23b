"""An unreachable or refusing cluster, bad configuration: one clear line, the right exit code."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from tests.support.cluster import Cli, Kube
from tests.support.kubeapi import KubeContext, write_kubeconfig


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_cluster_is_a_failed_check_naming_the_server(tmp_path: Path, cli: Cli) -> None:
    port = _closed_port()
    config = write_kubeconfig(tmp_path / "kc", [KubeContext("gone", f"http://127.0.0.1:{port}")])
    # Exit 3: the gate could not find out, which CI must not read as skew (issue 12).
    result = cli("skew", "-A", "--offline", "--kubeconfig", str(config), code=3)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach the Kubernetes API at")
    assert f"127.0.0.1:{port}" in line and "--context" in line
    verify = cli("verify", "deploy/web", "--offline", "--kubeconfig", str(config), code=3)
    assert "cannot reach" in verify.stderr


def test_forbidden_resource_names_it_and_points_at_the_rbac(
    kube: Callable[..., Kube], cli: Cli
) -> None:
    k = kube([], forbidden=("replicasets",))
    result = cli("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=3)
    [line] = result.stderr.strip().splitlines()
    assert "denied (403) to list replicasets in all namespaces" in line
    assert 'cannot list resource "replicasets"' in line
    assert "deploy/base/rbac.yaml" in line


def test_wrong_token_is_access_denied(kube: Callable[..., Kube], cli: Cli) -> None:
    k = kube([], token="right", client_token="wrong")
    result = cli("skew", "-n", "shop", "--offline", "--kubeconfig", str(k.kubeconfig), code=3)
    assert "not authenticated (401)" in result.stderr
    assert "namespace 'shop'" in result.stderr


def test_missing_kubeconfig_and_unknown_context_are_configuration_errors(
    kube: Callable[..., Kube], cli: Cli, tmp_path: Path
) -> None:
    missing = cli("skew", "-A", "--kubeconfig", str(tmp_path / "nope"), code=2)
    assert "does not exist" in missing.stderr
    k = kube([])
    unknown = cli("skew", "-A", "--context", "prod", "--kubeconfig", str(k.kubeconfig), code=2)
    assert "context 'prod' is not in the kubeconfig (contexts: fake)" in unknown.stderr
    garbage = tmp_path / "garbage"
    garbage.write_text("clusters: [\n")
    bad = cli("skew", "-A", "--kubeconfig", str(garbage), code=2)
    assert "not readable YAML" in bad.stderr


def test_namespace_and_all_namespaces_together_is_usage(
    kube: Callable[..., Kube], cli: Cli
) -> None:
    k = kube([])
    result = cli("skew", "-A", "-n", "x", "--kubeconfig", str(k.kubeconfig), code=2)
    assert "either --namespace or --all-namespaces" in result.stderr


def test_invalid_label_selector_is_usage(kube: Callable[..., Kube], cli: Cli) -> None:
    k = kube([])
    result = cli(
        "skew", "-A", "-l", "app=(", "--offline", "--kubeconfig", str(k.kubeconfig), code=2
    )
    assert "label selector" in result.stderr


def test_an_empty_cluster_is_no_skew(kube: Callable[..., Kube], cli: Cli) -> None:
    k = kube([])
    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=0)
    assert report["workloads"] == []
