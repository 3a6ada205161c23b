"""Authenticated webhooks whose body is not the sender's documented shape: 400 with one line,
counted as malformed, and no traceback in the log (the issue's payloads, as found)."""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx
import pytest

from tests.support.services import GITHUB_SECRET, HOOK_SECRET, Running

BEARER = {"Authorization": f"Bearer {HOOK_SECRET}"}


def signed(body: bytes) -> dict[str, str]:
    mac = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={mac}", "X-GitHub-Event": "package"}


async def post(hooks: Running, kind: str, body: bytes) -> httpx.Response:
    if kind == "github":
        return await hooks.client.post("/webhooks/github", content=body, headers=signed(body))
    if kind == "dockerhub":
        return await hooks.client.post(f"/webhooks/dockerhub/{HOOK_SECRET}", content=body)
    return await hooks.client.post(f"/webhooks/{kind}", content=body, headers=BEARER)


MALFORMED = [
    ("distribution", b'{"events":5}'),
    ("distribution", b'{"events":[{"action":"push","target":"x"}]}'),
    ("distribution", b"[" * 100_000),
    ("distribution", b'{"type":"PUSH_ARTIFACT","event_data":"x"}'),
    ("dockerhub", b'{"repository":"x","push_data":{"tag":"a"}}'),
    ("github", b'{"package":{"package_type":null}}'),
    ("ecr", b'{"detail":"x"}'),
    ("ecr", b'{"detail": {"action-type": ["PUSH"]}}'),
    ("dockerhub", b"not json"),
    ("github", b"\xff\xfe"),
    ("ecr", b"[" * 100_000),
    ("github", b'{"package":' * 50_000),
]


@pytest.mark.parametrize(("kind", "body"), MALFORMED, ids=[f"{k}:{b[:40]!r}" for k, b in MALFORMED])
async def test_a_malformed_authenticated_payload_is_400_in_one_line_and_counted(
    hooks: Running, kind: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await post(hooks, kind, body)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and len(detail) < 400
    counted = hooks.service.metrics.registry.get_sample_value(
        "tagwatch_webhook_requests_total", {"kind": kind, "outcome": "malformed"}
    )
    assert counted == 1
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == [f"webhook {kind} refused (400): {detail}"]


async def test_a_payload_that_fails_says_which_field_is_wrong(hooks: Running) -> None:
    response = await post(hooks, "distribution", b'{"events":5}')
    assert response.json()["detail"] == (
        "the payload does not have the documented shape: events: Input should be a valid array"
    )
    response = await post(hooks, "dockerhub", b"not json")
    assert response.json()["detail"] == "the body is not JSON"


async def test_well_formed_payloads_of_every_kind_are_counted_as_accepted(
    hooks: Running,
) -> None:
    bodies = {
        "distribution": b'{"events": []}',
        "dockerhub": b'{"push_data": {"tag": "v1"}, "repository": {"repo_name": "org/app"}}',
        "github": b'{"package": {"name": "app", "package_type": "npm"}}',
        "ecr": b'{"detail": {"action-type": "DELETE"}}',
    }
    for kind, body in bodies.items():
        assert (await post(hooks, kind, body)).status_code == 202, kind
        counted = hooks.service.metrics.registry.get_sample_value(
            "tagwatch_webhook_requests_total", {"kind": kind, "outcome": "accepted"}
        )
        assert counted == 1, kind


async def test_refusals_are_counted_by_reason(hooks: Running) -> None:
    await hooks.client.post("/webhooks/distribution", json={"events": []})
    await hooks.client.post(
        "/webhooks/ecr", content=b"{}", headers={**BEARER, "Content-Length": str(10**9)}
    )
    sample = hooks.service.metrics.registry.get_sample_value
    assert (
        sample(
            "tagwatch_webhook_requests_total",
            {"kind": "distribution", "outcome": "unauthenticated"},
        )
        == 1
    )
    assert sample("tagwatch_webhook_requests_total", {"kind": "ecr", "outcome": "too_large"}) == 1
