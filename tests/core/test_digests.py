"""Digests are content addresses; platforms name index children."""

from __future__ import annotations

import hashlib

import pytest

from tagwatch.core.digests import Digest, Platform


def test_digest_of_bytes_is_sha256_of_exactly_those_bytes() -> None:
    body = b'{"schemaVersion":2}\n'
    assert str(Digest.of(body)) == "sha256:" + hashlib.sha256(body).hexdigest()
    assert Digest.of(body).matches(body)
    assert not Digest.of(body).matches(body.rstrip())


@pytest.mark.parametrize(
    "raw",
    ["sha256:ABC", "sha256:" + "A" * 64, "sha256" + "a" * 64, ":" + "a" * 64, "sha256:" + "a" * 63],
)
def test_malformed_digests_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        Digest.parse(raw)


def test_digest_round_trips_and_shortens_like_docker() -> None:
    raw = "sha256:" + "0123456789ab" * 5 + "cdef"
    digest = Digest.parse(raw)
    assert str(digest) == raw
    assert digest.short == "0123456789ab"


def test_attestation_platform_is_not_a_platform() -> None:
    assert Platform.parse("unknown/unknown").is_attestation
    assert not Platform.parse("linux/arm64/v8").is_attestation
    assert str(Platform.parse("linux/arm64/v8")) == "linux/arm64/v8"
