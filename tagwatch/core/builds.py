"""The one rule for "same build": a digest, an index and the platform children it lists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.moves import BuildInfo, TagMove

__all__ = [
    "BuildFold",
    "PlatformImage",
    "child_of",
    "platform_child",
    "platform_image",
    "same_build",
    "same_images",
    "with_same_images",
]


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


#: The variant a runtime assumes when a node or an index entry names none (containerd's rule).
_DEFAULT_VARIANT = {"arm64": "v8", "arm": "v7"}


def _normal(platform: Platform) -> Platform:
    variant = platform.variant or _DEFAULT_VARIANT.get(platform.architecture, "")
    return Platform(platform.os, platform.architecture, variant)


def platform_child(platforms: Mapping[str, Digest], platform: Platform) -> Digest | None:
    """The child of an index a node of `platform` runs: `linux/arm64` matches `linux/arm64/v8`."""
    found = platforms.get(str(platform))
    if found is not None:
        return found
    wanted = _normal(platform)
    for raw, child in platforms.items():
        try:
            entry = Platform.parse(raw)
        except ValueError:
            continue
        if _normal(entry) == wanted:
            return child
    return None


def same_images(before: BuildInfo | None, after: BuildInfo | None) -> bool:
    """Two recorded indexes listing the same platform images: only attestations or annotations
    (which the recorded platforms leave out) differ."""
    if before is None or after is None or not before.platforms or not after.platforms:
        return False
    return dict(before.platforms) == dict(after.platforms)


@dataclass(frozen=True, slots=True)
class PlatformImage:
    """What one pod runs, platform-true: the platform image (None when it cannot be told) and
    every recorded build it is consistent with (the index it came from and any index listing it).
    """

    platform: Platform | None
    image: Digest | None
    builds: frozenset[Digest]


def platform_image(
    digest: Digest,
    platform: Platform | None,
    builds: Mapping[Digest, BuildInfo],
    listing: Mapping[Digest, set[Digest]],
    fold: BuildFold,
) -> PlatformImage:
    """Resolve a running digest on a node of `platform` to the platform image it runs.

    A platform image is itself; an index is its child for the node's platform; an index whose
    platforms are unknown (never recorded, or the node's platform is not listed) stays the index.
    """
    build = builds.get(digest)
    image: Digest | None = digest
    if build is not None and build.platforms:
        image = platform_child(build.platforms, platform) if platform is not None else None
    if image is None:
        # Whatever the node's platform, an index listing the very same images runs the same.
        twins = {d for d, b in builds.items() if same_images(build, b)}
        return PlatformImage(platform, None, frozenset({digest, *twins}))
    owners = {image, fold.canon(image), *listing.get(image, ())}
    if image != digest:
        owners.add(digest)
    return PlatformImage(platform, image, frozenset(owners))


def with_same_images(move: TagMove, builds: Mapping[Digest, BuildInfo]) -> TagMove:
    """`move` saying whether its two digests are indexes of the same platform images."""
    if move.from_digest is None or move.to_digest is None:
        return move
    same = same_images(builds.get(move.from_digest), builds.get(move.to_digest))
    return move if same == move.same_images else replace(move, same_images=same)
