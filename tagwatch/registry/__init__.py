"""The registry adapter: OCI distribution over httpx (digests, builds, auth, rate limits).

The names are imported on first use (PEP 562): the settings and the CLI's start-up read
`RegistrySettings` without paying for httpx, which only the client needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagwatch.registry.client import RegistryClient
    from tagwatch.registry.credentials import Credentials, DockerConfig
    from tagwatch.registry.hosts import RegistrySettings
    from tagwatch.registry.ratelimit import RateLimitStatus

__all__ = [
    "Credentials",
    "DockerConfig",
    "RateLimitStatus",
    "RegistryClient",
    "RegistrySettings",
]

_HOMES = {
    "Credentials": "tagwatch.registry.credentials",
    "DockerConfig": "tagwatch.registry.credentials",
    "RateLimitStatus": "tagwatch.registry.ratelimit",
    "RegistryClient": "tagwatch.registry.client",
    "RegistrySettings": "tagwatch.registry.hosts",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
