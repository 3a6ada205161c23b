"""Signing policies: which images they cover, what a signature must name, what verdict follows."""

from __future__ import annotations

import json

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import (
    KeylessIdentity,
    SignatureFinding,
    SignatureStatus,
    SigningPolicy,
    bundle_layers,
    bundle_manifests,
    decide,
    decide_index,
    payload_problem,
    policy_for,
    referrers_tag,
    signature_layers,
    signature_tag,
    statement_problem,
)

D = Digest.parse("sha256:" + "a" * 64)
E = Digest.parse("sha256:" + "b" * 64)
KEY = "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n"


def _policy(**kw: object) -> SigningPolicy:
    return SigningPolicy("release", ("ghcr.io/acme/*",), public_keys=(KEY,), **kw)  # type: ignore[arg-type]


def test_cosign_keeps_signatures_and_referrers_under_digest_tags() -> None:
    assert signature_tag(D) == "sha256-" + "a" * 64 + ".sig"
    assert referrers_tag(D) == "sha256-" + "a" * 64


def test_the_first_policy_whose_pattern_matches_decides() -> None:
    first = _policy()
    catch_all = SigningPolicy("all", ("*",), public_keys=(KEY,))
    app = ImageRef.parse("ghcr.io/acme/app:prod")
    other = ImageRef.parse("docker.io/library/nginx:1")
    assert policy_for(app, [first, catch_all]) is first
    assert policy_for(other, [first, catch_all]) is catch_all
    assert policy_for(other, [first]) is None


def test_a_policy_needs_someone_who_may_sign() -> None:
    with pytest.raises(ValueError, match="names no key and no keyless identity"):
        SigningPolicy("empty", ("*",))


def test_a_keyless_identity_is_exact_or_a_whole_match_regular_expression() -> None:
    exact = KeylessIdentity(identity="ci@acme.dev", issuer="https://accounts.google.com")
    assert exact.matches("ci@acme.dev", "https://accounts.google.com")
    assert not exact.matches("ci@acme.dev.evil", "https://accounts.google.com")
    pattern = KeylessIdentity(identity_regexp=r"https://github\.com/acme/.*", issuer="https://i")
    assert pattern.matches(
        "https://github.com/acme/app/.github/workflows/r.yml@refs/tags/v1", "https://i"
    )
    assert not pattern.matches("https://github.com/acme", "https://i")  # fullmatch, not search
    assert not pattern.matches("xhttps://github.com/acme/app", "https://i")
    for bad in (
        {"issuer": "https://i"},
        {"identity": "a", "identity_regexp": "a", "issuer": "https://i"},
        {"identity": "a"},
        {"identity_regexp": "(", "issuer": "https://i"},
    ):
        with pytest.raises(ValueError):
            KeylessIdentity(**bad)


def _payload(digest: object, kind: str = "cosign container image signature") -> bytes:
    critical = {
        "identity": {"docker-reference": "r/a"},
        "image": {"docker-manifest-digest": str(digest)},
        "type": kind,
    }
    return json.dumps({"critical": critical, "optional": None}).encode()


def test_a_payload_vouches_only_for_the_digest_it_names() -> None:
    assert payload_problem(_payload(D), D) is None
    assert payload_problem(_payload(E), D) == f"the signature is for {E}, not {D.short}"
    assert payload_problem(_payload(D, "atomic container signature"), D) == (
        "the payload's type is 'atomic container signature', not a cosign image signature"
    )
    for junk in (b"", b"[]", b'{"critical": 1}', b"[" * 50_000):
        assert (
            payload_problem(junk, D) == "the signed payload is not a cosign simple-signing document"
        )


def test_a_statement_vouches_only_for_its_subjects() -> None:
    statement = {
        "subject": [
            {"name": "x", "digest": {"sha256": E.encoded}},
            {"digest": {"sha256": D.encoded}},
        ]
    }
    assert statement_problem(json.dumps(statement).encode(), D) is None
    assert statement_problem(json.dumps({"subject": []}).encode(), D) == (
        f"the signed statement does not name {D.short} as its subject"
    )
    assert statement_problem(b"{}", D) == "the signed statement is not an in-toto statement"


def test_one_accepted_signature_signs_and_problems_explain_a_rejection() -> None:
    good = SignatureFinding("referrer", signer="key 0123456789abcdef")
    bad = SignatureFinding(".sig tag", problem="signed with a key the policy does not name")
    signed = decide(_policy(), [bad, good])
    assert (signed.status, signed.signed_by) == (
        SignatureStatus.SIGNED,
        "key 0123456789abcdef (referrer)",
    )
    rejected = decide(_policy(), [bad, bad])
    assert (rejected.status, rejected.reason) == (SignatureStatus.REJECTED, bad.problem)
    assert rejected.failed
    unsigned = decide(_policy(), [])
    assert (unsigned.status, unsigned.reason) == (SignatureStatus.UNSIGNED, "no signature found")


def test_an_index_signature_covers_its_children_only_when_the_policy_accepts_it() -> None:
    index = [SignatureFinding("referrer", signer="key 1")]
    children = {"linux/amd64": [], "linux/arm64": [SignatureFinding(".sig tag", signer="key 1")]}
    assert decide_index(_policy(), index, children).signed_by == "key 1 (referrer), on the index"
    strict = decide_index(_policy(accept_index_signature=False), index, children)
    assert strict.status is SignatureStatus.UNSIGNED
    assert strict.reason == (
        "platform image linux/amd64: no signature found "
        "(the index is signed, and the policy wants each platform image signed)"
    )
    all_signed = {p: [SignatureFinding(".sig tag", signer="key 1")] for p in children}
    verdict = decide_index(_policy(accept_index_signature=False), [], all_signed)
    assert verdict.signed_by == "key 1 (.sig tag), each platform image"


def test_artifact_manifests_are_read_defensively() -> None:
    sig_manifest = json.dumps(
        {
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": str(D),
                    "annotations": {"dev.cosignproject.cosign/signature": "MEUC"},
                },
                {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": "nope"},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": str(E)},
                "junk",
            ]
        }
    ).encode()
    layers = signature_layers(sig_manifest)
    assert [(x.payload, x.signature) for x in layers] == [(D, "MEUC")]
    index = json.dumps(
        {
            "manifests": [
                {"digest": str(D), "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"},
                {"digest": str(E), "artifactType": "application/spdx+json"},
            ]
        }
    ).encode()
    assert bundle_manifests(index) == [D]
    many = json.dumps({"manifests": [{"digest": str(D)}] * 1000}).encode()
    assert len(bundle_manifests(many)) == 16  # a hostile repository cannot make us fetch 1000
    bundle = json.dumps(
        {
            "layers": [
                {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "digest": str(E)}
            ]
        }
    )
    assert bundle_layers(bundle.encode()) == [E]
    for junk in (b"", b"null", b"[" * 50_000):
        assert signature_layers(junk) == []
        assert bundle_manifests(junk) == []
        assert bundle_layers(junk) == []
