"""`tagwatch verify`, platform for platform: each ready pod against the target's image for its
node's platform, with indexes in the test registry and nodes of two platforms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.support.cluster import Cli, Kube, ProdTag, web_on_nodes
from tests.support.kube_fixtures import ImageIdForm

M = timedelta(minutes=1)
TWO_PLATFORMS = {"linux/amd64": "a1", "linux/arm64/v8": "r1"}
DOCKER: ImageIdForm = "docker-pullable"


def _verify(cli: Cli, k: Kube, code: int) -> dict[str, Any]:
    out: dict[str, Any] = cli.json(
        "verify",
        "deployment/web",
        "-n",
        "shop",
        "--offline",
        "--kubeconfig",
        str(k.kubeconfig),
        code=code,
    )
    return out


def _pods(out: dict[str, Any]) -> dict[str, tuple[str | None, str | None, str | None, bool]]:
    [web] = out["containers"]
    return {
        p["name"]: (p["platform"], p["platform_image"], p["expected_platform_image"], p["current"])
        for p in web["pods"]
    }


def test_verify_passes_when_each_pod_runs_the_targets_image_for_its_platform(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    index = prod.push_index(TWO_PLATFORMS, at=t0)
    child = prod.children(index)
    amd, arm = child["linux/amd64"], child["linux/arm64/v8"]
    k = kube(
        web_on_nodes(
            prod.ref,
            [
                ("web-a", "amd-1", t0 + M, prod.pod_image(amd, DOCKER)),
                ("web-b", "arm-1", t0 + M, prod.pod_image(arm, DOCKER)),
                ("web-c", "amd-2", t0 + M, prod.pod_image(index)),  # containerd: the index
            ],
        )
    )
    out = _verify(cli, k, code=0)
    assert out["passed"] is True
    [web] = out["containers"]
    assert web["expected"] == str(index) and web["problem"] is None
    assert web["digests"] == {str(index): ["web-a", "web-b", "web-c"]}
    assert _pods(out) == {
        "web-a": ("linux/amd64", amd, amd, True),
        "web-b": ("linux/arm64/v8", arm, arm, True),
        "web-c": ("linux/amd64", amd, amd, True),
    }


def test_verify_passes_an_index_re_pushed_with_only_its_attestations_changed(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    images = {"linux/amd64": "amd", "linux/arm64/v8": "arm"}
    first = prod.push_index(images, at=t0, built_at="2026-11-30T10:00:00Z")
    again = prod.push_index(images, at=t0 + 20 * M, built_at="2026-11-30T11:00:00Z")
    assert again != first
    k = kube(
        web_on_nodes(
            prod.ref,
            [
                ("web-a", "amd-1", t0 + 5 * M, prod.pod_image(first)),
                ("web-b", "arm-1", t0 + 5 * M, prod.pod_image(first)),
                ("web-c", "amd-2", t0 + 30 * M, prod.pod_image(again)),
            ],
        )
    )
    out = _verify(cli, k, code=0)
    assert out["passed"] is True
    [web] = out["containers"]
    assert web["expected"] == str(again)
    # Two index digests, one set of platform images: every pod runs the target's bytes.
    assert web["digests"] == {str(first): ["web-a", "web-b"], str(again): ["web-c"]}
    child = prod.children(again)
    amd, arm = child["linux/amd64"], child["linux/arm64/v8"]
    assert _pods(out) == {
        "web-a": ("linux/amd64", amd, amd, True),
        "web-b": ("linux/arm64/v8", arm, arm, True),
        "web-c": ("linux/amd64", amd, amd, True),
    }


def test_verify_fails_when_one_amd64_pod_runs_an_older_amd64_child(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    old = prod.push_index(TWO_PLATFORMS, at=t0)
    new = prod.push_index({"linux/amd64": "a2", "linux/arm64/v8": "r2"}, at=t0 + 30 * M)
    amd_old = prod.children(old)["linux/amd64"]
    child = prod.children(new)
    amd_new, arm_new = child["linux/amd64"], child["linux/arm64/v8"]
    k = kube(
        web_on_nodes(
            prod.ref,
            [
                ("web-a", "amd-1", t0 + 5 * M, prod.pod_image(amd_old, DOCKER)),
                ("web-b", "amd-2", t0 + 40 * M, prod.pod_image(amd_new, DOCKER)),
                ("web-c", "arm-1", t0 + 40 * M, prod.pod_image(arm_new, DOCKER)),
            ],
        )
    )
    out = _verify(cli, k, code=1)
    assert out["passed"] is False
    [web] = out["containers"]
    assert web["passed"] is False and web["expected"] == str(new)
    assert web["digests"] == {str(old): ["web-a"], str(new): ["web-b", "web-c"]}
    assert "2 different digests" in web["problem"]
    assert f"web-a on linux/amd64 runs {amd_old[7:19]}" in web["problem"]
    assert any(f"image: {prod.ref}@{new}" in fix for fix in web["fix"])
    assert _pods(out) == {
        "web-a": ("linux/amd64", amd_old, amd_new, False),
        "web-b": ("linux/amd64", amd_new, amd_new, True),
        "web-c": ("linux/arm64/v8", arm_new, arm_new, True),
    }


def test_verify_without_access_to_nodes_says_so_in_one_line_and_exits_3_like_skew(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    index = prod.push_index(TWO_PLATFORMS, at=t0)
    k = kube(
        web_on_nodes(prod.ref, [("web-a", "amd-1", t0 + M, prod.pod_image(index))]),
        forbidden=("nodes",),
    )
    args = ("deployment/web", "-n", "shop", "--offline", "--kubeconfig", str(k.kubeconfig))
    verify = cli("verify", *args, code=3)
    skew = cli("skew", *args[1:], code=3)
    for result in (verify, skew):
        [line] = result.stderr.strip().splitlines()
        assert "denied (403) to list nodes" in line and "apply deploy/base/rbac.yaml" in line
