"""What a vendor's API says about a tag (TagRecord), and the interface every vendor API offers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import UsageError

__all__ = ["TagProvider", "TagRecord", "parse_api_time", "split_owner"]


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A tag as a vendor API lists it: the digest it points to and when it was pushed.

    `certain` is False when `pushed_at` is an approximation (Hub's `last_updated`, a GHCR
    version whose tags changed after its push, an ECR digest carrying several tags).
    `pushed_at` is None when the API gives no time at all.
    """

    tag: str
    digest: Digest
    pushed_at: datetime | None
    certain: bool
    platforms: Mapping[str, Digest] = field(default_factory=dict)


class TagProvider(Protocol):
    """A vendor API that lists the tags of a repository with their push times."""

    async def tags(self, ref: ImageRef) -> list[TagRecord]:
        """Every tag of `ref`'s repository (the tag of `ref` itself is not a filter)."""
        ...


def parse_api_time(value: object) -> datetime | None:
    """An ISO 8601 time from a JSON API (`2026-11-29T10:00:00.123Z`) as aware UTC; else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.year < 1971:  # Go's zero time (0001-01-01) means "never"
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def split_owner(ref: ImageRef, *, shape: str) -> tuple[str, str]:
    """`ref`'s repository as (first segment, the rest); a UsageError naming `shape` without a rest.

    The vendor APIs address a repository by its owner (namespace) and its name apart.
    """
    owner, _, name = ref.repository.partition("/")
    if not name:
        raise UsageError(f"{ref}: {shape}")
    return owner, name
