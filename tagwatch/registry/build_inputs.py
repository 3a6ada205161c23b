"""What a build was made from, as the registry holds it: layer lists and provenance statements.

Both are read by digest (`artifact_manifest` checks each body against its digest), so what
is read once never changes. A provenance statement is fetched only when the attestation
manifest declares it small enough (`MAX_STATEMENT`); the transport's body cap still holds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tagwatch.core.digests import INDEX_MEDIA_TYPES, Digest
from tagwatch.core.provenance import (
    ATTESTATION_MANIFEST,
    IN_TOTO_MEDIA_TYPE,
    PREDICATE_TYPE_ANNOTATION,
    SLSA_PROVENANCE_TYPES,
)
from tagwatch.core.references import ImageRef
from tagwatch.errors import ProtocolError
from tagwatch.registry.manifests import json_object, string_map

if TYPE_CHECKING:
    from tagwatch.registry.client import RegistryClient

__all__ = ["MAX_STATEMENT", "layer_list", "provenance_statements"]

log = logging.getLogger(__name__)

#: BuildKit's `mode=max` statements run to a few hundred kB; anything far larger is refused.
MAX_STATEMENT = 4 * 1024 * 1024
_REFERENCE_TYPE = "vnd.docker.reference.type"
_REFERENCE_DIGEST = "vnd.docker.reference.digest"


def _digest(raw: Any, *, registry: str, what: str) -> Digest:
    try:
        return Digest.parse(str(raw))
    except ValueError as exc:
        raise ProtocolError(registry, f"{what}: invalid digest: {exc}") from exc


def _entries(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = doc.get(key)
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


async def layer_list(registry: RegistryClient, ref: ImageRef, image: Digest) -> tuple[Digest, ...]:
    """The layer digests of the platform image `image`, bottom first.

    Raises ProtocolError when `image` is gone or is an index (it has no layers of its own).
    """
    what = f"{ref.name}@{image}"
    found = await registry.artifact_manifest(ref, str(image))
    if found is None:
        raise ProtocolError(ref.registry, f"{what}: manifest not found (deleted?)")
    body, media_type = found
    doc = json_object(body, registry=ref.registry, what=what)
    if media_type in INDEX_MEDIA_TYPES or "manifests" in doc:
        raise ProtocolError(ref.registry, f"{what}: an index has no layers; ask for a platform")
    return tuple(
        _digest(layer.get("digest"), registry=ref.registry, what=what)
        for layer in _entries(doc, "layers")
    )


async def provenance_statements(
    registry: RegistryClient, ref: ImageRef, index: Digest
) -> dict[Digest, list[bytes]]:
    """The SLSA provenance statements of each platform image of `index`, by platform digest.

    buildx lists one attestation manifest per platform image in the index (annotated with
    the image's digest); its in-toto layers annotated as SLSA provenance are the statements.
    An index without attestations, or an image that is no index, has none ({}).
    """
    what = f"{ref.name}@{index}"
    found = await registry.artifact_manifest(ref, str(index))
    if found is None:
        raise ProtocolError(ref.registry, f"{what}: manifest not found (deleted?)")
    doc = json_object(found[0], registry=ref.registry, what=what)
    statements: dict[Digest, list[bytes]] = {}
    for entry in _entries(doc, "manifests"):
        annotations = string_map(entry.get("annotations"))
        if annotations.get(_REFERENCE_TYPE) != ATTESTATION_MANIFEST:
            continue
        subject = _digest(annotations.get(_REFERENCE_DIGEST), registry=ref.registry, what=what)
        attestation = _digest(entry.get("digest"), registry=ref.registry, what=what)
        statements[subject] = await _statements(registry, ref, attestation)
    return statements


async def _statements(registry: RegistryClient, ref: ImageRef, manifest: Digest) -> list[bytes]:
    what = f"{ref.name}@{manifest}"
    found = await registry.artifact_manifest(ref, str(manifest))
    if found is None:
        return []  # listed but gone: the index still names its images
    doc = json_object(found[0], registry=ref.registry, what=what)
    bodies: list[bytes] = []
    for layer in _entries(doc, "layers"):
        predicate = string_map(layer.get("annotations")).get(PREDICATE_TYPE_ANNOTATION)
        if layer.get("mediaType") != IN_TOTO_MEDIA_TYPE or predicate not in SLSA_PROVENANCE_TYPES:
            continue  # SBOMs and other attestations say nothing about the base
        size = layer.get("size")
        if not isinstance(size, int) or size > MAX_STATEMENT:
            log.warning(
                "%s: provenance layer of %s bytes skipped (limit %d)", what, size, MAX_STATEMENT
            )
            continue
        digest = _digest(layer.get("digest"), registry=ref.registry, what=what)
        bodies.append(await registry.artifact_blob(ref, digest))
    return bodies
