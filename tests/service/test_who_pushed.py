"""Who pushed: the actor each vendor's webhook names is recorded with the move it triggered and
shown in history and the API ("webhook by ci-bot")."""

from __future__ import annotations

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.web.payloads import (
    DistributionNotification,
    DockerHubPush,
    EcrImageAction,
    GitHubPackageEvent,
    Push,
)
from tests.service.test_webhooks import DOCKERHUB, ECR, GITHUB, distribution_event
from tests.support.registry import TestRegistry
from tests.support.services import HOOK_SECRET, Running, eventually

ZERO = "sha256:" + "0" * 64  # the digest distribution_event names


def test_each_vendor_payload_names_who_pushed() -> None:
    # The documented fields: distribution `actor.name`, Harbor `operator`, Docker Hub
    # `push_data.pusher`, GitHub `sender.login`; EventBridge's ECR event names nobody.
    event = distribution_event("registry.example", "team/app", "v1")
    event["events"][0]["actor"] = {"name": "ci-bot"}
    assert DistributionNotification.model_validate(event).pushes() == [
        Push(ImageRef.parse("registry.example/team/app:v1"), "ci-bot", Digest.parse(ZERO))
    ]
    harbor = {
        "type": "PUSH_ARTIFACT",
        "operator": "alice",
        "event_data": {
            "resources": [{"tag": "v2", "resource_url": "harbor.example.com/lib/app:v2"}]
        },
    }
    assert DistributionNotification.model_validate(harbor).pushes() == [
        Push(ImageRef.parse("harbor.example.com/lib/app:v2"), "alice")
    ]
    assert DockerHubPush.model_validate(DOCKERHUB).pushes() == [
        Push(ImageRef.parse("docker.io/org/app:v1"), "someone")
    ]
    github = {**GITHUB, "sender": {"login": "octocat"}}
    assert GitHubPackageEvent.model_validate(github).pushes() == [
        Push(ImageRef.parse("ghcr.io/org/app:v1"), "octocat")
    ]
    assert GitHubPackageEvent.model_validate(GITHUB).pushes()[0] == Push(
        ImageRef.parse("ghcr.io/org/app:v1"), None
    )
    [ecr] = EcrImageAction.model_validate(ECR).pushes()
    assert ecr is not None and ecr.by is None


def test_an_actor_name_is_one_bounded_line() -> None:
    event = distribution_event("registry.example", "team/app", "v1")
    event["events"][0]["actor"] = {"name": "evil\nINFO forged log line " + "x" * 1000}
    [push] = DistributionNotification.model_validate(event).pushes()
    assert push is not None and push.by is not None
    assert "\n" not in push.by and len(push.by) == 255


async def test_a_repush_announced_by_webhook_is_recorded_with_who_pushed(
    svc: Running, registry: TestRegistry, repo_name: str
) -> None:
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    first = registry.current(repo_name, "v1")
    headers = {"Authorization": f"Bearer {HOOK_SECRET}"}
    unnamed = distribution_event(registry.host, repo_name, "v1")  # an event without an actor
    await svc.client.post("/webhooks/distribution", json=unnamed, headers=headers)
    await eventually(lambda: _sightings(svc, ref) == 1)

    second = registry.push_image(repo_name, "v1", content="two")
    event = distribution_event(registry.host, repo_name, "v1")
    event["events"][0]["actor"] = {"name": "ci-bot"}
    response = await svc.client.post("/webhooks/distribution", json=event, headers=headers)
    assert response.json()["checks"] == [str(ref)]
    await eventually(lambda: _sightings(svc, ref) == 2)

    history = (await svc.client.get(f"/api/v1/tags/{ref}/history")).json()
    # The first sighting may come from the service's first poll or from the unnamed webhook.
    assert [(s["digest"], s["pushed_by"]) for s in history["sightings"]] == [
        (str(first), None),
        (str(second), "ci-bot"),
    ]
    assert history["sightings"][1]["source"] == "webhook"
    moves = (await svc.client.get("/api/v1/moves", params={"ref": str(ref)})).json()
    assert [(m["change"], m["pushed_by"]) for m in moves] == [
        ("first_seen", None),
        ("moved", "ci-bot"),
    ]


def _sightings(svc: Running, ref: ImageRef) -> int:
    with svc.service.store.begin() as tx:
        return len(tx.history(ref).sightings)
