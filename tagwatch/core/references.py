"""Image references: parsing and normalisation exactly as Docker's distribution/reference does."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tagwatch.core.digests import Digest
from tagwatch.errors import InvalidReference

__all__ = ["DOCKER_HUB", "ImageRef", "split_reference", "split_repository"]

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_MAX_NAME = 255

# The grammar of distribution/reference (regexp.go), anchored piece by piece so that an
# error can name the part that is wrong.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = re.compile(rf"{_HOST}(?::[0-9]+)?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_HEX64 = re.compile(r"[a-f0-9]{64}")


def _looks_like_host(first: str) -> bool:
    # Docker's rule (normalize.go splitDockerDomain): a first path part is a registry host
    # when it has a dot or a colon, is "localhost", or has an upper-case letter.
    return "." in first or ":" in first or first == "localhost" or first.lower() != first


def split_repository(name: str) -> tuple[str, str]:
    """Split a repository name into (registry, path), applying Docker Hub's defaults."""
    first, sep, rest = name.partition("/")
    if sep and _looks_like_host(first):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, name
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path


def split_reference(text: str) -> tuple[str, str | None, str | None]:
    """`name[:tag][@digest]` as written -> (name, tag, digest), nothing checked or normalised.

    The one place that knows a `:` after the last `/` starts a tag (before it, a port).
    """
    rest, at, digest = text.partition("@")
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest if at else None
    return rest, None, digest if at else None


@dataclass(frozen=True, slots=True, order=True)
class ImageRef:
    """A normalised image reference: registry host, repository path, and a tag and/or digest.

    `ImageRef.parse("nginx")` is `docker.io/library/nginx:latest`. A reference with only a
    digest has `tag=None`; `repo@sha256:…` is pinned.
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, raw: str, *, default_tag: str | None = "latest") -> ImageRef:
        """Parse and normalise `raw`; raises InvalidReference naming the bad part."""
        if not raw or raw != raw.strip():
            raise InvalidReference(raw, "empty or surrounded by white space")
        if "://" in raw:
            raise InvalidReference(raw, "a reference has no scheme; drop the 'https://' part")
        name, tag, raw_digest = split_reference(raw)
        digest: Digest | None = None
        if raw_digest is not None:
            try:
                digest = Digest.parse(raw_digest)
            except ValueError as exc:
                raise InvalidReference(raw, str(exc)) from None
        if tag is not None and not _TAG.fullmatch(tag):
            raise InvalidReference(
                raw, f"tag {tag!r} must match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}"
            )
        if not name:
            raise InvalidReference(raw, "the repository name is empty")
        if len(name) > _MAX_NAME:
            raise InvalidReference(raw, f"repository name is longer than {_MAX_NAME} characters")
        if _HEX64.fullmatch(name):
            raise InvalidReference(raw, "a 64-character hex string is an image ID, not a name")
        first, sep, remainder = name.partition("/")
        if sep and _looks_like_host(first):
            if not _DOMAIN.fullmatch(first):
                raise InvalidReference(raw, f"registry host {first!r} is not a valid host[:port]")
            _, colon_, port = first.rpartition("]")[2].rpartition(":")
            if colon_ and not 0 < int(port) < 65536:
                raise InvalidReference(raw, f"registry port {port} is not between 1 and 65535")
            path = remainder
        else:
            path = name
        if not _PATH.fullmatch(path):
            raise InvalidReference(
                raw,
                f"repository path {path!r} must be lowercase letters, digits and separators "
                "(. _ __ -), with no empty parts",
            )
        registry, path = split_repository(name)
        if len(registry) + 1 + len(path) > _MAX_NAME:
            raise InvalidReference(raw, f"repository name is longer than {_MAX_NAME} characters")
        if tag is None and digest is None:
            tag = default_tag
        return cls(registry, path, tag, digest)

    @property
    def name(self) -> str:
        """`registry/repository`, the canonical name without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host serving the distribution API (Docker Hub's is not docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def familiar(self) -> str:
        """The short form people type: `nginx:latest`, `org/app:v1`, `ghcr.io/org/app:v1`."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/")
        return name + self._suffix()

    @property
    def is_pinned(self) -> bool:
        return self.digest is not None

    def with_tag(self, tag: str) -> ImageRef:
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> ImageRef:
        return replace(self, digest=digest)

    def without_digest(self) -> ImageRef:
        """This reference without its digest: the tag we watch."""
        return replace(self, digest=None)

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        if self.digest is not None:
            out += f"@{self.digest}"
        return out

    def __str__(self) -> str:
        return self.name + self._suffix()
