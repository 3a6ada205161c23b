"""One path from a recorded move to Slack: whoever records it, the service delivers it once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagwatch.app.settings import load_settings
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Observation, Source, TagHistory, classify
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tagwatch.store.events import EventState
from tests.support.metrics import value_of
from tests.support.registry import TestRegistry
from tests.support.services import eventually, running, service_config
from tests.support.slack import FakeSlack


async def _cli_check(ref: str, db: str) -> None:
    """`tagwatch check` as CI runs it: another process, no Slack settings, the same database."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tagwatch", "check", ref, "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_a_move_recorded_by_a_cli_check_reaches_slack_exactly_once(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    secrets_env: None,
    db: str,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    registry.push_image(repo_name, "prod", content="one")
    # The service watches nothing: it never polls this tag, only routes what others record.
    path = service_config(tmp_path, db=db, watches=[], slack=slack)
    async with running(load_settings(path)) as svc:
        await _cli_check(ref, db)  # first sighting: history, no alert
        new = registry.push_image(repo_name, "prod", content="two")
        await _cli_check(ref, db)
        await eventually(lambda: slack.posts, within=10)
        await _cli_check(ref, db)  # unchanged: nothing more
        await asyncio.sleep(2 * svc.settings.scheduler.delivery_interval)
        assert len(slack.posts) == 1
        assert str(new) in str(slack.posts[0].blocks)
        moved = value_of(svc.service.metrics.moves.labels(registry.host, "moved"))
        assert moved == 1  # tagwatch_moves_total counts the move it never polled


def _record_move(store: Store, ref: ImageRef, at: datetime) -> None:
    """Record a first sighting and a re-push of `ref` at `at`, as any writer does."""
    for when, content in ((at - timedelta(hours=1), b"old"), (at, b"new")):
        with store.begin() as tx:
            history: TagHistory = tx.history(ref)
            observation = Observation(ref, Digest.of(content), when, Source.POLL)
            tx.record(observation, classify(history, observation))


async def test_moves_older_than_the_event_age_are_marked_expired_and_not_sent(
    slack: FakeSlack, tmp_path: Path, secrets_env: None
) -> None:
    db = f"sqlite:///{tmp_path / 'laptop.db'}"
    ref = ImageRef.parse("ghcr.io/org/app:prod")
    with Store.open(db) as store:
        _record_move(store, ref, datetime.now(UTC) - timedelta(days=3))  # an old laptop file
        _record_move(store, ref.with_tag("fresh"), datetime.now(UTC))
    path = service_config(tmp_path, db=db, watches=[], slack=slack)
    async with running(load_settings(path)) as svc:
        await eventually(lambda: slack.posts, within=10)
        await eventually(lambda: value_of(svc.service.metrics.expired_events) == 2)
        await asyncio.sleep(2 * svc.settings.scheduler.delivery_interval)
        [post] = slack.posts
        assert ":fresh" in str(post.blocks)
        with svc.service.store.begin() as tx:
            counts = tx.events.counts()
        assert counts[EventState.EXPIRED] == 2  # the old first sighting and its move
        assert counts[EventState.ROUTED] == 2
        assert counts[EventState.PENDING] == 0


async def test_two_replicas_on_postgresql_deliver_each_recorded_move_once(
    slack: FakeSlack, tmp_path: Path, secrets_env: None, pg_url: str
) -> None:
    path = service_config(tmp_path, db=pg_url, watches=[], slack=slack)
    settings = load_settings(path)
    refs = [ImageRef.parse(f"ghcr.io/org/app:r{i}") for i in range(12)]
    async with running(settings, holder="a") as one, running(settings, holder="b") as two:
        for ref in refs:
            await asyncio.to_thread(_record_move, one.service.store, ref, datetime.now(UTC))
        await eventually(lambda: len(slack.posts) >= len(refs), within=30)
        await asyncio.sleep(3 * settings.scheduler.delivery_interval)
        posted = [p for p in slack.posts if p.thread_ts is None]
        assert len(slack.posts) == len(refs)
        assert len(posted) == len(refs)
        routed = sum(
            value_of(svc.service.metrics.moves.labels("ghcr.io", "moved")) for svc in (one, two)
        )
        assert routed == len(refs)
