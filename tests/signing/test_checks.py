"""Checking one signature: cosign keys over simple-signing payloads and DSSE bundles, and a real
keyless Sigstore bundle verified offline against the trust root sigstore-python ships."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.signing import KeylessIdentity, SigningPolicy
from tagwatch.errors import ConfigError
from tagwatch.signing.checks import PolicyKeys, check_bundle, check_simple_signing
from tests.support.cosign import SigningKey, keyed_bundle, simple_signing_payload

DATA = Path(__file__).parent / "data"
IMAGE = Digest.parse("sha256:" + "1" * 64)
OTHER = Digest.parse("sha256:" + "2" * 64)
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
GITHUB = "https://token.actions.githubusercontent.com"
#: The subject of the real bundle's statement (a.txt in sigstore-python's test assets).
REAL_SUBJECT = Digest.parse(
    "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"
)


def _keys(*keys: SigningKey, keyless: tuple[KeylessIdentity, ...] = ()) -> PolicyKeys:
    return PolicyKeys(
        SigningPolicy(
            "release",
            ("*",),
            public_keys=tuple(k.public_pem for k in keys),
            keyless=keyless,
            trust_root="staging",
        )
    )


def _signed(key: SigningKey, digest: Digest) -> tuple[bytes, str]:
    payload = simple_signing_payload("registry.example/app", digest)
    return payload, base64.b64encode(key.sign(payload)).decode()


@pytest.mark.parametrize("make", [SigningKey.ecdsa, SigningKey.rsa, SigningKey.ed25519])
def test_a_signature_by_a_policy_key_names_the_key(make: Callable[[], SigningKey]) -> None:
    key = make()
    keys = _keys(key)
    payload, sig = _signed(key, IMAGE)
    finding = check_simple_signing(payload, sig, IMAGE, keys, via=".sig tag")
    assert finding.problem is None
    assert finding.signer == keys.keys[0].name
    assert finding.signer.startswith("key ") and len(finding.signer) == 20


def test_a_signature_by_another_key_is_refused() -> None:
    payload, sig = _signed(SigningKey.ecdsa(), IMAGE)
    finding = check_simple_signing(payload, sig, IMAGE, _keys(SigningKey.ecdsa()), via=".sig tag")
    assert finding.signer is None
    assert finding.problem == "signed with a key the policy does not name"


def test_a_valid_signature_of_another_digest_does_not_vouch_for_this_one() -> None:
    key = SigningKey.ecdsa()
    payload, sig = _signed(key, OTHER)  # e.g. a .sig copied next to another image
    finding = check_simple_signing(payload, sig, IMAGE, _keys(key), via=".sig tag")
    assert finding.signer is None
    assert finding.problem == f"the signature is for {OTHER}, not {IMAGE.short}"


def test_a_tampered_payload_fails_the_signature() -> None:
    key = SigningKey.ecdsa()
    payload, sig = _signed(key, IMAGE)
    tampered = payload.replace(b"registry.example", b"evil.example")
    finding = check_simple_signing(tampered, sig, IMAGE, _keys(key), via=".sig tag")
    assert finding.problem == "signed with a key the policy does not name"


def test_an_unreadable_signature_annotation_is_a_problem_not_a_crash() -> None:
    payload, _ = _signed(SigningKey.ecdsa(), IMAGE)
    for sig in (None, "not base64!!"):
        finding = check_simple_signing(payload, sig, IMAGE, _keys(SigningKey.ecdsa()), via="x")
        assert finding.problem == "a signature layer without a readable signature"


def test_a_keyed_bundle_with_the_cosign_sign_predicate_is_a_signature() -> None:
    key = SigningKey.ecdsa()
    keys = _keys(key)
    finding = check_bundle(keyed_bundle(IMAGE, key), IMAGE, keys, via="referrer")
    assert (finding.signer, finding.problem) == (keys.keys[0].name, None)


def test_a_keyed_bundle_for_another_subject_or_an_attestation_is_not() -> None:
    key = SigningKey.ecdsa()
    keys = _keys(key)
    other = check_bundle(keyed_bundle(OTHER, key), IMAGE, keys, via="referrer")
    assert other.problem == f"the signed statement does not name {IMAGE.short} as its subject"
    slsa = keyed_bundle(IMAGE, key, predicate_type="https://slsa.dev/provenance/v1")
    attestation = check_bundle(slsa, IMAGE, keys, via="referrer")
    assert attestation.problem == "an attestation (https://slsa.dev/provenance/v1), not a signature"
    foreign = check_bundle(keyed_bundle(IMAGE, SigningKey.ecdsa()), IMAGE, keys, via="referrer")
    assert foreign.problem == "signed with a key the policy does not name"


def test_a_referrer_that_is_not_a_bundle_is_a_problem() -> None:
    keys = _keys(SigningKey.ecdsa())
    for raw in (b"not json", b"[1, 2]", b"[" * 100_000):
        finding = check_bundle(raw, IMAGE, keys, via="referrer")
        assert finding.problem == "a referrer that is not a Sigstore bundle"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyless verification is offline: any connection attempt fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"keyless verification tried to connect: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _real_bundle() -> bytes:
    return (DATA / "slsa-provenance.staging.sigstore.json").read_bytes()


@pytest.mark.usefixtures("no_network")
def test_a_real_keyless_bundle_verifies_offline_up_to_the_predicate() -> None:
    identity = KeylessIdentity(identity=BEACON, issuer=GITHUB)
    finding = check_bundle(_real_bundle(), REAL_SUBJECT, _keys(keyless=(identity,)), via="r")
    # Chain, log entry and identity verified; what is left is that it attests, not signs.
    assert finding.problem == "an attestation (https://slsa.dev/provenance/v1), not a signature"


@pytest.mark.usefixtures("no_network")
def test_a_keyless_identity_may_be_a_regular_expression() -> None:
    identity = KeylessIdentity(
        identity_regexp=r"https://github\.com/sigstore-conformance/.*",
        issuer_regexp=r"https://token\.actions\.githubusercontent\.com",
    )
    finding = check_bundle(_real_bundle(), REAL_SUBJECT, _keys(keyless=(identity,)), via="r")
    assert finding.problem is not None and finding.problem.startswith("an attestation")


@pytest.mark.usefixtures("no_network")
def test_a_keyless_bundle_from_another_identity_does_not_verify() -> None:
    for identity in (
        KeylessIdentity(
            identity="https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
            issuer=GITHUB,
        ),
        KeylessIdentity(identity=BEACON, issuer="https://accounts.google.com"),
    ):
        finding = check_bundle(_real_bundle(), REAL_SUBJECT, _keys(keyless=(identity,)), via="r")
        assert finding.signer is None
        assert finding.problem is not None
        assert finding.problem.startswith("the bundle does not verify: signed by " + BEACON)


@pytest.mark.usefixtures("no_network")
def test_a_tampered_keyless_bundle_does_not_verify() -> None:
    doc = json.loads(_real_bundle())
    envelope = doc["dsseEnvelope"]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = IMAGE.encoded
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    identity = KeylessIdentity(identity=BEACON, issuer=GITHUB)
    finding = check_bundle(json.dumps(doc).encode(), IMAGE, _keys(keyless=(identity,)), via="r")
    assert finding.signer is None
    assert finding.problem is not None and finding.problem.startswith("the bundle does not verify")


def test_a_keyless_bundle_under_a_keys_only_policy_is_refused() -> None:
    finding = check_bundle(_real_bundle(), REAL_SUBJECT, _keys(SigningKey.ecdsa()), via="r")
    assert finding.problem == "a keyless signature, and the policy names keys only"


def test_a_policy_key_that_is_not_a_pem_is_a_configuration_error() -> None:
    policy = SigningPolicy("release", ("*",), public_keys=("-----BEGIN NONSENSE-----",))
    with pytest.raises(ConfigError, match="signing policy 'release', key 1: not a PEM public key"):
        PolicyKeys(policy)


def test_a_sig_tag_signature_under_a_keyless_only_policy_says_why_it_is_refused() -> None:
    identity = KeylessIdentity(identity=BEACON, issuer=GITHUB)
    payload, sig = _signed(SigningKey.ecdsa(), IMAGE)
    finding = check_simple_signing(payload, sig, IMAGE, _keys(keyless=(identity,)), via=".sig")
    assert finding.signer is None
    assert finding.problem is not None and "cannot be verified offline" in finding.problem
