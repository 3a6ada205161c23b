"""The cluster scan job: skewed workloads in a (fake) cluster become one Slack alert each, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tests.cluster.test_skew_cli import _deployment
from tests.service.conftest import eventually, running, service_config
from tests.support import kube_fixtures as kf
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig
from tests.support.registry import TestRegistry
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
            assert scans._value.get() == 1
            # More scans (every 300 ms) of the same skew do not alert again.
            await asyncio.sleep(1.0)
            assert len(slack.posts) == 2
    finally:
        api.stop()
