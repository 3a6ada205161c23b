"""The reader through lightkube: paging, selectors, contexts, exec plugins, in-cluster, watch."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from lightkube.resources.core_v1 import Pod

from tagwatch.cluster import ClusterSettings, connect, load_config, parse_selector, read_snapshot
from tagwatch.cluster.reader import read_controller
from tagwatch.core.workloads import ImageKind, PullPolicy, group_workloads
from tagwatch.errors import ClusterAccessDenied, ClusterError, ConfigError
from tests.support import kube_fixtures as kf
from tests.support.kube_fixtures import C
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig

D1 = "sha256:" + "1" * 64
STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _objects(pods: int = 5) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = [
        kf.deployment("web", "shop", containers=[C("web", "nginx")]),
        kf.replicaset(
            "web-1", "shop", deployment="web", template_hash="1", containers=[C("web", "nginx")]
        ),
        kf.job("backup-29", "data", containers=[C("b", "backup:1")], cronjob="backup"),
        kf.cronjob("backup", "data", containers=[C("b", "backup:1")]),
        kf.pod(
            "backup-29-x",
            "data",
            owner=("Job", "backup-29"),
            containers=[C("b", "backup:1", f"backup@{D1}", STARTED)],
        ),
        kf.node("node-a", images=[[f"docker.io/library/nginx@{D1}", "nginx:latest"]]),
    ]
    for i in range(pods):
        objs.append(
            kf.pod(
                f"web-1-{i}",
                "shop",
                owner=("ReplicaSet", "web-1"),
                template_hash="1",
                labels={"app": "web", "i": str(i)},
                containers=[C("web", "nginx", f"docker-pullable://nginx@{D1}", STARTED)],
                init_containers=[
                    C("proxy", "envoy:1.30", "", state="waiting", restart_policy="Always")
                ],
            )
        )
    return objs


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI(_objects(), token="sekret") as server:
        yield server


def _config(tmp_path: Path, api: FakeKubeAPI, **kw: Any) -> Path:
    return write_kubeconfig(tmp_path / "kc", [KubeContext("fake", api.url, token="sekret", **kw)])


async def test_reader_pages_every_kind_and_builds_records(api: FakeKubeAPI, tmp_path: Path) -> None:
    client = connect(ClusterSettings(kubeconfig=str(_config(tmp_path, api))))
    try:
        snap = await read_snapshot(client, chunk_size=2)
    finally:
        await client.close()
    assert len(snap.pods) == 6
    pod_pages = [q for p, q in api.requests if p == "/api/v1/pods"]
    assert len(pod_pages) == 3 and all(q["limit"] == "2" for q in pod_pages)
    web = next(p for p in snap.pods if p.name == "web-1-0")
    proxy, main = web.containers
    assert (proxy.name, proxy.init, proxy.state, proxy.running) == ("proxy", True, "waiting", None)
    assert main.running is not None and main.running.kind is ImageKind.MANIFEST
    assert main.running.repository == "docker.io/library/nginx"
    assert main.pull_policy is PullPolicy.ALWAYS and main.started_at == STARTED
    assert web.owner is not None and web.owner.kind == "ReplicaSet" and web.template_hash == "1"
    keys = {(w.key.kind, w.key.name) for w in group_workloads(snap)}
    assert keys == {("Deployment", "web"), ("CronJob", "backup")}
    assert snap.nodes[0].images == ((f"docker.io/library/nginx@{D1}", "nginx:latest"),)


async def test_reader_filters_pods_by_namespace_and_selector(
    api: FakeKubeAPI, tmp_path: Path
) -> None:
    client = connect(ClusterSettings(kubeconfig=str(_config(tmp_path, api))))
    try:
        snap = await read_snapshot(
            client, namespace="shop", selector="app=web,i!=0,!missing", nodes=False
        )
        dep = await read_controller(client, "Deployment", "web", "shop")
        gone = await read_controller(client, "Deployment", "nope", "shop")
    finally:
        await client.close()
    assert sorted(p.name for p in snap.pods) == ["web-1-1", "web-1-2", "web-1-3", "web-1-4"]
    assert snap.nodes == ()
    assert dep is not None and dep.replicas == 2 and gone is None
    assert (
        "/api/v1/namespaces/shop/pods",
        {"labelSelector": "app=web,i!=0,!missing", "limit": "500"},
    ) in api.requests


def test_selector_grammar() -> None:
    pairs = parse_selector("app=web, tier!=db,env in (a, b),!legacy,has")
    assert [k for k, _ in pairs] == ["app", "tier", "env", "legacy", "has"]
    for bad in ("app=(", "a b", "!x=y", "=v"):
        with pytest.raises(ConfigError):
            parse_selector(bad)


async def test_forbidden_list_is_access_denied_naming_the_resource(tmp_path: Path) -> None:
    with FakeKubeAPI(_objects(), forbidden=("nodes",)) as server:
        client = connect(ClusterSettings(kubeconfig=str(_config(tmp_path, server))))
        try:
            with pytest.raises(
                ClusterAccessDenied, match=r"list nodes in all namespaces.*deploy/base/rbac.yaml"
            ):
                await read_snapshot(client)
        finally:
            await client.close()


def _plugin(tmp_path: Path, token: str) -> Path:
    script = tmp_path / "credential-plugin"
    reply = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['spec']['interactive'] is False\n"
        f"print(json.dumps({reply!r}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


async def test_exec_credential_plugin_v1_supplies_the_token(
    api: FakeKubeAPI, tmp_path: Path
) -> None:
    plugin = _plugin(tmp_path, "sekret")
    config = write_kubeconfig(
        tmp_path / "kc", [KubeContext("eks", api.url, exec_command=[str(plugin)])]
    )
    text = config.read_text().replace("v1beta1", "v1")
    config.write_text(text)
    client = connect(ClusterSettings(kubeconfig=str(config)))
    try:
        snap = await read_snapshot(client, namespace="data", nodes=False)
    finally:
        await client.close()
    assert [p.name for p in snap.pods] == ["backup-29-x"]


async def test_failing_exec_plugin_is_a_configuration_error(
    api: FakeKubeAPI, tmp_path: Path
) -> None:
    config = write_kubeconfig(
        tmp_path / "kc", [KubeContext("eks", api.url, exec_command=["/bin/false"])]
    )
    client = connect(ClusterSettings(kubeconfig=str(config)))
    try:
        with pytest.raises(ConfigError, match="Kubernetes credentials"):
            await read_snapshot(client, namespace="data", nodes=False)
    finally:
        await client.close()


def test_kubeconfig_list_merges_and_context_selects(api: FakeKubeAPI, tmp_path: Path) -> None:
    first = write_kubeconfig(
        tmp_path / "a", [KubeContext("dev", "http://127.0.0.1:1", namespace="dev")]
    )
    second = write_kubeconfig(
        tmp_path / "b", [KubeContext("prod", api.url, token="sekret", namespace="shop")]
    )
    env = {"KUBECONFIG": f"{first}:{tmp_path / 'missing'}:{second}"}
    assert load_config(ClusterSettings(), env).context_name == "dev"
    prod = load_config(ClusterSettings(context="prod"), env)
    assert (prod.cluster.server, prod.namespace) == (api.url, "shop")
    with pytest.raises(ConfigError, match="contexts: dev, prod"):
        load_config(ClusterSettings(context="stage"), env)
    with pytest.raises(ConfigError, match="names no existing file"):
        load_config(ClusterSettings(), {"KUBECONFIG": str(tmp_path / "none")})


def test_in_cluster_service_account_is_used_inside_a_pod(tmp_path: Path) -> None:
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("pod-token")
    (account / "namespace").write_text("tagwatch")
    (account / "ca.crt").write_text("")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    single = load_config(ClusterSettings(service_account=account), env)
    assert single.cluster.server == "https://10.96.0.1:443"
    assert single.namespace == "tagwatch"
    assert single.user is not None and single.user.token_file == str(account / "token")


async def test_fake_server_watch_streams_added_and_modified_events(
    api: FakeKubeAPI, tmp_path: Path
) -> None:
    """The minimal watch: initial ADDED events, then a change, then a bookmark at the timeout."""
    base = f"{api.url}/api/v1/namespaces/data/pods"
    async with httpx2.AsyncClient(headers={"Authorization": "Bearer sekret"}, timeout=10) as http:
        listed = (await http.get(base)).json()
        rv = listed["metadata"]["resourceVersion"]
        changed = kf.pod(
            "backup-29-x",
            "data",
            owner=("Job", "backup-29"),
            containers=[C("b", "backup:2", f"backup@{D1}", STARTED)],
        )
        api.put(changed)
        params = {
            "watch": "true",
            "resourceVersion": rv,
            "timeoutSeconds": "1",
            "allowWatchBookmarks": "true",
        }
        async with http.stream("GET", base, params=params) as stream:
            events = [json.loads(line) async for line in stream.aiter_lines() if line]
        assert [e["type"] for e in events] == ["MODIFIED", "BOOKMARK"]
        assert events[0]["object"]["spec"]["containers"][0]["image"] == "backup:2"
        api.compact()
        gone = (await http.get(base, params={"watch": "true", "resourceVersion": rv})).text
        assert json.loads(gone.splitlines()[0])["object"]["code"] == 410
    assert Pod is not None


async def test_a_kind_the_server_does_not_serve_reads_as_none_but_pods_must_exist(
    tmp_path: Path,
) -> None:
    with FakeKubeAPI(_objects(), missing=("cronjobs",)) as server:
        config = write_kubeconfig(tmp_path / "kc", [KubeContext("old", server.url)])
        client = connect(ClusterSettings(kubeconfig=str(config)))
        try:
            snap = await read_snapshot(client)
        finally:
            await client.close()
    assert len(snap.pods) == 6
    assert not any(c.kind == "CronJob" for c in snap.controllers)
    with FakeKubeAPI(_objects(), missing=("pods",)) as server:
        config = write_kubeconfig(tmp_path / "kc2", [KubeContext("odd", server.url)])
        client = connect(ClusterSettings(kubeconfig=str(config)))
        try:
            with pytest.raises(ClusterError, match="answered 404 to list pods"):
                await read_snapshot(client)
        finally:
            await client.close()


async def test_a_node_platform_comes_from_node_info_and_the_variant_label(tmp_path: Path) -> None:
    objects = [
        kf.node("amd", arch="amd64"),
        kf.node("pi", arch="arm", variant="v6"),
        kf.pod("p", "shop", containers=[C("web", "nginx", f"nginx@{D1}", STARTED)]),
    ]
    with FakeKubeAPI(objects, token="sekret") as server:
        client = connect(ClusterSettings(kubeconfig=str(_config(tmp_path, server))))
        try:
            snap = await read_snapshot(client)
        finally:
            await client.close()
    platforms = {n.name: str(n.platform) for n in snap.nodes}
    assert platforms == {"amd": "linux/amd64", "pi": "linux/arm/v6"}
