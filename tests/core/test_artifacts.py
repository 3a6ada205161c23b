"""cosign's artifact tags and the referrers fallback tag are never tags to watch."""

from __future__ import annotations

import pytest

from tagwatch.core.artifacts import is_artifact_tag, pattern_matches

HEX = "a" * 64


@pytest.mark.parametrize(
    "tag", [f"sha256-{HEX}.sig", f"sha256-{HEX}.att", f"sha256-{HEX}.sbom", f"sha256-{HEX}"]
)
def test_cosign_artifact_tags_match_no_pattern(tag: str) -> None:
    assert is_artifact_tag(tag)
    assert not pattern_matches("*", tag)
    assert not pattern_matches("sha256-*", tag)


@pytest.mark.parametrize(
    "tag",
    [
        "latest",
        "v1.2.3",
        f"sha256-{HEX[:63]}.sig",
        f"sha256-{HEX}.sig2",
        f"sha512-{HEX}.sig",
        f"sha256-{HEX.upper()}.sig",
        f"x-sha256-{HEX}.sig",
    ],
)
def test_tags_that_only_look_alike_are_ordinary_tags(tag: str) -> None:
    assert not is_artifact_tag(tag)
    assert pattern_matches("*", tag)
