"""The running service against the real test registry and a fake Slack: polls, webhooks, alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tests.support.registry import TestRegistry
from tests.support.services import HOOK_SECRET, eventually, free_port, running, service_config
from tests.support.slack import FakeSlack


async def test_a_pushed_digest_during_polling_gives_exactly_one_alert(
    registry: TestRegistry, repo_name: str, slack: FakeSlack, tmp_path: Path, secrets_env: None
) -> None:
    registry.push_image(repo_name, "v1", content="first")
    ref = f"{registry.host}/{repo_name}:v1"
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": ref, "interval": "300ms"}],
        slack=slack,
    )
    async with running(load_settings(path)) as svc:
        metrics = svc.service.metrics.registry
        labels = {"registry": registry.host, "source": "poll"}

        def polled() -> float:  # as a scrape reads it, not through the client's private state
            return metrics.get_sample_value("tagwatch_checks_total", labels) or 0.0

        await eventually(lambda: polled() >= 1)
        assert slack.posts == []  # the first sighting is history, not an alert
        new = registry.push_image(repo_name, "v1", content="second")
        await eventually(lambda: slack.posts, within=10)
        checks_then = polled()
        await eventually(lambda: polled() >= checks_then + 3)  # more polls: no repeat
        posts = slack.posts
        assert len(posts) == 1
        assert posts[0].channel == "C-ALERTS"
        assert str(new) in str(posts[0].blocks)
        response = await svc.client.get("/api/v1/moves")
        # "first_seen" is history, not a move; the filter once named a change kind ("added")
        # that does not exist, so it kept everything and checked only the last entry.
        moves = [m for m in response.json() if m["ref"] == ref and m["change"] != "first_seen"]
        assert [(m["change"], m["to_digest"]) for m in moves] == [("moved", str(new))]


async def test_a_registry_push_notification_triggers_a_check_within_seconds(
    make_registry: object, repo_name: str, slack: FakeSlack, tmp_path: Path, secrets_env: None
) -> None:
    port = free_port()
    reg: TestRegistry = make_registry(  # type: ignore[operator]
        notifications=[
            {
                "name": "tagwatch",
                "url": f"http://127.0.0.1:{port}/webhooks/distribution",
                "headers": {"Authorization": [f"Bearer {HOOK_SECRET}"]},
                "timeout": "2s",
                "threshold": 3,
                "backoff": "1s",
            }
        ]
    )
    reg.push_image(repo_name, "v1", content="first")
    ref = f"{reg.host}/{repo_name}:v1"
    # Polling every hour: only the webhook can make the check happen in time.
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": ref, "interval": "1h"}],
        slack=slack,
        listen=f"127.0.0.1:{port}",
    )
    settings = load_settings(path)
    watched = ImageRef.parse(ref)
    store = Store.open(f"sqlite:///{tmp_path / 'tw.db'}")
    try:
        async with running(settings, http=True) as svc:
            first = svc.service.trigger(watched)
            assert first is not None
            await first  # the first sighting, so the push below is a move
            new = reg.push_image(repo_name, "v1", content="second")
            # The next poll is an hour away, so an alert at all is the webhook's doing (the
            # source below says so); the wait is generous, only a lost notification ends it.
            posts = await eventually(lambda: slack.posts, within=30)
            assert len(posts) == 1
            with store.begin() as tx:
                history = tx.history(watched)
            assert history.current is not None and history.current.digest == new
            assert history.current.source.value == "webhook"
            await asyncio.sleep(1.0)
            assert len(slack.posts) == 1
    finally:
        store.close()
