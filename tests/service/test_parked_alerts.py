"""Alerts that Slack refused for good are retried when the service starts again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from tagwatch.app.check import run_check
from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tests.support.registry import TestRegistry
from tests.support.services import SLACK_ENV, eventually, running, service_config
from tests.support.slack import VALID_TOKEN, FakeSlack


async def test_a_restart_after_fixing_the_token_delivers_alerts_parked_as_permanent_failures(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    secrets_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.push_image(repo_name, "v1", content="first")
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": str(ref), "interval": "1h"}],
        slack=slack,
    )
    monkeypatch.setenv(SLACK_ENV, "xoxb-revoked")
    async with running(load_settings(path)) as svc:
        service = svc.service
        await run_check([ref], registry=service.registry, store=service.store)
        registry.push_image(repo_name, "v1", content="second")
        task = service.trigger(ref)
        assert task is not None
        await task
        await eventually(lambda: _parked(svc.service.store), within=10)
    assert slack.posts == []

    monkeypatch.setenv(SLACK_ENV, VALID_TOKEN)
    async with running(load_settings(path)):
        await eventually(lambda: slack.posts, within=10)
    assert len(slack.posts) == 1


def _parked(store: Store) -> bool:
    """One undelivered alert, refused for good: not due again for hours."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT attempts, next_attempt_at FROM outbox WHERE delivered_at IS NULL")
        ).all()
    if len(rows) != 1 or rows[0].attempts == 0:
        return False
    due = rows[0].next_attempt_at
    due = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
    return due.replace(tzinfo=UTC) > datetime.now(UTC) + timedelta(hours=2)
