"""Push webhooks (distribution/Harbor, Docker Hub, GitHub, ECR): authenticate, trigger a check.

A webhook never writes history: it only asks the service to check the tag now (source
`webhook`), and what is recorded is the registry's own answer. An endpoint whose secret is
not configured answers 404; a missing or wrong secret or signature answers 401.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from tagwatch.app.service import Service
from tagwatch.core.references import ImageRef
from tagwatch.errors import InvalidReference

__all__ = ["MANIFEST_MEDIA_TYPES", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

#: Pushes of these are tag moves; anything else (layer blobs, configs) is ignored.
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong secret / signature"},
    404: {"description": "this webhook kind has no secret configured"},
}


class Accepted(BaseModel):
    """Tags whose check was started, and events ignored (not a tag push, or not watched)."""

    checks: list[str]
    ignored: int


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


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


async def _json(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="the body is not JSON") from exc


def _trigger(service: Service, refs: Iterable[ImageRef | None]) -> Accepted:
    checks: list[str] = []
    ignored = 0
    for ref in refs:
        if ref is not None and service.trigger(ref) is not None:
            checks.append(str(ref))
        else:
            ignored += 1
    if checks:
        log.info("webhook: checking %s", ", ".join(checks))
    return Accepted(checks=checks, ignored=ignored)


def _parse(raw: str) -> ImageRef | None:
    try:
        ref = ImageRef.parse(raw, default_tag=None)
    except InvalidReference:
        log.info("webhook named an invalid reference %r; ignored", raw)
        return None
    return ref if ref.tag else None


def _distribution_refs(payload: Any) -> list[ImageRef | None]:
    """Refs pushed, from distribution's event envelope or Harbor's PUSH_ARTIFACT event."""
    out: list[ImageRef | None] = []
    if not isinstance(payload, dict):
        return out
    for event in payload.get("events") or []:
        if not isinstance(event, dict) or event.get("action") != "push":
            out.append(None)
            continue
        target = event.get("target") or {}
        tag = target.get("tag")
        if target.get("mediaType") not in MANIFEST_MEDIA_TYPES or not tag:
            out.append(None)  # a layer blob, or a push by digest: no tag moved
            continue
        host = urlsplit(str(target.get("url") or "")).netloc or (event.get("request") or {}).get(
            "host"
        )
        if not host:
            out.append(None)
            continue
        out.append(_parse(f"{host}/{target.get('repository')}:{tag}"))
    if payload.get("type") in ("PUSH_ARTIFACT", "pushImage"):
        data = payload.get("event_data") or {}
        for resource in data.get("resources") or []:
            url = resource.get("resource_url") if isinstance(resource, dict) else None
            out.append(_parse(str(url)) if url and resource.get("tag") else None)
    return out


@router.post("/distribution", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def distribution(request: Request) -> Accepted:
    """CNCF distribution / Harbor notifications; configure the registry to send
    `Authorization: Bearer <secret>` in the endpoint's headers."""
    _bearer(request, _secret(request, "distribution"))
    return _trigger(_service(request), _distribution_refs(await _json(request)))


def _dockerhub_ref(payload: Any) -> ImageRef | None:
    if not isinstance(payload, dict):
        return None
    repo = (payload.get("repository") or {}).get("repo_name")
    tag = (payload.get("push_data") or {}).get("tag")
    return _parse(f"docker.io/{repo}:{tag}") if repo and tag else None


async def _dockerhub(request: Request, token: str | None) -> Accepted:
    secret = _secret(request, "dockerhub")
    if not _same(token, secret):
        raise HTTPException(status_code=401, detail="missing or wrong webhook token")
    return _trigger(_service(request), [_dockerhub_ref(await _json(request))])


@router.post("/dockerhub", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def dockerhub_query(request: Request, token: str | None = None) -> Accepted:
    """Docker Hub (it cannot sign): the secret goes in the URL, `?token=<secret>`."""
    return await _dockerhub(request, token)


@router.post(
    "/dockerhub/{token}",
    response_model=Accepted,
    status_code=202,
    responses=_RESPONSES,
)
async def dockerhub_path(token: str, request: Request) -> Accepted:
    """Docker Hub (it cannot sign): the secret is the last path segment."""
    return await _dockerhub(request, token)


def _github_ref(payload: Any) -> ImageRef | None:
    if not isinstance(payload, dict):
        return None
    package = payload.get("package") or {}
    if package.get("package_type", "").lower() != "container":
        return None
    version = package.get("package_version") or {}
    url = version.get("package_url")
    if isinstance(url, str) and ":" in url.rsplit("/", 1)[-1]:
        return _parse(url)
    tag = ((version.get("container_metadata") or {}).get("tag") or {}).get("name")
    owner = ((package.get("owner") or {}).get("login") or "").lower()
    name = package.get("name")
    return _parse(f"ghcr.io/{owner}/{name}:{tag}") if tag and owner and name else None


@router.post("/github", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def github(request: Request) -> Accepted:
    """GitHub `package` events, verified with X-Hub-Signature-256 (HMAC-SHA256 of the body)."""
    secret = _secret(request, "github")
    body = await request.body()
    given = request.headers.get("x-hub-signature-256", "")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=401, detail="missing or wrong X-Hub-Signature-256")
    event = request.headers.get("x-github-event", "")
    if event != "package":
        return Accepted(checks=[], ignored=1)  # ping and other events
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="the body is not JSON") from exc
    return _trigger(_service(request), [_github_ref(payload)])


def _ecr_ref(payload: Any) -> ImageRef | None:
    if not isinstance(payload, dict):
        return None
    detail = payload.get("detail") or {}
    if detail.get("action-type") != "PUSH" or detail.get("result", "SUCCESS") != "SUCCESS":
        return None
    account, region = payload.get("account"), payload.get("region")
    repo, tag = detail.get("repository-name"), detail.get("image-tag")
    if not (account and region and repo and tag):
        return None
    return _parse(f"{account}.dkr.ecr.{region}.amazonaws.com/{repo}:{tag}")


@router.post("/ecr", response_model=Accepted, status_code=202, responses=_RESPONSES)
async def ecr(request: Request) -> Accepted:
    """ECR image actions via an EventBridge API destination; its connection sends the secret as
    `Authorization: Bearer <secret>` or `X-Tagwatch-Secret: <secret>`."""
    _bearer(request, _secret(request, "ecr"), "x-tagwatch-secret")
    return _trigger(_service(request), [_ecr_ref(await _json(request))])
