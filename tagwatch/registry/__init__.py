"""The registry adapter: OCI distribution over httpx (digests, builds, auth, rate limits)."""

from tagwatch.registry.client import RegistryClient, RegistrySettings
from tagwatch.registry.credentials import Credentials, DockerConfig
from tagwatch.registry.ratelimit import RateLimitStatus

__all__ = [
    "Credentials",
    "DockerConfig",
    "RateLimitStatus",
    "RegistryClient",
    "RegistrySettings",
]
