"""The one rule for "same build": a digest, an index and the platform children it lists."""

from __future__ import annotations

from collections.abc import Mapping

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo

__all__ = ["BuildFold", "child_of", "same_build"]


def child_of(child: Digest, index: Digest, builds: Mapping[Digest, BuildInfo]) -> bool:
    """Whether the recorded index `index` lists `child` as one of its platform images."""
    build = builds.get(index)
    return build is not None and child in build.platforms.values()


def same_build(digest: Digest, other: Digest | None, builds: Mapping[Digest, BuildInfo]) -> bool:
    """Whether two digests name one build: equal, or one is a platform child of the other."""
    if other is None:
        return False
    return digest == other or child_of(digest, other, builds) or child_of(other, digest, builds)


class BuildFold:
    """Folds every digest to the build it stands for, cached: a platform child counts as its index.

    `index_of` maps a child to an index listing it (the store's answer); a child listed by
    the digest the tag points to now folds to that index, so a child shared by an old and a
    new index is never mistaken for the old build.
    """

    def __init__(self, index_of: Mapping[Digest, Digest], builds: Mapping[Digest, BuildInfo]):
        self.index_of = index_of
        self.builds = builds
        self._canon: dict[tuple[str, str], Digest] = {}

    def canon(self, digest: Digest, now: Digest | None = None) -> Digest:
        """The build `digest` stands for, preferring `now` (the tag's digest now) if it lists it."""
        key = (digest.encoded, now.encoded if now is not None else "")
        found = self._canon.get(key)
        if found is None:
            found = self.index_of.get(digest, digest)
            if now is not None and digest != now and child_of(digest, now, self.builds):
                found = now
            self._canon[key] = found
        return found

    def same(self, digest: Digest, other: Digest | None) -> bool:
        """`same_build` with the store's child-to-index map too."""
        if other is None:
            return False
        return self.canon(digest, other) == self.canon(other) or same_build(
            digest, other, self.builds
        )
