"""`tagwatch backfill` as a user runs it (CliRunner, SQLite in tmp_path)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tagwatch.app.backfill import ProviderFor
from tagwatch.cli.main import app
from tagwatch.registry.providers.hub import HubAPI
from tests.support.github_api import FakeGitHubAPI
from tests.support.hub_api import FakeHubAPI
from tests.support.registry import TestRegistry

Run = Callable[..., Any]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'tagwatch.db'}"

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, [*args, "--db", db], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return invoke


@pytest.fixture
def hub_for_registry(
    registry: TestRegistry, hub_api: FakeHubAPI, monkeypatch: pytest.MonkeyPatch
) -> FakeHubAPI:
    """The CLI's vendor APIs replaced by: the test registry's host → the fake Hub API."""

    @asynccontextmanager
    async def fake_vendor_apis(env: Mapping[str, str]) -> AsyncIterator[ProviderFor]:
        async with httpx.AsyncClient() as http:
            yield {registry.host: HubAPI(http, base_url=hub_api.url)}.get

    monkeypatch.setattr("tagwatch.cli.backfill.vendor_apis", fake_vendor_apis)
    return hub_api


def test_backfill_records_the_push_time_and_prints_json(
    registry: TestRegistry, repo_name: str, hub_for_registry: FakeHubAPI, run: Run
) -> None:
    pushed = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    digest = registry.push_image(repo_name, "prod", content="v1")
    namespace, _, name = repo_name.partition("/")
    hub_for_registry.add_tag(namespace, name, "prod", digest, pushed=pushed, updated=pushed)
    ref = f"{registry.host}/{repo_name}:prod"

    [row] = json.loads(run("backfill", ref, "-o", "json").stdout)
    assert row["status"] == "backfilled"
    assert (row["digest"], row["since"], row["certain"]) == (
        str(digest),
        "2026-11-20T09:30:00Z",
        True,
    )

    history = json.loads(run("history", ref, "--at", "2026-11-21T00:00:00Z", "-o", "json").stdout)
    assert str(digest) in json.dumps(history)

    again = run("backfill", ref)
    assert "already_recorded" in again.output


def test_a_host_without_a_vendor_api_is_exit_1_with_the_reason(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    registry.push_image(repo_name, "prod", content="v1")
    result = run("backfill", f"{registry.host}/{repo_name}:prod", code=1)
    assert f"no vendor API for {registry.host}; history starts at the first poll" in result.output


def test_a_tag_checked_before_is_already_recorded_exit_0(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    registry.push_image(repo_name, "prod", content="v1")
    ref = f"{registry.host}/{repo_name}:prod"
    run("check", ref)
    [row] = json.loads(run("backfill", ref, "-o", "json").stdout)
    assert row["status"] == "already_recorded"
    assert row["message"].startswith("already recorded since ")


def test_github_token_and_api_url_come_from_the_environment_and_stay_secret(
    github_api: FakeGitHubAPI, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_API_URL", github_api.url)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_the_right_one_9d2e")
    result = run("backfill", "ghcr.io/org/app:prod", code=1)
    assert "401" in result.output and "read:packages" in result.output
    assert "ghp_not_the_right_one_9d2e" not in result.output
    assert github_api.requests[0].authorization == "Bearer ghp_not_the_right_one_9d2e"


def test_a_bad_reference_is_exit_2(run: Run) -> None:
    result = run("backfill", "Not A Ref", code=2)
    assert "invalid image reference" in result.output
