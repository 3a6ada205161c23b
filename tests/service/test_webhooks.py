"""Webhooks: unsigned or forged requests are refused (401) for every kind; signed ones check."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from tagwatch.app.settings import load_settings
from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.web.payloads import (
    DistributionNotification,
    DockerHubPush,
    EcrImageAction,
    GitHubPackageEvent,
)
from tests.support.metrics import value_of
from tests.support.registry import TestRegistry
from tests.support.services import (
    GITHUB_SECRET,
    HOOK_SECRET,
    Running,
    eventually,
    running,
    service_config,
)

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def distribution_event(
    host: str, repo: str, tag: str, media_type: str = MANIFEST
) -> dict[str, Any]:
    return {
        "events": [
            {
                "action": "push",
                "target": {
                    "mediaType": media_type,
                    "repository": repo,
                    "tag": tag,
                    "digest": "sha256:" + "0" * 64,
                    "url": f"http://{host}/v2/{repo}/manifests/sha256:{'0' * 64}",
                },
                "request": {"host": host},
            }
        ]
    }


DOCKERHUB = {
    "push_data": {"tag": "v1", "pusher": "someone"},
    "repository": {"repo_name": "org/app"},
}
GITHUB = {
    "action": "published",
    "package": {
        "name": "app",
        "package_type": "CONTAINER",
        "owner": {"login": "Org"},
        "package_version": {"container_metadata": {"tag": {"name": "v1", "digest": "sha256:1"}}},
    },
}
ECR: dict[str, Any] = {
    "detail-type": "ECR Image Action",
    "source": "aws.ecr",
    "account": "123456789012",
    "region": "eu-west-1",
    "detail": {
        "action-type": "PUSH",
        "result": "SUCCESS",
        "repository-name": "app",
        "image-tag": "v1",
    },
}


def sign(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {HOOK_SECRET}"}],
    ids=["unsigned", "forged", "wrong-scheme"],
)
async def test_distribution_without_the_secret_is_refused(
    svc: Running, headers: dict[str, str]
) -> None:
    body = distribution_event("127.0.0.1:1", "a/b", "v1")
    response = await svc.client.post("/webhooks/distribution", json=body, headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "path", ["/webhooks/dockerhub", "/webhooks/dockerhub/wrong", "/webhooks/dockerhub?token=wrong"]
)
async def test_dockerhub_without_the_token_is_refused(svc: Running, path: str) -> None:
    assert (await svc.client.post(path, json=DOCKERHUB)).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, {"X-Hub-Signature-256": "garbage"}],
    ids=["unsigned", "forged", "malformed"],
)
async def test_github_without_a_valid_signature_is_refused(
    svc: Running, headers: dict[str, str]
) -> None:
    response = await svc.client.post(
        "/webhooks/github",
        content=json.dumps(GITHUB).encode(),
        headers={"X-GitHub-Event": "package", **headers},
    )
    assert response.status_code == 401


async def test_github_signed_over_another_body_is_refused(svc: Running) -> None:
    signature = sign(b'{"something": "else"}')
    response = await svc.client.post(
        "/webhooks/github",
        content=json.dumps(GITHUB).encode(),
        headers={"X-GitHub-Event": "package", "X-Hub-Signature-256": signature},
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"X-Tagwatch-Secret": "nope"}]
)
async def test_ecr_without_the_secret_is_refused(svc: Running, headers: dict[str, str]) -> None:
    assert (await svc.client.post("/webhooks/ecr", json=ECR, headers=headers)).status_code == 401


async def test_signed_requests_of_every_kind_are_accepted(svc: Running) -> None:
    bearer = {"Authorization": f"Bearer {HOOK_SECRET}"}
    body = json.dumps(GITHUB).encode()
    answers = [
        await svc.client.post("/webhooks/dockerhub", params={"token": HOOK_SECRET}, json=DOCKERHUB),
        await svc.client.post(f"/webhooks/dockerhub/{HOOK_SECRET}", json=DOCKERHUB),
        await svc.client.post(
            "/webhooks/github",
            content=body,
            headers={"X-GitHub-Event": "package", "X-Hub-Signature-256": sign(body)},
        ),
        await svc.client.post("/webhooks/ecr", json=ECR, headers=bearer),
        await svc.client.post(
            "/webhooks/ecr", json=ECR, headers={"X-Tagwatch-Secret": HOOK_SECRET}
        ),
    ]
    assert [a.status_code for a in answers] == [202] * 5
    # None of these tags is watched: accepted, and no check is started.
    assert all(a.json() == {"checks": [], "ignored": 1} for a in answers)


async def test_a_signed_push_of_a_watched_tag_triggers_a_webhook_check(
    svc: Running, registry: TestRegistry, repo_name: str
) -> None:
    body = distribution_event(registry.host, repo_name, "v1")
    response = await svc.client.post(
        "/webhooks/distribution", json=body, headers={"Authorization": f"Bearer {HOOK_SECRET}"}
    )
    assert response.status_code == 202
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    assert response.json() == {"checks": [str(ref)], "ignored": 0}
    metrics = svc.service.metrics.registry
    labels = {"registry": registry.host, "source": "webhook"}
    # At least once: the announced digest (000…) never shows, so it is checked a few times.
    await eventually(lambda: (metrics.get_sample_value("tagwatch_checks_total", labels) or 0) >= 1)


async def _first_sighting(svc: Running, ref: ImageRef) -> None:
    """Record the tag's digest now (the service's own first poll is up to an interval away)."""
    check = svc.service.trigger(ref)
    assert check is not None
    await check
    assert _sightings(svc, ref)


def _sightings(svc: Running, ref: ImageRef) -> list[tuple[str, str]]:
    """(digest, source) of each recorded sighting of `ref`, oldest first."""
    with svc.service.store.begin() as tx:
        return [(str(s.digest), s.source.value) for s in tx.history(ref).sightings]


async def test_a_forged_digest_in_a_signed_webhook_cannot_write_history(
    svc: Running, registry: TestRegistry, repo_name: str
) -> None:
    real = registry.current(repo_name, "v1")
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    await _first_sighting(svc, ref)
    body = distribution_event(registry.host, repo_name, "v1")  # claims digest 000…
    headers = {"Authorization": f"Bearer {HOOK_SECRET}"}
    await svc.client.post("/webhooks/distribution", json=body, headers=headers)
    webhook = svc.service.metrics.checks.labels(registry.host, "webhook")
    # The registry never shows the announced digest: checked again a few times, never written.
    await eventually(lambda: value_of(webhook) >= 1 + 3, within=20)
    history = (await svc.client.get(f"/api/v1/tags/{ref}/history")).json()
    assert [s["digest"] for s in history["sightings"]] == [str(real)]


async def test_a_webhook_ahead_of_the_registry_is_checked_again_until_the_tag_moves(
    svc: Running, registry: TestRegistry, repo_name: str
) -> None:
    # distribution notifies from its manifest store, before the tag points at the new
    # manifest: a check that fast still reads the old digest. Here the webhook comes first.
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    await _first_sighting(svc, ref)
    body, media_type = registry.build_image(repo_name, content="two")
    new = Digest.of(body)
    event = distribution_event(registry.host, repo_name, "v1")
    event["events"][0]["target"]["digest"] = str(new)
    headers = {"Authorization": f"Bearer {HOOK_SECRET}"}
    await svc.client.post("/webhooks/distribution", json=event, headers=headers)
    webhook = svc.service.metrics.checks.labels(registry.host, "webhook")
    await eventually(lambda: value_of(webhook) >= 2)  # it saw the old digest
    registry.push_manifest(repo_name, "v1", body, media_type)
    found = await eventually(
        lambda: [s for s in _sightings(svc, ref) if s[0] == str(new)], within=20
    )
    assert found == [(str(new), "webhook")]  # recorded by the webhook's checks, not a poll


async def test_layer_pushes_and_unwatched_tags_are_ignored(
    svc: Running, registry: TestRegistry, repo_name: str
) -> None:
    event = distribution_event(registry.host, repo_name, "v1", media_type=LAYER)
    event["events"] += distribution_event(registry.host, repo_name, "other")["events"]
    event["events"].append({"action": "pull", "target": {"mediaType": MANIFEST, "tag": "v1"}})
    response = await svc.client.post(
        "/webhooks/distribution", json=event, headers={"Authorization": f"Bearer {HOOK_SECRET}"}
    )
    assert response.json() == {"checks": [], "ignored": 3}


async def test_a_kind_without_a_secret_is_disabled(
    registry: TestRegistry, tmp_path: Path, secrets_env: None
) -> None:
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[], webhooks={})
    settings = load_settings(path)
    async with running(settings) as handle:
        response = await handle.client.post("/webhooks/distribution", json={})
        assert response.status_code == 404


def test_payloads_name_the_tag_they_pushed() -> None:
    assert DockerHubPush.model_validate(DOCKERHUB).pushed() == [
        ImageRef.parse("docker.io/org/app:v1")
    ]
    assert GitHubPackageEvent.model_validate(GITHUB).pushed() == [
        ImageRef.parse("ghcr.io/org/app:v1")
    ]
    assert EcrImageAction.model_validate(ECR).pushed() == [
        ImageRef.parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1")
    ]
    harbor = {
        "type": "PUSH_ARTIFACT",
        "event_data": {
            "resources": [{"tag": "v2", "resource_url": "harbor.example.com/lib/app:v2"}]
        },
    }
    assert DistributionNotification.model_validate(harbor).pushed() == [
        ImageRef.parse("harbor.example.com/lib/app:v2")
    ]
    delete = {**ECR, "detail": {**ECR["detail"], "action-type": "DELETE"}}
    assert EcrImageAction.model_validate(delete).pushed() == [None]


async def test_a_webhook_during_a_running_check_gets_one_more_check_after_it(
    svc: Running, registry: TestRegistry, repo_name: str
) -> None:
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    first = svc.service.trigger(ref)
    await asyncio.sleep(0)  # the check starts and waits for the registry
    # Three more pushes announced while the first check runs: it may have asked the registry
    # before they landed, so exactly one more check follows (not zero, not three).
    again = [svc.service.trigger(ref) for _ in range(3)]
    assert first is not None and all(task is first for task in again)
    results = await first
    assert len(results) == 2
    assert value_of(svc.service.metrics.checks.labels(registry.host, "webhook")) == 2
