"""Image references in manifests and Dockerfiles, and the byte-exact edits that pin them.

Pure: every function takes the text of a file (and its name, for messages) and returns what it
found or the edited text. Reading and writing files, and asking registries, happen in the app.

- `find_images(text, path)` finds every image reference in Kubernetes YAML (`yaml_images`) or a
  Dockerfile (`dockerfile_images`), with its line, column and exact span in the text.
- `pinned_value(use, digest)` is the text that pins a use to a digest; `apply_edits(text, edits)`
  replaces exactly those spans and nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from tagwatch.core.digests import Digest
from tagwatch.core.dockerfile_images import dockerfile_images, is_dockerfile
from tagwatch.core.image_uses import ImageUse, RefKind
from tagwatch.core.references import split_reference
from tagwatch.core.yaml_images import yaml_images
from tagwatch.errors import UsageError

__all__ = ["Edit", "apply_edits", "edit_for", "find_images", "pinned_value"]


def find_images(text: str, path: str) -> list[ImageUse]:
    """Every image reference in `text` (a Dockerfile or Kubernetes YAML), in file order.

    Raises UsageError naming the file and line when YAML does not parse.
    """
    if is_dockerfile(path, text):
        return dockerfile_images(text, path)
    return yaml_images(text, path)


def pinned_value(use: ImageUse, digest: Digest) -> str:
    """The text that pins `use` to `digest`, keeping the reference as the user wrote it.

    `nginx:1.27` -> `nginx:1.27@sha256:…`; `nginx` -> `nginx:latest@sha256:…` (the tag stays
    visible so the pin can be verified later); `repo:tag@old` -> `repo:tag@new`.
    For a Kustomize entry, the `digest:` line to insert.
    """
    if use.kind is RefKind.KUSTOMIZE:
        return f"digest: {digest}" if use.indent else str(digest)
    name, tag, _ = split_reference(use.raw)
    return f"{name}:{tag or 'latest'}@{digest}"


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `text[start:end]` with `new` (start == end inserts)."""

    start: int
    end: int
    new: str


def edit_for(use: ImageUse, digest: Digest, text: str) -> Edit:
    """The edit pinning `use` to `digest` in `text`; UsageError when it cannot be done in place."""
    if use.span is None:
        raise UsageError(f"{use.location}: {use.raw} cannot be rewritten in place; pin it by hand")
    start, end = use.span
    if use.kind is RefKind.KUSTOMIZE and use.indent:
        newline = "\r\n" if "\r\n" in text else "\n"
        prefix = "" if start == 0 or text[start - 1] in "\r\n" else newline
        return Edit(start, start, f"{prefix}{use.indent}{pinned_value(use, digest)}{newline}")
    return Edit(start, end, pinned_value(use, digest))


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` with every edit applied; everything outside the edited spans stays as it was."""
    ordered = sorted(set(edits), key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise UsageError(f"overlapping edits at characters {before.start} and {after.start}")
    out: list[str] = []
    position = 0
    for edit in ordered:
        out.append(text[position : edit.start])
        out.append(edit.new)
        position = edit.end
    out.append(text[position:])
    return "".join(out)
