"""cosign public keys: load a PEM, name it by fingerprint, verify a signature made with it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tagwatch.errors import ConfigError

__all__ = ["PublicKey", "load_public_key"]

_Key = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class PublicKey:
    """A verification key; `name` is `key <first 16 hex of the SPKI's SHA-256>`, as shown."""

    key: _Key
    name: str

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Whether `signature` over `data` was made with this key (cosign's schemes)."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, data, ec.ECDSA(_hash_for(self.key)))
            elif isinstance(self.key, rsa.RSAPublicKey):
                return self._verifies_rsa(signature, data)
            else:
                self.key.verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True

    def _verifies_rsa(self, signature: bytes, data: bytes) -> bool:
        assert isinstance(self.key, rsa.RSAPublicKey)
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
        for scheme in (padding.PKCS1v15(), pss):
            try:
                self.key.verify(signature, data, scheme, hashes.SHA256())
            except (InvalidSignature, ValueError):
                continue
            return True
        return False


def _hash_for(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    # cosign signs with SHA-256 on P-256, and with the curve's own size above it.
    size = key.curve.key_size
    if size > 384:
        return hashes.SHA512()
    if size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def load_public_key(pem: str, *, where: str) -> PublicKey:
    """The key in `pem` (a `cosign.pub`); a ConfigError naming `where` when it is not one."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ConfigError(
            f"{where}: cosign keys are ECDSA, RSA or Ed25519, not {type(key).__name__}"
        )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PublicKey(key, f"key {hashlib.sha256(der).hexdigest()[:16]}")
