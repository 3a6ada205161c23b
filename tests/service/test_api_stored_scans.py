"""The skew board, the timeline's running workloads and the clusters API read what the scans
stored: another replica and a restarted service show the same; episodes come in pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tagwatch.app.check import run_check
from tagwatch.app.service import build_service
from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Condition
from tagwatch.core.skew_findings import SkewReport
from tagwatch.store import Store
from tagwatch.web import create_app
from tests.cluster.test_skew_cli import _deployment
from tests.notify import scenes
from tests.service.test_kill9 import Process
from tests.support import kube_fixtures as kf
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig
from tests.support.registry import TestRegistry
from tests.support.services import service_config

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _cluster(tmp_path: Path, url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    """prod-eu, scanned hourly (never during a test unless asked)."""
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, [KubeContext("fake", url)])
    return {"name": "prod-eu", "kubeconfig": str(kubeconfig), "interval": "1h"}


def _seen_by(url: str, ref: ImageRef) -> dict[str, Any]:
    """What a reader of the service at `url` is shown of cluster prod-eu and of `ref`."""
    with httpx.Client(base_url=url, timeout=30) as http:
        findings = http.get("/api/v1/clusters/prod-eu/findings")
        episodes = http.get("/api/v1/clusters/prod-eu/episodes")
        board = http.get("/clusters/prod-eu")
        timeline = http.get(f"/tags/{ref}")
    for answer in (findings, episodes, board, timeline):
        assert answer.status_code == 200, answer.text
    # Durations and "so far" follow the clock: compare what the scan stored, not those.
    return {
        "findings": findings.json(),
        "episodes": [{k: e[k] for k in e if k != "duration_seconds"} for e in episodes.json()],
        "board": board.text[board.text.index('<section class="finding"') :].split("<h2>Episodes")[
            0
        ],
        "timeline": re.findall(r'<ul class="runners">.*?</ul>', timeline.text),
    }


async def test_a_scan_stored_by_one_service_is_shown_by_another_process_and_after_restart(
    registry: TestRegistry, repo_name: str, tmp_path: Path, pg_url: str
) -> None:
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    name = f"{registry.host}/{repo_name}"
    t0 = datetime.now(UTC) - timedelta(hours=1)
    api = FakeKubeAPI([kf.node("node-a"), kf.node("node-b")]).start()
    try:
        config = service_config(
            tmp_path, db=pg_url, watches=[], webhooks={}, clusters=[_cluster(tmp_path, api.url)]
        )
        scanner = build_service(load_settings(config))
        v1 = registry.push_image(repo_name, "prod", content="v1")
        await run_check([ref], registry=scanner.registry, store=scanner.store)
        v2 = registry.push_image(repo_name, "prod", content="v2")
        await run_check([ref], registry=scanner.registry, store=scanner.store)
        pods = [
            ("checkout-5d8f7b-aaaaa", "node-a", t0, f"{name}@{v1}"),
            ("checkout-5d8f7b-bbbbb", "node-a", t0, f"{name}@{v1}"),
            ("checkout-5d8f7b-ccccc", "node-b", t0 + timedelta(minutes=50), f"{name}@{v2}"),
        ]
        for obj in _deployment("checkout", str(ref), pods):
            api.put(obj)
        await scanner.scan_cluster(scanner.settings.clusters[0])
        await scanner.registry.aclose()
        scanner.store.close()
    finally:
        api.stop()  # from here on nobody can scan: what is shown comes from the store

    url = f"http://{yaml.safe_load(config.read_text())['listen']}"
    first = Process(config, tmp_path / "reader-1.log")
    try:
        first.wait_healthy(url)
        shown = _seen_by(url, ref)
        first.terminate()
    finally:
        first.close()
    (workload,) = [w for w in shown["findings"]["workloads"] if w["skewed"]]
    assert workload["name"] == "checkout"
    assert sorted(p["name"] for p in workload["pods"]) == [
        "checkout-5d8f7b-aaaaa",
        "checkout-5d8f7b-bbbbb",
        "checkout-5d8f7b-ccccc",
    ]
    assert [(e["condition"], e["name"], e["open"]) for e in shown["episodes"]] == [
        ("skewed", "checkout", True)
    ]
    assert "SKEWED" in shown["board"] and "checkout-5d8f7b-ccccc" in shown["board"]
    assert "kubectl" in shown["board"]
    assert any(
        "deployment/checkout -n shop</code> (checkout), 2 pods" in r for r in shown["timeline"]
    )

    again = Process(config, tmp_path / "reader-2.log")
    try:
        again.wait_healthy(url)
        assert _seen_by(url, ref) == shown
    finally:
        again.close()


@pytest.fixture
async def cluster_client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    """The app over a SQLite store that knows cluster prod-eu; nothing scans."""
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    settings = load_settings(
        service_config(tmp_path, db=db, watches=[], webhooks={}, clusters=[_cluster(tmp_path)])
    )
    service = build_service(settings)
    app = create_app(service, lifecycle=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tagwatch"
    ) as http:
        yield http, service.store
    await service.registry.aclose()
    service.store.close()


def _episode(
    store: Store,
    name: str,
    opened: datetime,
    closed: datetime | None,
    *,
    cluster: str = "prod-eu",
    condition: Condition = Condition.SKEWED,
) -> None:
    with store.begin() as tx:
        episode_id = tx.episodes.open(
            key=f"{cluster}/{name}",
            cluster=cluster,
            condition=condition,
            workload=("Deployment", "shop", name),
            container="app",
            fingerprint="f",
            payload={},
            now=opened,
        )
        if closed is not None:
            tx.episodes.close(episode_id, now=closed)


async def test_episodes_come_newest_first_with_durations_in_pages(
    cluster_client: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = cluster_client
    for n in range(5):
        opened = T0 + timedelta(hours=n)
        _episode(store, f"web{n}", opened, opened + timedelta(minutes=30) if n < 4 else None)
    _episode(store, "x", T0, None, cluster="prod-us", condition=Condition.AT_RISK)

    whole = (await client.get("/api/v1/clusters/prod-eu/episodes")).json()
    assert [e["name"] for e in whole] == ["web4", "web3", "web2", "web1", "web0"]
    assert [e["duration_seconds"] for e in whole[1:]] == [1800.0] * 4
    assert whole[0]["open"] and whole[0]["closed_at"] is None
    assert whole[0]["duration_seconds"] > 1800  # still lasting: opened in the past, so far

    paged: list[dict[str, Any]] = []
    url: str | None = "/api/v1/clusters/prod-eu/episodes?limit=2"
    while url is not None:
        answer = await client.get(url)
        paged += answer.json()
        link = answer.links.get("next")
        url = link["url"] if link else None
    assert [e["id"] for e in paged] == [e["id"] for e in whole]

    closed = (await client.get("/api/v1/clusters/prod-eu/episodes?state=closed")).json()
    opened = (await client.get("/api/v1/clusters/prod-eu/episodes?state=open")).json()
    assert [e["name"] for e in opened] == ["web4"] and len(closed) == 4

    moves_cursor = (await client.get("/api/v1/clusters/prod-eu/episodes?cursor=WyJtIl0")).json()
    assert "cursor" in moves_cursor["detail"]
    unknown = await client.get("/api/v1/clusters/prod-us/episodes")
    assert unknown.status_code == 404 and "no cluster named" in unknown.json()["detail"]


async def test_a_failed_scan_keeps_the_last_findings_and_says_why(
    cluster_client: tuple[httpx.AsyncClient, Store],
) -> None:
    client, store = cluster_client
    assert (await client.get("/api/v1/clusters/prod-eu/findings")).status_code == 404
    with store.begin() as tx:
        tx.findings.failed("prod-eu", "the API server refused: 403", at=T0)
    never = await client.get("/api/v1/clusters/prod-eu/findings")
    assert never.status_code == 404 and "403" in never.json()["detail"]

    report = SkewReport(findings=(scenes.skewed(), scenes.at_risk()), generated_at=T0)
    with store.begin() as tx:
        tx.findings.replace("prod-eu", report.to_json(), at=T0)
        tx.findings.failed("prod-eu", "the API server refused: 403", at=T0 + timedelta(hours=1))
    answer = (await client.get("/api/v1/clusters/prod-eu/findings?attention=true&limit=1")).json()
    assert (answer["skewed"], answer["at_risk"], answer["error"]) == (
        1,
        1,
        "the API server refused: 403",
    )
    assert answer["workloads"] == [report.to_json()["workloads"][0]]
    board = (await client.get("/clusters/prod-eu")).text
    assert "The last scan failed" in board and "refused: 403" in board
    assert "web-7d9f-bbbbb" in board  # the last findings are still shown
