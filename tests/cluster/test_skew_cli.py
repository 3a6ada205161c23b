"""`tagwatch skew` end to end: real registry histories, a fixture cluster in API JSON, the CLI."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tagwatch.core.digests import Digest
from tests.support import kube_fixtures as kf
from tests.support.cluster import Cli, Kube, ProdTag, Recorder
from tests.support.kube_fixtures import C
from tests.support.registry import TestRegistry

M = timedelta(minutes=1)


def _deployment(
    name: str,
    image: str,
    pods: list[tuple[str, str, datetime, str]],
    *,
    hash_: str = "5d8f7b",
    policy: str | None = None,
    ns: str = "shop",
    labels: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A Deployment, its one ReplicaSet, and pods given as (name, node, started, imageID)."""
    lab = labels or {"app": name}
    rs = f"{name}-{hash_}"
    objs = [
        kf.deployment(
            name,
            ns,
            containers=[C(name, image, pull_policy=policy)],
            replicas=len(pods),
            labels=lab,
        ),
        kf.replicaset(
            rs,
            ns,
            deployment=name,
            template_hash=hash_,
            containers=[C(name, image)],
            replicas=len(pods),
            labels=lab,
        ),
    ]
    for pod_name, node, started, image_id in pods:
        objs.append(
            kf.pod(
                pod_name,
                ns,
                owner=("ReplicaSet", rs),
                template_hash=hash_,
                labels=lab,
                node=node,
                containers=[C(name, image, image_id, started, pull_policy=policy)],
            )
        )
    return objs


def _one(report: dict[str, Any], name: str, container: str | None = None) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        w
        for w in report["workloads"]
        if w["name"] == name and (container is None or w["container"] == container)
    ]
    assert len(found) == 1, [(w["name"], w["container"]) for w in report["workloads"]]
    return found[0]


def _skew(cli: Cli, k: Kube, *flags: str, code: int, offline: bool = True) -> Any:
    """`tagwatch skew <flags> -o json` against the cluster `k`; from the recorded history
    alone unless `offline` is False."""
    more = ("--offline",) if offline else ()
    return cli.json("skew", *flags, *more, "--kubeconfig", str(k.kubeconfig), code=code)


def _two_versions(prod: ProdTag, t0: datetime) -> tuple[Digest, Digest]:
    """push v1, check at t0 and t0+20m, push v2, check at t0+30m: a move in (t0+20m, t0+30m]."""
    v1 = prod.push("v1", at=t0, labels={"org.opencontainers.image.revision": "aaaa1111"})
    prod.check(t0 + 20 * M)
    v2 = prod.push("v2", at=t0 + 30 * M, labels={"org.opencontainers.image.revision": "bbbb2222"})
    return v1, v2


