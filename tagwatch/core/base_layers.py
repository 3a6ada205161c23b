"""Layer matching: an image is built on a base when its first layers are all of the base's.

A Dockerfile build stacks its own layers on top of the `FROM` image's, unchanged, so the
base of an image whose builder left no annotation or provenance is the recorded base
build whose complete layer list starts the image's. Docker Scout finds bases the same
way. A base that shares only some leading layers (a sibling built on the same OS image)
is not the base; among those that match completely the longest wins: an image built on
`python:3.12-slim` also starts with every layer of the `debian:bookworm-slim` under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef

__all__ = ["BaseBuild", "is_layer_prefix", "match_base"]


@dataclass(frozen=True, slots=True)
class BaseBuild:
    """A recorded build of a watched base tag: `build` is the digest the tag pointed to
    (an index or an image), `image` the platform image whose `layers` these are."""

    base: ImageRef
    build: Digest
    image: Digest
    layers: tuple[Digest, ...]


def is_layer_prefix(base: Sequence[Digest], image: Sequence[Digest]) -> bool:
    """Whether every layer of `base`, in order, starts `image` (an empty base never does)."""
    return 0 < len(base) <= len(image) and tuple(image[: len(base)]) == tuple(base)


def match_base(
    image: Digest, layers: Sequence[Digest], candidates: Iterable[BaseBuild]
) -> BaseBuild | None:
    """The base build `image` (with `layers`) is built on: the longest complete prefix.

    The image itself is never its own base. Between bases of equal length (two tags of one
    build) the first candidate wins, so the caller's order decides.
    """
    best: BaseBuild | None = None
    for candidate in candidates:
        if candidate.image == image or not is_layer_prefix(candidate.layers, layers):
            continue
        if best is None or len(candidate.layers) > len(best.layers):
            best = candidate
    return best
