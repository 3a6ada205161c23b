"""Conversions between our table columns and core values (tag keys, digests, references)."""

from __future__ import annotations

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef

__all__ = ["TagKey", "digest_of", "ref_of", "stored_digest", "str_of", "tag_key"]

#: (registry, repository, tag): how the tables name a tag.
TagKey = tuple[str, str, str]


def tag_key(ref: ImageRef) -> TagKey:
    if ref.tag is None:
        raise ValueError(f"{ref} has no tag: the store records tags, not pinned digests")
    return (ref.registry, ref.repository, ref.tag)


def ref_of(registry: str, repository: str, tag: str) -> ImageRef:
    return ImageRef(registry, repository, tag)


def stored_digest(raw: str) -> Digest:
    """A digest read back from our own tables: written from a parsed Digest, so not re-validated
    (parsing thousands of them per query was a third of `builds()`)."""
    algorithm, _, encoded = raw.partition(":")
    return Digest(algorithm, encoded)


def digest_of(raw: str | None) -> Digest | None:
    return None if raw is None else stored_digest(raw)


def str_of(digest: Digest | None) -> str | None:
    return None if digest is None else str(digest)
