"""Registry hosts: the settings for each, what the client learned about it, and its credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagwatch.core.references import ImageRef
from tagwatch.core.times import utcnow
from tagwatch.registry.auth import Challenge, hostname, is_loopback
from tagwatch.registry.credentials import Credentials, DockerConfig, normalize_registry_key
from tagwatch.registry.providers.ecr import ecr_credentials, is_ecr_host

__all__ = ["Host", "Hosts", "RegistrySettings"]

# ECR tokens whose expiry is already past when issued (moto does this) are kept this long.
_MIN_CREDENTIAL_LIFE = timedelta(minutes=5)
_REFRESH_BEFORE = timedelta(minutes=5)
#: Docker config credentials are read again after this long by default: a long-running service
#: picks up a new `docker login`, and helpers handing out short-lived tokens (gcloud: 1 h,
#: ecr-login: 12 h) renew.
DOCKER_CREDENTIALS_LIFE = timedelta(minutes=5)


@dataclass(frozen=True)
class RegistrySettings:
    """How to talk to one registry host (from configuration; secrets already resolved)."""

    insecure: bool = False  # allow plain HTTP and skip TLS verification for this host
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    allowed_auth_hosts: tuple[str, ...] = ()  # extra token-realm hosts credentials may go to
    request_deadline: float = 30.0  # seconds for one whole exchange, however slowly it drips
    check_deadline: float = 60.0  # seconds for one tag check: resolve, describe, retries


@dataclass
class Host:
    """What the client learned about one registry host."""

    registry: str  # the name users write (docker.io), used in messages and settings
    api_host: str  # where the API lives (registry-1.docker.io)
    settings: RegistrySettings
    scheme: str
    semaphore: asyncio.Semaphore
    challenge: Challenge | None = None
    credentials: Credentials | None = None
    credentials_loaded: bool = False
    credentials_expire: datetime | None = None
    credentials_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    withheld_from: str | None = None  # a token realm we did not trust with the credentials
    head_misses: int = 0  # HEADs in a row that answered no digest (405, 404 or no header)
    resolves: int = 0
    # Since when the host has not answered within its deadline (None: it answers). While it
    # is stuck one request probes it and the others fail at once, so it cannot hold a tick.
    stuck_since: datetime | None = None
    probing: bool = False


class Hosts:
    """One `Host` per API host, and the credentials for each (settings, ECR or docker config)."""

    def __init__(
        self,
        settings: Mapping[str, RegistrySettings] | None = None,
        *,
        docker_config: Path | None = None,
        docker_credentials_life: timedelta = DOCKER_CREDENTIALS_LIFE,
    ) -> None:
        self._settings = {normalize_registry_key(k): v for k, v in (settings or {}).items()}
        self._docker_config_path = docker_config
        self._docker_config: DockerConfig | None = None
        self._docker_config_expire = datetime.min.replace(tzinfo=UTC)
        self._docker_life = docker_credentials_life
        self._hosts: dict[str, Host] = {}

    def __iter__(self) -> Iterator[Host]:
        return iter(self._hosts.values())

    def of(self, ref: ImageRef) -> Host:
        """The host `ref` lives on (created with its settings on first use)."""
        host = self._hosts.get(ref.api_host)
        if host is None:
            settings = (
                self._settings.get(normalize_registry_key(ref.registry))
                or self._settings.get(normalize_registry_key(ref.api_host))
                or RegistrySettings()
            )
            scheme = "http" if is_loopback(ref.api_host) else "https"
            host = Host(
                registry=ref.registry,
                api_host=ref.api_host,
                settings=settings,
                scheme=scheme,
                semaphore=asyncio.Semaphore(max(1, settings.max_concurrency)),
            )
            self._hosts[ref.api_host] = host
        return host

    async def credentials(self, host: Host) -> Credentials | None:
        """The credentials for `host`, reloaded when they expire (ECR tokens, docker config)."""
        now = utcnow()
        if self._fresh(host, now):
            return host.credentials
        async with host.credentials_lock:
            if self._fresh(host, now):
                return host.credentials
            settings = host.settings
            expire: datetime | None = None
            creds: Credentials | None
            if settings.username is not None:
                creds = Credentials(settings.username, settings.password or "")
            elif is_ecr_host(hostname(host.api_host)):
                user, password, expires_at = await asyncio.to_thread(
                    ecr_credentials, hostname(host.api_host)
                )
                creds = Credentials(user, password)
                expire = max(expires_at - _REFRESH_BEFORE, now + _MIN_CREDENTIAL_LIFE)
            else:
                if self._docker_config is None or now >= self._docker_config_expire:
                    self._docker_config = await asyncio.to_thread(
                        DockerConfig, self._docker_config_path
                    )
                    self._docker_config_expire = now + self._docker_life
                creds = await asyncio.to_thread(self._docker_config.lookup, host.registry)
                expire = now + self._docker_life
            host.credentials, host.credentials_expire = creds, expire
            host.credentials_loaded = True
            return creds

    @staticmethod
    def _fresh(host: Host, now: datetime) -> bool:
        return host.credentials_loaded and (
            host.credentials_expire is None or now < host.credentials_expire
        )
