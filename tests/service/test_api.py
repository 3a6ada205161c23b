"""The read-only API, health and metrics in-process (httpx.ASGITransport); schemathesis over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from tagwatch.app.check import run_check
from tagwatch.app.service import build_service
from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tagwatch.web import create_app
from tests.support.registry import TestRegistry
from tests.support.services import Running, eventually, running, service_config


async def test_history_moves_and_tags_come_from_the_store(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    first = registry.push_image(repo_name, "v1", content="one")
    ref = f"{registry.host}/{repo_name}:v1"
    path = service_config(
        tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[{"ref": ref, "interval": "1h"}]
    )
    async with running(load_settings(path)) as svc:
        svc_ref = ImageRef.parse(ref)
        await run_check([svc_ref], registry=svc.service.registry, store=svc.service.store)
        second = registry.push_image(repo_name, "v1", content="two")
        await run_check([svc_ref], registry=svc.service.registry, store=svc.service.store)

        tags = (await svc.client.get("/api/v1/tags")).json()
        assert {"ref": ref, "digest": str(second)} in [
            {"ref": t["ref"], "digest": t["current"]["digest"]} for t in tags
        ]
        history = (await svc.client.get(f"/api/v1/tags/{ref}/history")).json()
        assert [s["digest"] for s in history["sightings"]] == [str(first), str(second)]
        moves = (await svc.client.get("/api/v1/moves")).json()
        mine = [m for m in moves if m["ref"] == ref]
        assert mine[-1]["from_digest"] == str(first) and mine[-1]["to_digest"] == str(second)
        later = await svc.client.get("/api/v1/moves", params={"since": "2999-01-01T00:00:00Z"})
        assert later.json() == []
        # the same spans as `tagwatch history --since`
        recent = (await svc.client.get("/api/v1/moves", params={"since": "1h"})).json()
        assert [m["to_digest"] for m in recent if m["ref"] == ref][-1] == str(second)
        unreadable = await svc.client.get("/api/v1/moves", params={"since": "yesterday"})
        assert unreadable.status_code == 422
        assert unreadable.json()["detail"][0]["loc"] == ["query", "since"]
        unknown = await svc.client.get(f"/api/v1/tags/{registry.host}/never/seen:v1/history")
        assert unknown.status_code == 404
        bad = await svc.client.get("/api/v1/tags/Not A Ref/history")
        assert bad.status_code == 404 and "invalid image reference" in bad.json()["detail"]


async def test_health_readiness_and_metrics(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    ref = f"{registry.host}/{repo_name}:v1"
    path = service_config(
        tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[{"ref": ref, "interval": "200ms"}]
    )
    async with running(load_settings(path)) as svc:
        assert (await svc.client.get("/healthz")).json() == {"status": "ok"}
        ready = await svc.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["database"] is True and ready.json()["scheduler"] is True
        await eventually(lambda: svc.service.last_cycle is not None)
        text = (await svc.client.get("/metrics")).text
        assert f'tagwatch_checks_total{{registry="{registry.host}",source="poll"}}' in text
        assert "tagwatch_outbox_depth" in text
        assert "tagwatch_check_batch_seconds_bucket" in text
        assert "tagwatch_poll_leader 1.0" in text
        cycle = (await svc.client.get("/readyz")).json()["last_cycle_age_seconds"]
        assert cycle is not None and cycle < 5


async def test_readiness_fails_when_the_scheduler_is_stopped(
    tmp_path: Path, secrets_env: None
) -> None:
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[])
    async with running(load_settings(path)) as svc:
        await svc.service.stop()
        response = await svc.client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["scheduler"] is False


@pytest.fixture
def api_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    Store.open(db).close()
    path = service_config(tmp_path, db=db, watches=[], webhooks={})
    settings_ = load_settings(path)
    service = build_service(settings_)
    yield create_app(service, lifecycle=False)
    service.store.close()


def test_the_api_follows_its_openapi_description(api_app: object) -> None:
    """schemathesis: generated requests to every read-only operation get documented answers."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app).include(
        path_regex="^/(api/|healthz|metrics)"  # /readyz answers 503 on purpose here
    )
    # A cursor is opaque: one this API never handed out is a 400 (documented), not accepted.
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "400"]
    results = list(schema.get_all_operations())
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    assert len(operations) == len(results)  # no operation failed to load
    assert len(operations) == 8  # health, metrics, tags, history, builds, moves, findings, episodes

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate()

        check()


def test_openapi_lists_the_api_and_webhooks(api_app: object) -> None:
    from fastapi import FastAPI

    assert isinstance(api_app, FastAPI)
    paths = set(api_app.openapi()["paths"])
    assert {
        "/api/v1/tags",
        "/api/v1/tags/{ref}/history",
        "/api/v1/moves",
        "/api/v1/clusters/{name}/findings",
        "/api/v1/clusters/{name}/episodes",
        "/healthz",
        "/readyz",
        "/metrics",
        "/webhooks/distribution",
        "/webhooks/github",
        "/webhooks/ecr",
        "/webhooks/dockerhub/{token}",
    } <= paths


_ = Running


async def test_a_move_between_indexes_of_the_same_platform_images_says_so(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    images = {"linux/amd64": "amd", "linux/arm64": "arm"}
    registry.push_index(repo_name, "multi", images, built_at="2026-11-30T10:00:00Z")
    ref = f"{registry.host}/{repo_name}:multi"
    path = service_config(
        tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[{"ref": ref, "interval": "1h"}]
    )
    async with running(load_settings(path)) as svc:
        svc_ref = ImageRef.parse(ref)
        await run_check([svc_ref], registry=svc.service.registry, store=svc.service.store)
        registry.push_index(repo_name, "multi", images, built_at="2026-11-30T11:00:00Z")
        await run_check([svc_ref], registry=svc.service.registry, store=svc.service.store)
        registry.push_index(repo_name, "multi", {**images, "linux/amd64": "new"})
        await run_check([svc_ref], registry=svc.service.registry, store=svc.service.store)
        moves = (await svc.client.get("/api/v1/moves")).json()
        mine = [(m["change"], m["same_images"]) for m in moves if m["ref"] == ref]
        assert mine == [("first_seen", False), ("moved", True), ("moved", False)]
