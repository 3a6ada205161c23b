"""Manifest and config JSON to what tagwatch records: platforms of an index, labels of a build.

Pure: bytes in, values out; a body that breaks the distribution spec is a ProtocolError
naming the registry. No I/O here, the client fetches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tagwatch.core.digests import INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, Digest, Platform
from tagwatch.core.moves import LABEL_PREFIX
from tagwatch.errors import ProtocolError

__all__ = [
    "Manifest",
    "config_labels",
    "inherited_labels",
    "json_object",
    "parse_manifest",
    "platform_for_labels",
    "string_map",
]

#: The labels that say which build an image is; an index without them takes them from a child.
_BUILD_LABELS = tuple(LABEL_PREFIX + name for name in ("revision", "source", "created"))
#: skopeo shows an index's labels from the platform image for its own host; we take the same.
_LABELS_PLATFORM = "linux/amd64"
#: Facts about one platform image only (ko puts each platform's own base digest there).
_PLATFORM_ONLY = frozenset({LABEL_PREFIX + "base.name", LABEL_PREFIX + "base.digest"})

_IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)


@dataclass(frozen=True)
class Manifest:
    """What a manifest or index says about its build."""

    media_type: str
    is_index: bool
    platforms: dict[str, Digest] = field(default_factory=dict)  # an index's platform children
    annotations: dict[str, str] = field(default_factory=dict)
    config: Digest | None = None  # an image's config blob, when it is an image config

    @property
    def label_annotations(self) -> dict[str, str]:
        """The OCI `org.opencontainers.image.*` annotations (labels by another name)."""
        return {k: v for k, v in self.annotations.items() if k.startswith(LABEL_PREFIX)}


def json_object(body: bytes, *, registry: str, what: str) -> dict[str, Any]:
    """`body` as a JSON object, or a ProtocolError saying `what` it should have been."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(registry, f"{what} is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise ProtocolError(registry, f"{what} is not a JSON object")
    return doc


def string_map(value: Any) -> dict[str, str]:
    """The string entries of a JSON object ({} when it is not one)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}


def _digest_field(raw: Any, *, registry: str, what: str) -> Digest:
    try:
        return Digest.parse(str(raw))
    except ValueError as exc:
        raise ProtocolError(registry, f"{what}: invalid digest in a manifest: {exc}") from exc


def _platforms(entries: list[Any], *, registry: str, what: str) -> dict[str, Digest]:
    platforms: dict[str, Digest] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        plat = entry.get("platform")
        if not isinstance(plat, dict) or not plat.get("os") or not plat.get("architecture"):
            continue
        platform = Platform(
            str(plat["os"]), str(plat["architecture"]), str(plat.get("variant") or "")
        )
        if platform.is_attestation:
            continue
        digest = _digest_field(entry.get("digest"), registry=registry, what=what)
        platforms.setdefault(str(platform), digest)
    return platforms


def _media_type(doc: dict[str, Any], content_type: str, *, registry: str, what: str) -> str:
    """The manifest type of `doc`: one we asked for, or a ProtocolError.

    The Content-Type decides when it is a manifest type (the body may not contradict it); a
    missing or generic one (`application/json`) is accepted only when the body names a
    manifest type itself. Anything else (a schema1 rewrite, an error page, a JSON document a
    redirect target served) is not a manifest and must never be recorded as a digest.
    """
    served = content_type.split(";")[0].strip().lower()
    declared = doc.get("mediaType")
    if served in MANIFEST_MEDIA_TYPES:
        if declared is not None and declared != served:
            raise ProtocolError(registry, f"{what}: served as {served} but says it is {declared}")
        return served
    if isinstance(declared, str) and declared in MANIFEST_MEDIA_TYPES:
        return declared
    raise ProtocolError(
        registry,
        f"{what}: answered {served or 'no Content-Type'} with a body that is not an image "
        "manifest or index; is this a registry API endpoint?",
    )


def parse_manifest(body: bytes, content_type: str, *, registry: str, what: str) -> Manifest:
    """The manifest or index in `body` (served as `content_type`), described by `what`.

    Only the types tagwatch asks for are accepted, with the shape of their kind: an index
    lists `manifests`, an image manifest has a `config` or `layers`.
    """
    doc = json_object(body, registry=registry, what=what)
    media_type = _media_type(doc, content_type, registry=registry, what=what)
    manifests = doc.get("manifests")
    annotations = string_map(doc.get("annotations"))
    if media_type in INDEX_MEDIA_TYPES:
        if not isinstance(manifests, list):
            raise ProtocolError(registry, f"{what}: an index without a manifests list")
        platforms = _platforms(manifests, registry=registry, what=what)
        return Manifest(media_type, True, platforms, annotations)
    if not isinstance(doc.get("config"), dict) and not isinstance(doc.get("layers"), list):
        raise ProtocolError(registry, f"{what}: an image manifest without config or layers")
    config = doc.get("config")
    config_digest = None
    if isinstance(config, dict) and config.get("digest"):
        config_type = config.get("mediaType")
        if config_type is None or config_type in _IMAGE_CONFIG_TYPES:
            config_digest = _digest_field(config["digest"], registry=registry, what=what)
    return Manifest(media_type, False, {}, annotations, config_digest)


def config_labels(body: bytes, *, registry: str, what: str) -> dict[str, str]:
    """The `config.Labels` of an image config blob."""
    doc = json_object(body, registry=registry, what=what)
    config = doc.get("config")
    return string_map(config.get("Labels") if isinstance(config, dict) else None)


def platform_for_labels(index: Manifest) -> Digest | None:
    """The platform image whose labels an index without build annotations shows, if any.

    BuildKit, like most builders, writes `org.opencontainers.image.*` labels into each platform
    image's config and nothing on the index. We read one platform, as `skopeo inspect` does:
    linux/amd64 when the index has it, else the first platform listed.
    """
    if not index.is_index or not index.platforms:
        return None
    if all(key in index.annotations for key in _BUILD_LABELS):
        return None
    return index.platforms.get(_LABELS_PLATFORM) or next(iter(index.platforms.values()))


def inherited_labels(platform_labels: Mapping[str, str]) -> dict[str, str]:
    """What an index takes from its platform image's labels: the OCI ones, but not the base
    (that is each platform's own); the index's own annotations still win over these."""
    return {
        k: v
        for k, v in platform_labels.items()
        if k.startswith(LABEL_PREFIX) and k not in _PLATFORM_ONLY
    }
