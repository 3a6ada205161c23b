"""Push webhooks (distribution/Harbor, Docker Hub, GitHub, ECR): authenticate, trigger a check.

A webhook never writes history: it only asks the service to check the tag now (source
`webhook`), and what is recorded is the registry's own answer. An endpoint whose secret is
not configured answers 404; a missing or wrong secret or signature answers 401; a body over
the endpoint's cap 413 (before it is read, where the size is declared); a body that is not
the sender's documented shape 400. Every refusal is counted in `tagwatch_webhook_requests`.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ValidationError

from tagwatch.app.service import Service
from tagwatch.web.bodies import MiB, read_capped, spool_signed
from tagwatch.web.payloads import (
    MANIFEST_MEDIA_TYPES,
    DistributionNotification,
    DockerHubPush,
    EcrImageAction,
    GitHubPackageEvent,
    Payload,
    Push,
    problem,
)

__all__ = ["BODY_LIMITS", "MANIFEST_MEDIA_TYPES", "WebhookMetrics", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: The largest body each endpoint reads. GitHub documents 25 MB as its own cap; the others
#: send a few KiB (an EventBridge event is at most 256 KB).
BODY_LIMITS = {
    "distribution": 1 * MiB,
    "dockerhub": 256 * 1024,
    "github": 25 * MiB,
    "ecr": 256 * 1024,
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body is not JSON, or not the sender's documented payload"},
    401: {"description": "missing or wrong secret / signature"},
    404: {"description": "this webhook kind has no secret configured"},
    413: {"description": "the body is over this endpoint's size limit"},
}
_OUTCOMES = {400: "malformed", 401: "unauthenticated", 404: "disabled", 413: "too_large"}
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
P = TypeVar("P", bound=Payload)


class WebhookMetrics:
    """Webhook requests by kind and outcome (accepted, or why they were refused)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "tagwatch_webhook_requests",
            "Webhook requests, by kind and outcome (accepted, unauthenticated, disabled, "
            "too_large, malformed)",
            ["kind", "outcome"],
            registry=registry,
        )


class Accepted(BaseModel):
    """Tags whose check was started, and events ignored (not a tag push, or not watched)."""

    checks: list[str]
    ignored: int


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def _counted(
    request: Request, kind: str, handle: Callable[[], Awaitable[Accepted]]
) -> Accepted:
    """Run `handle`, counting its outcome; a refusal is logged as one line (no traceback)."""
    metrics: WebhookMetrics = request.app.state.webhook_metrics
    try:
        accepted = await handle()
    except HTTPException as exc:
        outcome = _OUTCOMES.get(exc.status_code, str(exc.status_code))
        metrics.requests.labels(kind, outcome).inc()
        if exc.status_code in (400, 413):
            log.warning("webhook %s refused (%d): %s", kind, exc.status_code, exc.detail)
        raise
    metrics.requests.labels(kind, "accepted").inc()
    return accepted


def _secret(request: Request, kind: str) -> str:
    secrets: dict[str, str | None] = request.app.state.webhook_secrets
    secret = secrets.get(kind)
    if not secret:
        raise HTTPException(status_code=404, detail=f"the {kind} webhook is not configured")
    return secret


def _same(given: str | None, secret: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


def _bearer(request: Request, secret: str, *extra_headers: str) -> None:
    """Accept `Authorization: Bearer <secret>` (or the secret in one of `extra_headers`)."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and _same(token.strip(), secret):
        return
    if any(_same(request.headers.get(h), secret) for h in extra_headers):
        return
    raise HTTPException(status_code=401, detail="missing or wrong webhook secret")


def _payload(model: type[P], body: bytes) -> P:
    """The body validated as `model` (pydantic's JSON parser bounds nesting); 400 otherwise."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(status_code=400, detail=problem(exc)) from None


def _trigger(service: Service, pushes: Iterable[Push | None]) -> Accepted:
    checks: list[str] = []
    ignored = 0
    for push in pushes:
        if push is None:
            ignored += 1
        elif service.trigger(push.ref, pushed_by=push.by, announced=push.digest) is not None:
            checks.append(str(push.ref))
        else:
            ignored += 1
    if checks:
        log.info("webhook: checking %s", ", ".join(checks))
    return Accepted(checks=checks, ignored=ignored)


async def _bearer_hook(
    request: Request, kind: str, model: type[Payload], *extra_headers: str
) -> Accepted:
    _bearer(request, _secret(request, kind), *extra_headers)
    body = await read_capped(request, BODY_LIMITS[kind])
    return _trigger(_service(request), _payload(model, body).pushes())


@router.post("/distribution", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def distribution(request: Request) -> Accepted:
    """CNCF distribution / Harbor notifications; configure the registry to send
    `Authorization: Bearer <secret>` in the endpoint's headers."""
    return await _counted(
        request,
        "distribution",
        lambda: _bearer_hook(request, "distribution", DistributionNotification),
    )


async def _dockerhub(request: Request, token: str | None) -> Accepted:
    secret = _secret(request, "dockerhub")
    if not _same(token, secret):
        raise HTTPException(status_code=401, detail="missing or wrong webhook token")
    body = await read_capped(request, BODY_LIMITS["dockerhub"])
    return _trigger(_service(request), _payload(DockerHubPush, body).pushes())


@router.post("/dockerhub", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def dockerhub_query(request: Request, token: str | None = None) -> Accepted:
    """Docker Hub (it cannot sign): the secret goes in the URL, `?token=<secret>`."""
    return await _counted(request, "dockerhub", lambda: _dockerhub(request, token))


@router.post(
    "/dockerhub/{token}",
    response_model=Accepted,
    status_code=202,
    responses=_RESPONSES,
)
async def dockerhub_path(token: str, request: Request) -> Accepted:
    """Docker Hub (it cannot sign): the secret is the last path segment."""
    return await _counted(request, "dockerhub", lambda: _dockerhub(request, token))


async def _github(request: Request) -> Accepted:
    secret = _secret(request, "github")
    given = request.headers.get("x-hub-signature-256", "")
    if not _SIGNATURE.fullmatch(given):  # refused before one byte of the body is read
        raise HTTPException(status_code=401, detail="missing or wrong X-Hub-Signature-256")
    spool, mac = await spool_signed(request, BODY_LIMITS["github"], secret.encode())
    with spool:
        if not hmac.compare_digest(given.encode(), f"sha256={mac}".encode()):
            raise HTTPException(status_code=401, detail="missing or wrong X-Hub-Signature-256")
        if request.headers.get("x-github-event", "") != "package":
            return Accepted(checks=[], ignored=1)  # ping and other events
        body = spool.read()
    return _trigger(_service(request), _payload(GitHubPackageEvent, body).pushes())


@router.post("/github", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def github(request: Request) -> Accepted:
    """GitHub `package` events, verified with X-Hub-Signature-256 (HMAC-SHA256 of the body)."""
    return await _counted(request, "github", lambda: _github(request))


@router.post("/ecr", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def ecr(request: Request) -> Accepted:
    """ECR image actions via an EventBridge API destination; its connection sends the secret as
    `Authorization: Bearer <secret>` or `X-Tagwatch-Secret: <secret>`."""
    return await _counted(
        request, "ecr", lambda: _bearer_hook(request, "ecr", EcrImageAction, "x-tagwatch-secret")
    )
