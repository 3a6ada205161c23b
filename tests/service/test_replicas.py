"""Replicas on PostgreSQL: one polls (lease), another takes over when it dies; one alert."""

from __future__ import annotations

from pathlib import Path

from tagwatch.app.settings import load_settings
from tests.support.metrics import value_of
from tests.support.registry import TestRegistry
from tests.support.services import eventually, running, service_config
from tests.support.slack import FakeSlack


async def test_two_replicas_neither_double_poll_nor_double_alert_and_one_takes_over(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    secrets_env: None,
    pg_url: str,
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    ref = f"{registry.host}/{repo_name}:v1"
    path = service_config(
        tmp_path, db=pg_url, watches=[{"ref": ref, "interval": "300ms"}], slack=slack
    )
    settings = load_settings(path)
    async with (
        running(settings, holder="replica-a") as a,
        running(settings, holder="replica-b") as b,
    ):
        assert [a.service.leader, b.service.leader] == [True, False]
        polls_a = a.service.metrics.checks.labels(registry.host, "poll")
        polls_b = b.service.metrics.checks.labels(registry.host, "poll")
        await eventually(lambda: value_of(polls_a) >= 2)
        second = registry.push_image(repo_name, "v1", content="two")
        await eventually(lambda: slack.posts)
        before = value_of(polls_a)
        await eventually(lambda: value_of(polls_a) >= before + 3)
        assert value_of(polls_b) == 0, "the standby replica polled too"
        assert len(slack.posts) == 1
        assert str(second) in str(slack.posts[0].blocks)

        # Replica A dies without releasing its lease (no graceful stop): B takes over.
        a.service.scheduler.shutdown(wait=False)
        a.service.tasks.stopping = True
        await eventually(lambda: b.service.leader, within=8)
        third = registry.push_image(repo_name, "v1", content="three")
        await eventually(lambda: len(slack.posts) >= 2, within=10)
        await eventually(lambda: value_of(polls_b) >= 3)
        assert len(slack.posts) == 2
        assert str(third) in str(slack.posts[1].blocks)


async def test_a_graceful_stop_hands_the_poll_lease_over_at_once(
    tmp_path: Path, secrets_env: None, pg_url: str
) -> None:
    path = service_config(tmp_path, db=pg_url, watches=[])
    settings = load_settings(path)
    async with (
        running(settings, holder="replica-a") as a,
        running(settings, holder="replica-b") as b,
    ):
        assert a.service.leader and not b.service.leader
        await a.service.stop()  # releases the lease
        await b.service.renew_leases()
        assert b.service.leader
