"""Webhook payloads as their senders document them, and the tags each one says were pushed.

Each model holds only the fields tagwatch reads, with their documented types; anything else is
ignored. A payload whose fields have the wrong shape fails validation (the endpoint answers 400)
instead of surfacing as an AttributeError deep in the handler.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import InvalidReference

__all__ = [
    "MANIFEST_MEDIA_TYPES",
    "DistributionNotification",
    "DockerHubPush",
    "EcrImageAction",
    "GitHubPackageEvent",
    "Payload",
    "Push",
    "problem",
]

log = logging.getLogger(__name__)

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


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Push(NamedTuple):
    """A tag the webhook says was pushed, who pushed it and the digest it names, when the
    sender says so (never recorded: only the registry's answer is)."""

    ref: ImageRef
    by: str | None = None
    digest: Digest | None = None


class Payload(_Shape, ABC):
    """A webhook body; `pushes()` lists one entry per event (None: not a tag push)."""

    @abstractmethod
    def pushes(self) -> list[Push | None]:
        """The tags this body says were pushed, and by whom."""

    def pushed(self) -> list[ImageRef | None]:
        """The tags of `pushes()`, one entry per event."""
        return [p.ref if p is not None else None for p in self.pushes()]


def _push(raw: str, by: str | None, digest: str | None = None) -> Push | None:
    ref = _parse(raw)
    return None if ref is None else Push(ref, _actor(by), _digest(digest))


def _digest(raw: str | None) -> Digest | None:
    try:
        return Digest.parse(raw) if raw else None
    except ValueError:
        return None


def _actor(name: str | None) -> str | None:
    # A user name from the registry, shown in history and alerts: one line, bounded.
    if not name:
        return None
    return " ".join(name.split())[:255] or None


def _parse(raw: str) -> ImageRef | None:
    try:
        ref = ImageRef.parse(raw, default_tag=None)
    except InvalidReference:
        log.info("webhook named an invalid reference %r; ignored", raw[:300])
        return None
    return ref if ref.tag else None


# -- CNCF distribution and Harbor (one endpoint) ---------------------------------------


class _DistributionTarget(_Shape):
    media_type: str | None = Field(default=None, alias="mediaType")
    repository: str | None = None
    tag: str | None = None
    digest: str | None = None
    url: str | None = None


class _DistributionRequest(_Shape):
    host: str | None = None


class _DistributionActor(_Shape):
    name: str | None = None


class _DistributionEvent(_Shape):
    action: str | None = None
    target: _DistributionTarget | None = None
    request: _DistributionRequest | None = None
    actor: _DistributionActor | None = None

    def push(self) -> Push | None:
        target = self.target
        if self.action != "push" or target is None:
            return None
        if target.media_type not in MANIFEST_MEDIA_TYPES or not target.tag:
            return None  # a layer blob, or a push by digest: no tag moved
        host = urlsplit(target.url or "").netloc or (self.request.host if self.request else None)
        if not host or not target.repository:
            return None
        by = self.actor.name if self.actor else None
        return _push(f"{host}/{target.repository}:{target.tag}", by, target.digest)


class _HarborResource(_Shape):
    tag: str | None = None
    resource_url: str | None = None


class _HarborEventData(_Shape):
    resources: list[_HarborResource] | None = None


class DistributionNotification(Payload):
    """distribution's envelope `{"events": [...]}`, or Harbor's `PUSH_ARTIFACT` event."""

    events: list[_DistributionEvent] | None = None
    type: str | None = None
    event_data: _HarborEventData | None = None
    operator: str | None = None  # Harbor: who pushed

    def pushes(self) -> list[Push | None]:
        out = [event.push() for event in self.events or []]
        if self.type in ("PUSH_ARTIFACT", "pushImage") and self.event_data is not None:
            for resource in self.event_data.resources or []:
                url = resource.resource_url
                out.append(_push(url, self.operator) if url and resource.tag else None)
        return out


# -- Docker Hub ---------------------------------------------------------------------------


class _HubPushData(_Shape):
    tag: str | None = None
    pusher: str | None = None


class _HubRepository(_Shape):
    repo_name: str | None = None


class DockerHubPush(Payload):
    """Docker Hub's push webhook: `push_data.tag` and `repository.repo_name`, no digest."""

    push_data: _HubPushData
    repository: _HubRepository

    def pushes(self) -> list[Push | None]:
        repo, tag = self.repository.repo_name, self.push_data.tag
        by = self.push_data.pusher
        return [_push(f"docker.io/{repo}:{tag}", by) if repo and tag else None]


# -- GitHub -------------------------------------------------------------------------------


class _GitHubTag(_Shape):
    name: str | None = None


class _GitHubContainerMetadata(_Shape):
    tag: _GitHubTag | None = None


class _GitHubPackageVersion(_Shape):
    package_url: str | None = None
    container_metadata: _GitHubContainerMetadata | None = None


class _GitHubOwner(_Shape):
    login: str | None = None


class _GitHubPackage(_Shape):
    name: str
    package_type: str
    owner: _GitHubOwner | None = None
    package_version: _GitHubPackageVersion | None = None


class GitHubPackageEvent(Payload):
    """GitHub's `package` event (actions `published`/`updated`); `sender` is who pushed."""

    package: _GitHubPackage
    sender: _GitHubOwner | None = None

    def pushes(self) -> list[Push | None]:
        package = self.package
        if package.package_type.lower() != "container":
            return [None]
        by = self.sender.login if self.sender else None
        version = package.package_version or _GitHubPackageVersion()
        url = version.package_url
        if url and ":" in url.rsplit("/", 1)[-1]:
            return [_push(url, by)]
        metadata = version.container_metadata
        tag = metadata.tag.name if metadata and metadata.tag else None
        owner = (package.owner.login or "").lower() if package.owner else ""
        return [_push(f"ghcr.io/{owner}/{package.name}:{tag}", by) if tag and owner else None]


# -- ECR (EventBridge) ----------------------------------------------------------------------


class _EcrDetail(_Shape):
    action_type: str | None = Field(default=None, alias="action-type")
    result: str = "SUCCESS"
    repository_name: str | None = Field(default=None, alias="repository-name")
    image_tag: str | None = Field(default=None, alias="image-tag")


class EcrImageAction(Payload):
    """EventBridge's `ECR Image Action` event, delivered by an API destination."""

    account: str | None = None
    region: str | None = None
    detail: _EcrDetail

    def pushes(self) -> list[Push | None]:
        # EventBridge's ECR event does not say who pushed (CloudTrail does): `by` stays None.
        detail = self.detail
        if detail.action_type != "PUSH" or detail.result != "SUCCESS":
            return [None]
        account, region = self.account, self.region
        repo, tag = detail.repository_name, detail.image_tag
        if not (account and region and repo and tag):
            return [None]
        return [_push(f"{account}.dkr.ecr.{region}.amazonaws.com/{repo}:{tag}", None)]


def problem(exc: ValidationError) -> str:
    """One line naming what is wrong with a payload (never echoing its values)."""
    errors = exc.errors(include_url=False, include_input=False)
    if errors and errors[0]["type"] == "json_invalid":
        return "the body is not JSON"
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "the payload does not have the documented shape: " + "; ".join(parts) + more
