"""Check one found signature against a policy: a cosign `.sig` layer or a Sigstore bundle.

Each check answers a `SignatureFinding`: who signed (when it verified) or why it does not count.
A signature proves only what it signs, so after the cryptography the signed document must name
the very digest being checked (the simple-signing payload's manifest digest, the in-toto
statement's subject).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

from tagwatch.core.digests import Digest
from tagwatch.core.signing import (
    COSIGN_SIGN_PREDICATE,
    KeylessIdentity,
    SignatureFinding,
    SigningPolicy,
    payload_problem,
    statement_problem,
)
from tagwatch.errors import ConfigError
from tagwatch.signing.keys import PublicKey, load_public_key

__all__ = ["PolicyKeys", "check_bundle", "check_simple_signing"]

_IN_TOTO = "application/vnd.in-toto+json"
_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_SIGSTORE_OTHERNAME = "1.3.6.1.4.1.57264.1.7"

# sigstore-python says so at WARNING on every offline verification; it is what we ask for.
logging.getLogger("sigstore.verify.verifier").setLevel(logging.ERROR)
logging.getLogger("tuf").setLevel(logging.ERROR)


class PolicyKeys:
    """A policy's keys, loaded once (a bad PEM is a configuration error at start-up)."""

    def __init__(self, policy: SigningPolicy) -> None:
        self.policy = policy
        self.keys: list[PublicKey] = [
            load_public_key(pem, where=f"signing policy {policy.name!r}, key {i + 1}")
            for i, pem in enumerate(policy.public_keys)
        ]


def _b64(raw: Any) -> bytes | None:
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


def check_simple_signing(
    payload: bytes, signature: str | None, digest: Digest, keys: PolicyKeys, *, via: str
) -> SignatureFinding:
    """A cosign ≤ 2 signature: `signature` (base64, the layer annotation) over `payload`."""
    raw = _b64(signature)
    if raw is None:
        return SignatureFinding(via, problem="a signature layer without a readable signature")
    if not keys.keys:
        return SignatureFinding(
            via,
            # Its Rekor bundle is a signed timestamp without an inclusion proof, and
            # sigstore-python verifies log entries only with one: not checkable offline.
            problem="a keyless .sig tag signature cannot be verified offline; sign with "
            "cosign 3 (Sigstore bundles as referrers)",
        )
    signer = next((k.name for k in keys.keys if k.verifies(raw, payload)), None)
    if signer is None:
        return SignatureFinding(via, problem="signed with a key the policy does not name")
    problem = payload_problem(payload, digest)
    return SignatureFinding(via, signer=None if problem else signer, problem=problem)


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature is made over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _statement_finding(
    payload_type: str, statement: bytes, digest: Digest, signer: str, via: str
) -> SignatureFinding:
    if payload_type != _IN_TOTO:
        return SignatureFinding(via, problem=f"a DSSE payload of type {payload_type!r}")
    try:
        predicate = json.loads(statement).get("predicateType")
    except (ValueError, AttributeError, RecursionError):
        predicate = None
    if predicate != COSIGN_SIGN_PREDICATE:
        # An attestation (SLSA provenance, an SBOM) names the image too, but signs a claim
        # about it, not the image: it is not a signature.
        return SignatureFinding(via, problem=f"an attestation ({predicate}), not a signature")
    problem = statement_problem(statement, digest)
    return SignatureFinding(via, signer=None if problem else signer, problem=problem)


def _keyed_bundle(doc: dict[str, Any], digest: Digest, keys: PolicyKeys, via: str) -> Any:
    envelope = doc.get("dsseEnvelope")
    if not isinstance(envelope, dict):
        return SignatureFinding(via, problem="a keyed bundle without a DSSE envelope")
    payload = _b64(envelope.get("payload"))
    payload_type = envelope.get("payloadType")
    signatures = envelope.get("signatures")
    if payload is None or not isinstance(payload_type, str) or not isinstance(signatures, list):
        return SignatureFinding(via, problem="a DSSE envelope that is not well formed")
    signed = _pae(payload_type, payload)
    for entry in signatures:
        sig = _b64(entry.get("sig")) if isinstance(entry, dict) else None
        if sig is None:
            continue
        for key in keys.keys:
            if key.verifies(sig, signed):
                return _statement_finding(payload_type, payload, digest, key.name, via)
    return SignatureFinding(via, problem="signed with a key the policy does not name")


