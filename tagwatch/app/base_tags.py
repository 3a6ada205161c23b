"""The base tags a Dockerfile builds on: its `FROM` images, for `watch add --from-dockerfile`.

The Dockerfile reader is the one `lint` uses (core/dockerfile_images.py): build stages and
`scratch` are not images there. A `FROM` built from `ARG`s is watched as their defaults make
it; one with an `ARG` that has no default, or naming a digest only, is reported, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tagwatch.app.files import Skipped, read_regular
from tagwatch.core.dockerfile_images import dockerfile_images
from tagwatch.core.image_uses import RefKind
from tagwatch.core.references import ImageRef
from tagwatch.errors import UsageError

__all__ = ["DockerfileBases", "dockerfile_bases"]


@dataclass(frozen=True, slots=True)
class DockerfileBases:
    """The base tags of one Dockerfile, and each `FROM` left out with its `file:line` and why."""

    tags: tuple[ImageRef, ...]
    skipped: tuple[str, ...]


def dockerfile_bases(path: Path) -> DockerfileBases:
    """The tags of `path`'s `FROM` lines; raises UsageError when the file cannot be read."""
    name = str(path)
    read = read_regular(path, name)
    if isinstance(read, Skipped):
        raise UsageError(f"{name}: not read: {read.reason}")
    try:
        text = read[0].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    tags: list[ImageRef] = []
    skipped: list[str] = []
    for use in dockerfile_images(text, name):
        if use.kind is not RefKind.FROM:
            continue
        ref = use.ref or use.with_defaults
        if ref is None:
            skipped.append(f"{use.location}: {use.raw}: {use.problem}")
        elif ref.tag is None:
            skipped.append(f"{use.location}: {use.raw}: named by digest only, no tag to watch")
        elif (tag := ref.without_digest()) not in tags:
            tags.append(tag)
    return DockerfileBases(tuple(tags), tuple(skipped))
