"""The cluster scan job: skewed workloads in a (fake) cluster become one Slack alert each, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tests.cluster.test_skew_cli import _deployment
from tests.support import kube_fixtures as kf
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig
from tests.support.metrics import value_of
from tests.support.registry import TestRegistry
from tests.support.services import eventually, running, service_config
from tests.support.slack import FakeSlack


async def test_a_skewed_deployment_is_alerted_once_by_the_scan_job(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    secrets_env: None,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    v1 = registry.push_image(repo_name, "prod", content="v1")
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": ref, "interval": "1h"}],
        slack=slack,
    )
    t0 = datetime.now(UTC) - timedelta(hours=1)
    settings = load_settings(path)
    async with running(settings) as first:
        # The history: v1, then a re-push to v2 (alerted as a move).
        check = first.service.trigger(ImageRef.parse(ref))
        assert check is not None
        await check
        v2 = registry.push_image(repo_name, "prod", content="v2")
        check = first.service.trigger(ImageRef.parse(ref))
        assert check is not None
        await check
        await eventually(lambda: len(slack.posts) == 1)
    name = f"{registry.host}/{repo_name}"
    api = FakeKubeAPI(
        [
            *_deployment(
                "web",
                ref,
                [
                    ("web-5d8f7b-aaaaa", "node-a", t0, f"{name}@{v1}"),
                    ("web-5d8f7b-bbbbb", "node-b", t0 + timedelta(minutes=50), f"{name}@{v2}"),
                ],
            ),
            kf.node("node-a"),
            kf.node("node-b"),
        ]
    ).start()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, [KubeContext("fake", api.url)])
        path = service_config(
            tmp_path,
            db=f"sqlite:///{tmp_path / 'tw.db'}",
            watches=[{"ref": ref, "interval": "1h"}],
            slack=slack,
            clusters=[{"name": "prod", "kubeconfig": str(kubeconfig), "interval": "300ms"}],
        )
        async with running(load_settings(path)) as svc:
            assert svc.service.cluster_leases == {"prod": True}
            await eventually(lambda: len(slack.posts) == 2, within=10)
            skew = slack.posts[1]
            assert "web" in skew.text + str(skew.blocks)
            text = (await svc.client.get("/metrics")).text
            assert 'tagwatch_skewed_workloads{cluster="prod"} 1.0' in text
            scans = svc.service.metrics.skewed.labels("prod")
            assert value_of(scans) == 1
            # More scans (every 300 ms) of the same skew do not alert again.
            await asyncio.sleep(1.0)
            assert len(slack.posts) == 2
    finally:
        api.stop()


async def test_scans_alert_at_risk_once_resolve_skew_and_a_failing_scan_changes_nothing(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    secrets_env: None,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    v1 = registry.push_image(repo_name, "prod", content="v1")
    watches = [{"ref": ref, "interval": "1h", "labels": {"team": "pay"}}]
    async with running(load_settings(service_config(tmp_path, db=db, watches=watches))) as svc:
        for _ in range(2):
            check = svc.service.trigger(ImageRef.parse(ref))
            assert check is not None
            await check
            v2 = registry.push_image(repo_name, "prod", content="v2")
    name = f"{registry.host}/{repo_name}"
    t0 = datetime.now(UTC) - timedelta(hours=1)
    skewed = _deployment(
        "api",
        ref,
        [
            ("api-5d8f7b-aaaaa", "node-a", t0, f"{name}@{v1}"),
            ("api-5d8f7b-bbbbb", "node-b", t0 + timedelta(minutes=50), f"{name}@{v2}"),
        ],
    )
    # Uniform on the old bytes; Always re-resolves the tag at the next start: at risk.
    at_risk = _deployment(
        "web",
        ref,
        [(f"web-5d8f7b-{i}", "node-a", t0, f"{name}@{v1}") for i in range(2)],
        policy="Always",
    )
    api = FakeKubeAPI([*skewed, *at_risk, kf.node("node-a"), kf.node("node-b")]).start()
    try:
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, [KubeContext("fake", api.url)])
        path = service_config(
            tmp_path,
            db=db,
            watches=watches,
            slack=slack,
            clusters=[{"name": "prod-eu", "kubeconfig": str(kubeconfig), "interval": "300ms"}],
            scheduler={"default_interval": "1h"},
        )
        async with running(load_settings(path)) as svc:
            store = svc.service.store
            # The move recorded before the service had Slack is routed now: one message.
            await eventually(lambda: len(slack.posts) >= 3, within=15)
            await asyncio.sleep(1.5)  # five more scans: nothing more
            texts = [p.text for p in slack.posts]
            assert len(slack.posts) == 3, texts
            assert sum("api" in t and "prod-eu" in t for t in texts) == 1, texts
            assert sum("web" in t and "prod-eu" in t for t in texts) == 1, texts
            with store.begin() as tx:
                episodes = tx.episodes.open_in("prod-eu")
                latest = tx.findings.latest()["prod-eu"]
            assert sorted((e.name, e.condition.value) for e in episodes) == [
                ("api", "skewed"),
                ("web", "at_risk"),
            ]
            assert {w["name"] for w in latest.report["workloads"]} >= {"api", "web"}

            # The cluster refuses us: scans fail, counted; nothing opens, nothing closes.
            api.forbidden.add("pods")
            errors = svc.service.metrics.scan_errors.labels("prod-eu")
            await eventually(lambda: value_of(errors) >= 1, within=10)
            with store.begin() as tx:
                failing = tx.findings.latest()["prod-eu"]
            seen = value_of(errors)
            await eventually(lambda: value_of(errors) >= seen + 2, within=10)
            with store.begin() as tx:
                assert [e.id for e in tx.episodes.open_in("prod-eu")] == [e.id for e in episodes]
                failed = tx.findings.latest()["prod-eu"]
            assert failed.error and "403" in failed.error
            assert failed.failed_at is not None and failing.failed_at is not None
            assert failed.failed_at > failing.failed_at  # counted again, findings kept as were
            assert (failed.scanned_at, failed.report) == (failing.scanned_at, failing.report)
            assert failed.report["workloads"]
            assert len(slack.posts) == 3

            # The skewed pod is replaced by one on the tag's digest: uniform again, resolved.
            api.forbidden.clear()
            api.put(
                _deployment(
                    "api",
                    ref,
                    [("api-5d8f7b-aaaaa", "node-a", datetime.now(UTC), f"{name}@{v2}")],
                )[-1]
            )
            await eventually(lambda: len(slack.posts) == 4, within=10)
            resolved = slack.posts[3]
            assert resolved.text.startswith("Resolved after"), resolved.text
            assert resolved.thread_ts is not None  # a reply in the tag's thread
            with store.begin() as tx:
                still = tx.episodes.open_in("prod-eu")
            assert [(e.name, e.condition.value) for e in still] == [("web", "at_risk")]
    finally:
        api.stop()
