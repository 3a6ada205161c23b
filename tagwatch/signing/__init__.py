"""Signature verification: cosign keys with `cryptography`, Sigstore bundles with sigstore-python.

An adapter like `registry` or `store`: it checks the bytes the registry adapter found against a
`core.signing.SigningPolicy` and answers `core.signing.SignatureFinding`s. Nothing here talks to
the network: keyless bundles are verified offline against a trust root on disk.
"""