def test_two_pods_one_tag_incident_is_skew_with_the_explaining_move(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1, v2 = _two_versions(prod, t0)
    ref = prod.ref
    k = kube(
        [
            *_deployment(
                "web",
                ref,
                [
                    ("web-5d8f7b-aaaaa", "node-a", t0 + 10 * M, prod.pod_image(v1)),
                    ("web-5d8f7b-bbbbb", "node-b", t0 + 40 * M, prod.pod_image(v2)),
                ],
            ),
            kf.node("node-a"),
            kf.node("node-b"),
        ]
    )
    report = _skew(cli, k, "-A", code=1)
    web = _one(report, "web")
    issue_keys = {"kind", "namespace", "name", "container", "image", "skewed", "at_risk"}
    issue_keys |= {"digests", "pods", "tag_digest_now", "moves"}
    assert issue_keys <= web.keys()
    pod_keys = {"name", "node", "digest", "started_at", "state", "explanation"}
    assert all(pod_keys <= p.keys() for p in web["pods"])
    assert (web["kind"], web["namespace"], web["container"], web["image"]) == (
        "Deployment",
        "shop",
        "web",
        ref,
    )
    assert web["skewed"] is True
    assert web["digests"] == {str(v1): ["web-5d8f7b-aaaaa"], str(v2): ["web-5d8f7b-bbbbb"]}
    assert web["tag_digest_now"] == str(v2)
    pods = {p["name"]: p for p in web["pods"]}
    old, new = pods["web-5d8f7b-aaaaa"], pods["web-5d8f7b-bbbbb"]
    assert (old["state"], new["state"]) == ("stale", "current")
    assert old["node"] == "node-a" and old["digest"] == str(v1)
    assert old["move"]["from"] == str(v1) and old["move"]["to"] == str(v2)
    assert old["move"]["from_revision"] == "aaaa1111"
    assert old["move"]["to_revision"] == "bbbb2222"
    assert "started before the move" in old["explanation"]
    assert old["started_at"] == kf.ts(t0 + 10 * M)
    assert [m["change"] for m in web["moves"]] == ["moved"]
    assert web["repushed_recently"] is True
    assert web["rollout"]["complete"] is True
    assert any("kubectl rollout restart deployment/web -n shop" in r for r in web["remediation"])
    assert any(f"@{v2}" in r for r in web["remediation"])

    table = cli("skew", "-n", "shop", "--offline", "--kubeconfig", str(k.kubeconfig), code=1)
    assert "SKEWED" in table.stdout
    assert "kubectl rollout restart deployment/web -n shop" in table.stdout


def test_stuck_rollout_with_two_replicasets_is_not_skew_but_fails_the_audit(
    registry: TestRegistry,
    repo_name: str,
    recorder: Recorder,
    kube: Callable[..., Kube],
    cli: Cli,
    t0: datetime,
) -> None:
    old_ref = f"{registry.host}/{repo_name}:1.0"
    new_ref = f"{registry.host}/{repo_name}:2.0"
    v1 = registry.push_image(repo_name, "1.0", content="one")
    v2 = registry.push_image(repo_name, "2.0", content="two")
    recorder.check([old_ref, new_ref], t0)
    name = f"{registry.host}/{repo_name}"
    lab = {"app": "api"}
    objs = [
        kf.deployment(
            "api",
            "shop",
            containers=[C("api", new_ref)],
            replicas=3,
            labels=lab,
            updated=1,
            available=2,
            status_replicas=3,
            progressing_reason="ProgressDeadlineExceeded",
        ),
        kf.replicaset(
            "api-old",
            "shop",
            deployment="api",
            template_hash="old",
            containers=[C("api", old_ref)],
            labels=lab,
            replicas=2,
        ),
        kf.replicaset(
            "api-new",
            "shop",
            deployment="api",
            template_hash="new",
            containers=[C("api", new_ref)],
            labels=lab,
            replicas=1,
        ),
    ]
    for i in range(2):
        objs.append(
            kf.pod(
                f"api-old-{i}",
                "shop",
                owner=("ReplicaSet", "api-old"),
                template_hash="old",
                labels=lab,
                containers=[C("api", old_ref, f"{name}@{v1}", t0 + 5 * M)],
            )
        )
    objs.append(
        kf.pod(
            "api-new-0",
            "shop",
            owner=("ReplicaSet", "api-new"),
            template_hash="new",
            labels=lab,
            containers=[C("api", new_ref, "", state="waiting", ready=False)],
            ready=False,
        )
    )
    k = kube(objs)
    # issue 9: a rollout past its deadline fails the audit (exit 1), though it is not skew
    report = _skew(cli, k, "-n", "shop", code=1)
    api = _one(report, "api")
    assert api["skewed"] is False
    assert api["stuck_rollout"] is True
    assert api["rollout"]["complete"] is False
    assert "progress deadline" in api["rollout"]["reason"]
    assert api["digests"] == {str(v1): ["api-old-0", "api-old-1"]}
    assert {p["template"] for p in api["pods"]} == {"api-old", "api-new"}
    waiting = next(p for p in api["pods"] if p["name"] == "api-new-0")
    assert (waiting["state"], waiting["digest"]) == ("unknown", None)
    assert "waiting" in waiting["explanation"]
    assert v2 is not None


def test_same_digest_spelled_two_ways_is_not_skew(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref = prod.ref
    v1 = prod.push("only", at=t0)
    k = kube(
        _deployment(
            "web",
            ref,
            [
                ("web-1", "node-a", t0 + M, prod.pod_image(v1)),
                ("web-2", "node-b", t0 + M, prod.pod_image(v1, "docker-pullable")),
            ],
        )
    )
    report = _skew(cli, k, "-A", code=0)
    web = _one(report, "web")
    assert web["skewed"] is False
    assert web["digests"] == {str(v1): ["web-1", "web-2"]}
    assert {p["state"] for p in web["pods"]} == {"current"}


def test_index_and_its_platform_child_are_one_build(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref = prod.ref
    index = prod.push_index({"linux/amd64": "a", "linux/arm64": "b"}, at=t0)
    children = prod.children(index)
    k = kube(
        _deployment(
            "web",
            ref,
            [
                ("web-1", "node-a", t0 + M, prod.pod_image(index)),  # containerd: the index
                (
                    "web-2",
                    "node-b",
                    t0 + M,
                    prod.pod_image(children["linux/amd64"], "docker-pullable"),
                ),
            ],
        )
    )
    report = _skew(cli, k, "-A", code=0)
    web = _one(report, "web")
    assert web["skewed"] is False
    assert web["digests"] == {str(index): ["web-1", "web-2"]}
    assert {p["state"] for p in web["pods"]} == {"current"}


def test_workloads_sharing_an_app_label_are_grouped_by_owner(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1, v2 = _two_versions(prod, t0)
    ref = prod.ref
    lab = {"app": "web"}
    stable = _deployment(
        "web",
        ref,
        [
            ("web-s1", "node-a", t0 + 10 * M, prod.pod_image(v1)),
            ("web-s2", "node-a", t0 + 12 * M, prod.pod_image(v1)),
        ],
        labels=lab,
    )
    canary = _deployment(
        "web-canary",
        ref,
        [("web-c1", "node-b", t0 + 40 * M, prod.pod_image(v2))],
        hash_="77c9d",
        labels=lab,
    )
    other = _deployment(
        "db",
        ref,
        [("db-1", "node-b", t0 + 40 * M, prod.pod_image(v2))],
        hash_="1a2b3",
        labels={"app": "db"},
    )
    k = kube(stable + canary + other)
    report = _skew(cli, k, "-A", "-l", "app=web", code=0)
    assert sorted(w["name"] for w in report["workloads"]) == ["web", "web-canary"]
    assert _one(report, "web")["skewed"] is False
    assert _one(report, "web-canary")["skewed"] is False
    assert {p["state"] for p in _one(report, "web")["pods"]} == {"stale"}
    assert {p["state"] for p in _one(report, "web-canary")["pods"]} == {"current"}


def test_multi_container_pod_reports_each_container_and_its_skew(
    registry: TestRegistry,
    repo_name: str,
    recorder: Recorder,
    kube: Callable[..., Kube],
    cli: Cli,
    t0: datetime,
) -> None:
    app_ref = f"{registry.host}/{repo_name}:app"
    side_ref = f"{registry.host}/{repo_name}:sidecar"
    init_ref = f"{registry.host}/{repo_name}:init"
    s1 = registry.push_image(repo_name, "sidecar", content="v1")
    recorder.check([side_ref], t0)
    recorder.check([side_ref], t0 + 20 * M)
    s2 = registry.push_image(repo_name, "sidecar", content="v2")
    recorder.check([side_ref], t0 + 30 * M)  # the sidecar moved in (t0+20m, t0+30m]
    a = registry.push_image(repo_name, "app", content="app")
    i = registry.push_image(repo_name, "init", content="init")
    recorder.check([app_ref, init_ref], t0 + 31 * M)
    name = f"{registry.host}/{repo_name}"
    lab = {"app": "shop"}
    objs = [
        kf.deployment(
            "shop",
            "shop",
            containers=[C("app", app_ref), C("proxy", side_ref)],
            replicas=2,
            labels=lab,
        ),
        kf.replicaset(
            "shop-9f8e",
            "shop",
            deployment="shop",
            template_hash="9f8e",
            containers=[C("app", app_ref)],
            labels=lab,
        ),
    ]
    for pod_name, sidecar, started in (
        ("shop-9f8e-1", s1, t0 + 5 * M),
        ("shop-9f8e-2", s2, t0 + 45 * M),
    ):
        objs.append(
            kf.pod(
                pod_name,
                "shop",
                owner=("ReplicaSet", "shop-9f8e"),
                template_hash="9f8e",
                labels=lab,
                containers=[
                    C("app", app_ref, f"{name}@{a}", started),
                    C("proxy", side_ref, f"{name}@{sidecar}", started),
                ],
                init_containers=[
                    C("migrate", init_ref, f"{name}@{i}", started, state="terminated")
                ],
            )
        )
    k = kube(objs)
    report = _skew(cli, k, "-A", code=1)
    assert [w["container"] for w in report["workloads"]] == ["migrate", "app", "proxy"]
    assert _one(report, "shop", "app")["skewed"] is False
    assert _one(report, "shop", "migrate")["skewed"] is False
    assert _one(report, "shop", "migrate")["init_container"] is True
    proxy = _one(report, "shop", "proxy")
    assert proxy["skewed"] is True
    assert proxy["digests"] == {str(s1): ["shop-9f8e-1"], str(s2): ["shop-9f8e-2"]}


def _uniform_stale(
    prod: ProdTag, t0: datetime, policy: str
) -> tuple[str, Digest, Digest, list[dict[str, Any]]]:
    v1, v2 = _two_versions(prod, t0)
    ref = prod.ref
    pods = [(f"web-{i}", "node-a", t0 + 10 * M, prod.pod_image(v1)) for i in range(2)]
    return ref, v1, v2, _deployment("web", ref, pods, policy=policy)


def test_always_pull_policy_puts_a_uniform_stale_workload_at_risk_on_every_node(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref, v1, v2, objs = _uniform_stale(prod, t0, "Always")
    cached = [[prod.pod_image(v1), ref]]
    k = kube([*objs, kf.node("node-a", images=cached), kf.node("node-b")])
    report = _skew(cli, k, "-A", code=0)
    web = _one(report, "web")
    assert (web["skewed"], web["at_risk"]) == (False, True)
    assert web["nodes"] == {"node-a": str(v2), "node-b": str(v2)}
    assert "imagePullPolicy Always" in web["risk"]
    assert {p["state"] for p in web["pods"]} == {"stale"}


def test_if_not_present_predicts_per_node_cache_and_capped_lists_are_unknown(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref, v1, v2, objs = _uniform_stale(prod, t0, "IfNotPresent")
    filler = [[f"registry.example/filler/{i}@sha256:{i:064x}"] for i in range(50)]
    nodes = [
        kf.node("node-a", images=[[prod.pod_image(v1), ref]]),  # holds the old bytes under the tag
        kf.node("node-b", images=[["registry.example/other@sha256:" + "e" * 64]]),  # complete list
        kf.node("node-c", images=filler),  # capped at 50: absence proves nothing
    ]
    k = kube(objs + nodes)
    report = _skew(cli, k, "-A", code=0)
    web = _one(report, "web")
    assert web["nodes"] == {"node-a": str(v1), "node-b": str(v2), "node-c": None}
    assert web["nodes_holding"] == {str(v1): ["node-a"]}
    assert web["at_risk"] is True
    assert "node-b" in web["risk"] and "node-a" not in web["risk"].split("cannot tell")[0]
    assert "node-c" in web["risk"].split("cannot tell")[1]


def test_if_not_present_with_old_bytes_cached_everywhere_is_not_at_risk(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref, v1, _v2, objs = _uniform_stale(prod, t0, "IfNotPresent")
    nodes = [kf.node(n, images=[[prod.pod_image(v1), ref]]) for n in ("node-a", "node-b")]
    k = kube(objs + nodes)
    report = _skew(cli, k, "-A", code=0)
    web = _one(report, "web")
    assert (web["skewed"], web["at_risk"]) == (False, False)
    assert web["nodes"] == {"node-a": str(v1), "node-b": str(v1)}
    assert {p["state"] for p in web["pods"]} == {"stale"}


def test_skew_refreshes_tags_from_the_registry_unless_offline(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref = prod.ref
    v1 = prod.push("v1", at=t0)
    v2 = prod.push("v2")  # not recorded yet
    k = kube(_deployment("web", ref, [("web-1", "node-a", t0 + M, prod.pod_image(v1))]))
    offline = _skew(cli, k, "-A", code=0)
    assert _one(offline, "web")["tag_digest_now"] == str(v1)
    online = _skew(cli, k, "-A", code=0, offline=False)
    web = _one(online, "web")
    assert web["tag_digest_now"] == str(v2)
    assert [p["state"] for p in web["pods"]] == ["stale"]
    assert online["refresh_errors"] == []


def test_pod_newer_than_the_last_check_running_unknown_bytes_is_ahead(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref = prod.ref
    v1 = prod.push("v1", at=t0)
    v2 = prod.push("v2")
    k = kube(_deployment("web", ref, [("web-1", "node-a", t0 + 50 * M, prod.pod_image(v2))]))
    report = _skew(cli, k, "-A", code=0)
    [pod] = _one(report, "web")["pods"]
    assert pod["state"] == "ahead"
    assert v1 is not None


def test_bare_pods_and_statefulset_pods_group_by_owner(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1, v2 = _two_versions(prod, t0)
    ref = prod.ref
    objs = [
        kf.statefulset("db", "data", containers=[C("db", ref)], replicas=2, revision="db-7c9"),
        kf.pod(
            "db-0",
            "data",
            owner=("StatefulSet", "db"),
            revision_hash="db-7c9",
            containers=[C("db", ref, prod.pod_image(v1), t0 + 5 * M)],
        ),
        kf.pod(
            "db-1",
            "data",
            owner=("StatefulSet", "db"),
            revision_hash="db-7c9",
            containers=[C("db", ref, prod.pod_image(v2), t0 + 50 * M)],
        ),
        kf.pod("debug", "data", containers=[C("sh", ref, prod.pod_image(v1), t0 + 5 * M)]),
    ]
    k = kube(objs)
    report = _skew(cli, k, "-n", "data", code=1)
    assert _one(report, "db")["kind"] == "StatefulSet"
    assert _one(report, "db")["skewed"] is True
    debug = _one(report, "debug")
    assert (debug["kind"], debug["skewed"]) == ("Pod", False)


def test_a_tag_that_cannot_be_refreshed_is_a_warning_not_a_failed_scan(
    kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ref = f"127.0.0.1:{port}/gone/app:prod"
    image_id = f"127.0.0.1:{port}/gone/app@sha256:{'d' * 64}"
    k = kube(_deployment("web", ref, [("web-1", "node-a", t0, image_id)]))
    # The scan completes (a warning, the report); exit 3 says it could not find out (issue 12).
    result = cli("skew", "-A", "-o", "json", "--kubeconfig", str(k.kubeconfig), code=3)
    assert f"warning: could not refresh {ref}" in result.stderr
    report = json.loads(result.stdout)
    [message] = report["refresh_errors"]
    assert message.startswith(ref)
    [pod] = _one(report, "web")["pods"]
    assert pod["state"] == "unknown" and "no recorded history" in pod["explanation"]
