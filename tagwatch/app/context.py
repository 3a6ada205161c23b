"""Wiring: the one place that builds adapters (store, registry client) from settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tagwatch.registry import RegistryClient, RegistrySettings
from tagwatch.store import Store, database_url

if TYPE_CHECKING:
    from tagwatch.app.settings import SigningPolicyEntry
    from tagwatch.app.signatures import SignatureJudge

__all__ = ["open_store", "registry_client", "registry_settings", "signature_judge"]


def open_store(url: str | None, *, migrate: bool = True) -> Store:
    """Open the database at `url` (default: the embedded SQLite file), upgrading an empty one."""
    return Store.open(database_url(url), migrate=migrate)


def registry_client(
    registries: Mapping[str, RegistrySettings] | None = None,
    *,
    docker_config: Path | None = None,
) -> RegistryClient:
    """A registry client with per-registry settings and the user's Docker credentials."""
    return RegistryClient(settings=registries or {}, docker_config=docker_config)


def registry_settings(config: str | None) -> dict[str, RegistrySettings]:
    """Per-registry settings (credentials resolved, insecure flags) from the YAML config, if any."""
    if config is None:
        return {}
    from tagwatch.app.settings import load_settings

    return load_settings(Path(config)).registry_settings()


def signature_judge(config: str | None) -> SignatureJudge | None:
    """The signing policies of the YAML config (keys read and checked), if it has any."""
    if config is None:
        return None
    from tagwatch.app.settings import load_settings

    return judge_for(load_settings(Path(config)).signing)


def judge_for(entries: Sequence[SigningPolicyEntry]) -> SignatureJudge | None:
    """A judge for the configured signing policies; None when there are none."""
    if not entries:
        return None
    from tagwatch.app.signatures import SignatureJudge

    return SignatureJudge([entry.policy() for entry in entries])
