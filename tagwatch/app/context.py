"""Wiring: the one place that builds adapters from settings, for the CLI and the service.

The store, the registry client, the cluster client and the vendor APIs are made here and
handed to the app by keyword; a command opens what it needs with one `async with`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagwatch.core.references import DOCKER_HUB
from tagwatch.errors import StoreError, StoreUnusable

# The adapters are imported in the functions that build them, so a command pays only for
# what it opens: `watch list` needs the store, not httpx, lightkube or the vendor APIs.
if TYPE_CHECKING:
    import httpx
    from lightkube import AsyncClient

    from tagwatch.app.backfill import ProviderFor
    from tagwatch.app.settings import Settings, SigningPolicyEntry
    from tagwatch.app.signatures import SignatureJudge
    from tagwatch.cluster import ClusterSettings
    from tagwatch.registry import RegistryClient, RegistrySettings
    from tagwatch.registry.providers.records import TagProvider
    from tagwatch.store import Store, Watch

__all__ = [
    "cluster_client",
    "command_settings",
    "judge_for",
    "open_store",
    "registry_client",
    "registry_settings",
    "signature_judge",
    "store_and_registry",
    "store_for",
    "store_maybe_registry",
    "stored_watches",
    "vendor_apis",
    "vendor_providers",
]


def open_store(url: str | None, *, migrate: bool = True) -> Store:
    """Open the database at `url` (default: the embedded SQLite file), upgrading an empty one.

    Raises StoreUnusable (exit 2: fix the URL or run `tagwatch db upgrade`) when it cannot.
    """
    from tagwatch.store import Store, database_url

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
    from tagwatch.registry import RegistryClient

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


@contextmanager
def store_for(settings: Settings, db: str | None) -> Iterator[Store]:
    """The store of `--db`, else of the configuration, closed after the block."""
    store = open_store(db or settings.database_url)
    try:
        yield store
    finally:
        store.close()


def stored_watches(settings: Settings, db: str | None) -> list[Watch]:
    """The watches `tagwatch watch add` stored in the database of `--db`, else of the config.

    An up-to-date SQLite file is read without importing SQLAlchemy (store/watch_list.py says
    why); any other database is opened as a `Store`, with its usual checks and messages.
    """
    from tagwatch.store.urls import database_url
    from tagwatch.store.watch_list import read_sqlite_watches

    quick = read_sqlite_watches(database_url(db or settings.database_url))
    if quick is not None:
        return quick
    with store_for(settings, db) as store, store.begin() as tx:
        return tx.watches()


@asynccontextmanager
async def store_and_registry(
    settings: Settings, db: str | None
) -> AsyncIterator[tuple[Store, RegistryClient]]:
    """The store and a registry client with the configuration's per-registry settings."""
    with store_for(settings, db) as store:
        async with registry_client(settings.registry_settings()) as registry:
            yield store, registry


@asynccontextmanager
async def store_maybe_registry(
    settings: Settings, db: str | None, *, offline: bool
) -> AsyncIterator[tuple[Store, RegistryClient | None]]:
    """As `store_and_registry`, without a registry client (None) when `offline`."""
    if offline:
        with store_for(settings, db) as store:
            yield store, None
        return
    async with store_and_registry(settings, db) as (store, registry):
        yield store, registry


@asynccontextmanager
async def cluster_client(settings: ClusterSettings) -> AsyncIterator[AsyncClient]:
    """A Kubernetes client for the chosen kubeconfig and context, closed after the block."""
    from tagwatch.cluster import connect

    client = connect(settings)
    try:
        yield client
    finally:
        await client.close()


def vendor_providers(
    http: httpx.AsyncClient,
    *,
    github_token: str | None,
    hub_url: str | None = None,
    github_url: str | None = None,
    aws_session: Any = None,
) -> ProviderFor:
    """The real vendor APIs: docker.io → Docker Hub, ghcr.io → GitHub, ECR hosts → ECR."""
    from tagwatch.registry.providers.ecr import is_ecr_host
    from tagwatch.registry.providers.ecr_api import EcrImages
    from tagwatch.registry.providers.github import GHCR, GITHUB_API, GitHubPackages
    from tagwatch.registry.providers.hub import HUB_API, HubAPI

    hub = HubAPI(http, base_url=hub_url or HUB_API)
    github = GitHubPackages(http, token=github_token, base_url=github_url or GITHUB_API)
    ecr = EcrImages(session=aws_session)

    def choose(host: str) -> TagProvider | None:
        if host == DOCKER_HUB:
            return hub
        if host == GHCR:
            return github
        if is_ecr_host(host.split(":")[0]):
            return ecr
        return None

    return choose


@asynccontextmanager
async def vendor_apis(env: Mapping[str, str]) -> AsyncIterator[ProviderFor]:
    """The real vendor APIs over one HTTP client, for the duration of the block.

    `GITHUB_TOKEN` authenticates to the GitHub API; `GITHUB_API_URL` (set by GitHub Actions,
    and for GitHub Enterprise Server) replaces https://api.github.com.
    """
    import httpx

    from tagwatch.registry.client import USER_AGENT

    async with httpx.AsyncClient(
        timeout=30.0, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    ) as http:
        yield vendor_providers(
            http,
            github_token=env.get("GITHUB_TOKEN") or None,
            github_url=env.get("GITHUB_API_URL") or None,
        )
