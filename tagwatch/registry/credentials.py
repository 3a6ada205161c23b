"""Credentials users already have: docker config.json `auths`, credHelpers and credsStore."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagwatch.errors import ConfigError

__all__ = ["Credentials", "DockerConfig", "default_docker_config_path", "normalize_registry_key"]

log = logging.getLogger(__name__)

_HUB_KEYS = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_HUB_SERVER_URL = "https://index.docker.io/v1/"
_HELPER_TIMEOUT = 20.0


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or token) for one registry; the secret never appears in repr."""

    username: str
    password: str = field(repr=False)


def default_docker_config_path() -> Path:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def normalize_registry_key(key: str) -> str:
    """A config.json key (`https://index.docker.io/v1/`, `ghcr.io`, `http://h:5000`) as a host."""
    key = key.strip().lower()
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    key = key.split("/", 1)[0]
    return "docker.io" if key in _HUB_KEYS else key


class DockerConfig:
    """Credentials from a docker config.json, looked up by registry host.

    Order per host: `credHelpers[host]`, then an `auths` entry holding credentials, then the
    default `credsStore`. Helpers are `docker-credential-<name>` programs answering `get`.
    A missing file means no credentials; a malformed one raises ConfigError.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else default_docker_config_path()
        self._auths: dict[str, Credentials] = {}
        self._helpers: dict[str, str] = {}
        self._store: str | None = None
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise ConfigError(f"cannot read docker config {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"docker config {self.path} is not valid JSON (line {exc.lineno}); fix or remove it"
            ) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"docker config {self.path} must hold a JSON object")
        auths = data.get("auths") or {}
        if isinstance(auths, dict):
            for key, entry in auths.items():
                creds = self._entry(key, entry)
                if creds is not None:
                    self._auths[normalize_registry_key(key)] = creds
        helpers = data.get("credHelpers") or {}
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if isinstance(name, str) and name:
                    self._helpers[normalize_registry_key(key)] = name
        store = data.get("credsStore")
        if isinstance(store, str) and store:
            self._store = store

    def _entry(self, key: str, entry: Any) -> Credentials | None:
        if not isinstance(entry, dict):
            return None
        auth = entry.get("auth")
        if isinstance(auth, str) and auth:
            try:
                decoded = base64.b64decode(auth, validate=False).decode()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"docker config {self.path}: 'auth' of {key!r} is not base64 'user:password'"
                ) from exc
            name, sep, secret = decoded.partition(":")
            if not sep:
                raise ConfigError(
                    f"docker config {self.path}: the 'auth' of {key!r} is not 'user:password'"
                )
            return Credentials(name, secret)
        user, password = entry.get("username"), entry.get("password")
        if isinstance(user, str) and isinstance(password, str) and user:
            return Credentials(user, password)
        return None

    def lookup(self, registry: str) -> Credentials | None:
        """Credentials for `registry` (a host[:port]; Docker Hub names map to docker.io)."""
        key = normalize_registry_key(registry)
        helper = self._helpers.get(key)
        if helper is not None:
            return self._run_helper(helper, key)
        if key in self._auths:
            return self._auths[key]
        if self._store is not None:
            return self._run_helper(self._store, key)
        return None

    def _run_helper(self, name: str, key: str) -> Credentials | None:
        program = f"docker-credential-{name}"
        path = shutil.which(program)
        if path is None:
            log.warning(
                "credential helper %s (docker config %s) is not on PATH", program, self.path
            )
            return None
        server = _HUB_SERVER_URL if key == "docker.io" else key
        try:
            result = subprocess.run(
                [path, "get"],
                input=server,
                capture_output=True,
                text=True,
                timeout=_HELPER_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"credential helper {program} failed for {key}: {exc}") from exc
        if result.returncode != 0:
            # "credentials not found in native keychain" and the like: anonymous access.
            log.debug("credential helper %s has no credentials for %s", program, key)
            return None
        try:
            answer = json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"credential helper {program} gave no JSON for {key}") from exc
        return _helper_credentials(answer)


def _helper_credentials(answer: Any) -> Credentials | None:
    if not isinstance(answer, Mapping):
        return None
    user, secret = answer.get("Username"), answer.get("Secret")
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return None
    if user == "<token>":  # an identity token for OAuth2 refresh, which we do not speak
        return None
    return Credentials(user, secret)
