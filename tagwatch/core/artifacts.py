"""Tags that name artifacts about an image (cosign signatures, attestations, SBOMs), not images.

cosign stores them beside the image as `sha256-<hex>.sig`, `.att` and `.sbom`; registries
without the referrers API keep OCI 1.1 referrers under the bare `sha256-<hex>` tag. A tag
pattern such as `*` must never expand to them: each new signature would be a new "tag".
"""

from __future__ import annotations

import fnmatch
import re

__all__ = ["is_artifact_tag", "pattern_matches"]

_ARTIFACT_TAG = re.compile(r"sha256-[0-9a-f]{64}(?:\.(?:sig|att|sbom))?")


def is_artifact_tag(tag: str) -> bool:
    """Whether `tag` is a cosign artifact tag or the referrers fallback tag of a digest."""
    return _ARTIFACT_TAG.fullmatch(tag) is not None


def pattern_matches(pattern: str, tag: str) -> bool:
    """Whether a watch's tag glob (`v1.*`, `*`) covers `tag`; artifact tags never match."""
    return fnmatch.fnmatchcase(tag, pattern) and not is_artifact_tag(tag)
