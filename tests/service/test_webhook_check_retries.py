"""A webhook-triggered check that fails on our side (PostgreSQL not accepting connections) is
logged, counted and retried with backoff until the database is back (issue 13 #3): the move
is recorded from the webhook, not left to the next poll an hour later."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tests.service.test_webhooks import distribution_event
from tests.store.databases import PG_ADMIN_URL
from tests.support.metrics import value_of
from tests.support.registry import TestRegistry
from tests.support.services import HOOK_SECRET, eventually, running, service_config


def _accepting(url: str, accepting: bool) -> None:
    """Let the database take connections, or refuse them and end the open ones."""
    name = make_url(url).database
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            allow = "true" if accepting else "false"
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allow}'))
            if not accepting:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
    finally:
        engine.dispose()


async def test_a_webhook_check_that_fails_on_the_database_is_retried_until_it_is_back(
    registry: TestRegistry,
    repo_name: str,
    tmp_path: Path,
    pg_url: str,
    secrets_env: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tagwatch.app.webhook_checks")
    pushed = registry.push_image(repo_name, "v1", content="one")
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    path = service_config(tmp_path, db=pg_url, watches=[{"ref": str(ref), "interval": "1h"}])
    async with running(load_settings(path)) as svc:
        _accepting(pg_url, False)
        try:
            response = await svc.client.post(
                "/webhooks/distribution",
                json=distribution_event(registry.host, repo_name, "v1"),
                headers={"Authorization": f"Bearer {HOOK_SECRET}"},
            )
            assert response.status_code == 202
            failed = svc.service.metrics.webhook_check_failures.labels(registry.host)
            await eventually(lambda: value_of(failed) >= 2, within=20)
        finally:
            _accepting(pg_url, True)
        webhook = svc.service.metrics.checks.labels(registry.host, "webhook")
        await eventually(lambda: value_of(webhook) == 1, within=60)
        history = (await svc.client.get(f"/api/v1/tags/{ref}/history")).json()
        assert [(s["digest"], s["source"]) for s in history["sightings"]] == [
            (str(pushed), "webhook")
        ]
    retries = [r for r in caplog.records if r.getMessage().startswith("webhook check of")]
    assert retries and all(not r.exc_info for r in retries)
    assert "(attempt 1)" in retries[0].getMessage() and "retrying in" in retries[0].getMessage()