class _KeylessPolicy:
    """sigstore-python's policy hook: the certificate must carry one of the identities."""

    def __init__(self, identities: Sequence[KeylessIdentity]) -> None:
        self.identities = identities
        self.matched: str | None = None

    def verify(self, cert: Any) -> None:
        from sigstore.errors import VerificationError

        sans, issuer = _identity_of(cert)
        for wanted in self.identities:
            for san in sans:
                if issuer is not None and wanted.matches(san, issuer):
                    self.matched = f"{san} ({issuer})"
                    return
        got = ", ".join(sorted(sans)) or "no identity"
        raise VerificationError(f"signed by {got} ({issuer}), whom the policy does not name")


def _identity_of(cert: Any) -> tuple[set[str], str | None]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), None
    sans = set(san.get_values_for_type(x509.RFC822Name))
    sans.update(san.get_values_for_type(x509.UniformResourceIdentifier))
    sans.update(
        on.value.decode(errors="replace")
        for on in san.get_values_for_type(x509.OtherName)
        if on.type_id.dotted_string == _SIGSTORE_OTHERNAME
    )
    issuer: str | None = None
    for ext in cert.extensions:
        if ext.oid.dotted_string == _ISSUER_V2:
            issuer = _der_utf8(ext.value.value)
        elif ext.oid.dotted_string == _ISSUER_V1 and issuer is None:
            issuer = ext.value.value.decode(errors="replace")
    return sans, issuer


def _der_utf8(der: bytes) -> str | None:
    """A DER UTF8String (tag 0x0C), as Fulcio writes its v2 extensions."""
    if len(der) < 2 or der[0] != 0x0C:
        return None
    length, start = der[1], 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        count = length & 0x7F
        length, start = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    return der[start : start + length].decode(errors="replace")


@cache
def _verifier(trust_root: str) -> Any:
    """sigstore-python's verifier for `trust_root`, offline: no TUF refresh, no Rekor, no Fulcio."""
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    if trust_root == "production":
        return Verifier.production(offline=True)
    if trust_root == "staging":
        return Verifier.staging(offline=True)
    try:
        return Verifier(trusted_root=TrustedRoot.from_file(trust_root))
    except Exception as exc:  # the library raises several kinds for a bad file
        raise ConfigError(f"trust root {trust_root}: {exc}") from None


def _keyless_bundle(raw: bytes, digest: Digest, policy: SigningPolicy, via: str) -> Any:
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, InvalidBundle

    if not policy.keyless:
        return SignatureFinding(via, problem="a keyless signature, and the policy names keys only")
    try:
        bundle = Bundle.from_json(raw)
    except (InvalidBundle, ValueError) as exc:
        return SignatureFinding(via, problem=f"not a Sigstore bundle ({exc})")
    hook = _KeylessPolicy(policy.keyless)
    try:
        payload_type, statement = _verifier(policy.trust_root).verify_dsse(bundle, hook)
    except SigstoreError as exc:
        return SignatureFinding(via, problem=f"the bundle does not verify: {exc}")
    except ValueError as exc:  # a message signature, not a DSSE envelope
        return SignatureFinding(via, problem=f"the bundle does not verify: {exc}")
    return _statement_finding(payload_type, statement, digest, hook.matched or "keyless", via)


def check_bundle(raw: bytes, digest: Digest, keys: PolicyKeys, *, via: str) -> SignatureFinding:
    """A Sigstore bundle (cosign 3, OCI 1.1 referrers): keyed when it carries a public-key hint,
    keyless (a Fulcio certificate, verified against the policy's trust root) otherwise."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        return SignatureFinding(via, problem="a referrer that is not a Sigstore bundle")
    material = doc.get("verificationMaterial")
    if isinstance(material, dict) and "publicKey" in material:
        if not keys.keys:
            return SignatureFinding(via, problem="signed with a key, and the policy names none")
        finding: SignatureFinding = _keyed_bundle(doc, digest, keys, via)
        return finding
    keyless: SignatureFinding = _keyless_bundle(raw, digest, keys.policy, via)
    return keyless
