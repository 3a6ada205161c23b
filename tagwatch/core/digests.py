"""Content digests, platforms and the manifest media types that name them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = [
    "INDEX_MEDIA_TYPES",
    "MANIFEST_ACCEPT",
    "MANIFEST_MEDIA_TYPES",
    "Digest",
    "Platform",
]

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

#: Every type a tag may point at. Asking for fewer makes distribution rewrite or hide the answer.
MANIFEST_MEDIA_TYPES: tuple[str, ...] = (
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
)
INDEX_MEDIA_TYPES: frozenset[str] = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)

_ALGORITHM = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*")
_ENCODED = re.compile(r"[a-zA-Z0-9=_-]+")
_SHA256 = re.compile(r"[a-f0-9]{64}")
_SHA512 = re.compile(r"[a-f0-9]{128}")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content address `algorithm:encoded`; sha256 is 64 lowercase hex."""

    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, raw: str) -> Digest:
        """Parse `sha256:<hex>`; raises ValueError naming the bad part."""
        algorithm, sep, encoded = raw.partition(":")
        if not sep:
            raise ValueError(f"digest {raw!r} has no algorithm (expected sha256:<64 hex>)")
        if not _ALGORITHM.fullmatch(algorithm):
            raise ValueError(f"digest algorithm {algorithm!r} is not valid")
        if not _ENCODED.fullmatch(encoded):
            raise ValueError(f"digest {raw!r} has an invalid encoded part")
        if algorithm == "sha256" and not _SHA256.fullmatch(encoded):
            raise ValueError(f"sha256 digest must be 64 lowercase hex characters, got {encoded!r}")
        if algorithm == "sha512" and not _SHA512.fullmatch(encoded):
            raise ValueError(f"sha512 digest must be 128 lowercase hex characters, got {encoded!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes) -> Digest:
        """The sha256 digest of exactly these bytes."""
        return cls("sha256", hashlib.sha256(data).hexdigest())

    def matches(self, data: bytes) -> bool:
        """Whether `data` hashes to this digest (sha256 and sha512 are checked)."""
        if self.algorithm not in ("sha256", "sha512"):
            raise ValueError(f"cannot verify digests of algorithm {self.algorithm!r}")
        return hashlib.new(self.algorithm, data).hexdigest() == self.encoded

    @property
    def short(self) -> str:
        """The first 12 hex characters, as `docker images` shows them."""
        return self.encoded[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


@dataclass(frozen=True, slots=True, order=True)
class Platform:
    """An OS/architecture(/variant) pair from an image index, e.g. `linux/arm64/v8`."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, raw: str) -> Platform:
        parts = raw.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {raw!r} is not os/arch[/variant]")
        return cls(*parts)

    @property
    def is_attestation(self) -> bool:
        """buildx stores attestations as `unknown/unknown` entries: they are not platforms."""
        return self.os == "unknown" and self.architecture == "unknown"

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base
