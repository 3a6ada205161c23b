"""Wiring: the one place that builds adapters (store, registry client) from settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tagwatch.errors import StoreError, StoreUnusable
from tagwatch.registry import RegistryClient, RegistrySettings
from tagwatch.store import Store, database_url

if TYPE_CHECKING:
    from tagwatch.app.settings import Settings, SigningPolicyEntry
    from tagwatch.app.signatures import SignatureJudge

__all__ = [
    "command_settings",
    "judge_for",
    "open_store",
    "registry_client",
    "registry_settings",
    "signature_judge",
]


def open_store(url: str | None, *, migrate: bool = True) -> Store:
    """Open the database at `url` (default: the embedded SQLite file), upgrading an empty one.

    Raises StoreUnusable (exit 2: fix the URL or run `tagwatch db upgrade`) when it cannot.
    """
    try:
        return Store.open(database_url(url), migrate=migrate)
    except StoreUnusable:
        raise
    except StoreError as exc:
        raise StoreUnusable(str(exc)) from exc


def registry_client(
    registries: Mapping[str, RegistrySettings] | None = None,
    *,
    docker_config: Path | None = None,
) -> RegistryClient:
    """A registry client with per-registry settings and the user's Docker credentials."""
    return RegistryClient(settings=registries or {}, docker_config=docker_config)


def command_settings(config: str | None) -> Settings:
    """The configuration a CLI command reads: `--config`, else $TAGWATCH_CONFIG, else defaults.

    The same file as `tagwatch run`, so every command sees the service's database, registries,
    clusters and watches; only what commands use is resolved (registry credentials, not the
    Slack token or webhook secrets).
    """
    from tagwatch.app.settings import load_settings

    return load_settings(Path(config) if config else None, service=False)


def registry_settings(config: str | None) -> dict[str, RegistrySettings]:
    """Per-registry settings (credentials resolved, insecure flags) from the YAML config, if any."""
    return command_settings(config).registry_settings()


def signature_judge(config: str | None) -> SignatureJudge | None:
    """The signing policies of the YAML config (keys read and checked), if it has any."""
    return judge_for(command_settings(config).signing)


def judge_for(entries: Sequence[SigningPolicyEntry]) -> SignatureJudge | None:
    """A judge for the configured signing policies; None when there are none."""
    if not entries:
        return None
    from tagwatch.app.signatures import SignatureJudge

    return SignatureJudge([entry.policy() for entry in entries])
