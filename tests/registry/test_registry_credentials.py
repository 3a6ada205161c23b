"""Credentials from docker config.json: `auths`, credential helpers on PATH, the default store."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from tagwatch.core.references import ImageRef
from tagwatch.errors import ConfigError
from tagwatch.registry import Credentials, DockerConfig, RegistryClient
from tagwatch.registry.credentials import default_docker_config_path, normalize_registry_key
from tests.support.registry import TestRegistry

HELPER = """#!/bin/sh
read server
echo "$server" >> "{log}"
if [ "$server" = "{host}" ]; then
  printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{password}"}}' "$server"
  exit 0
fi
echo "credentials not found in native keychain" >&2
exit 1
"""


def write_config(directory: Path, data: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(data))
    return path


def install_helper(
    bin_dir: Path, name: str, *, host: str, user: str, password: str, log: Path
) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(HELPER.format(log=log, host=host, user=user, password=password))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_keys_are_normalised_like_docker_does() -> None:
    assert normalize_registry_key("https://index.docker.io/v1/") == "docker.io"
    assert normalize_registry_key("registry-1.docker.io") == "docker.io"
    assert normalize_registry_key("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"
    assert normalize_registry_key("GHCR.io") == "ghcr.io"


def test_auths_entries_are_found_by_host(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": auth("hubuser", "hubpw")},
                "ghcr.io": {"username": "gh", "password": "ghp_x"},
                "empty.example.com": {},
            }
        },
    )
    config = DockerConfig(path)
    assert config.lookup("docker.io") == Credentials("hubuser", "hubpw")
    assert config.lookup("ghcr.io") == Credentials("gh", "ghp_x")
    assert config.lookup("empty.example.com") is None
    assert config.lookup("quay.io") is None
    assert "hubpw" not in repr(config.lookup("docker.io"))


def test_missing_config_means_no_credentials(tmp_path: Path) -> None:
    assert DockerConfig(tmp_path / "nope.json").lookup("docker.io") is None


def test_malformed_config_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=str(path)):
        DockerConfig(path)
    without_colon = base64.b64encode(b"justauser").decode()
    with pytest.raises(ConfigError, match=r"x\.io"):
        DockerConfig(write_config(tmp_path / "b", {"auths": {"x.io": {"auth": without_colon}}}))


def test_docker_config_env_var_is_the_default_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert default_docker_config_path() == tmp_path / "dc" / "config.json"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert default_docker_config_path() == Path.home() / ".docker" / "config.json"


async def test_client_uses_docker_config_auths_for_a_basic_registry(
    basic_registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    digest = basic_registry.push_image(repo_name, "v1", content="cfg")
    path = write_config(
        tmp_path,
        {
            "auths": {
                basic_registry.host: {
                    "auth": auth(basic_registry.username, basic_registry.password)
                }
            }
        },
    )
    async with RegistryClient(docker_config=path, max_retries=0) as client:
        assert (
            await client.resolve(ImageRef.parse(f"{basic_registry.host}/{repo_name}:v1")) == digest
        )


async def test_client_runs_a_credential_helper_from_path(
    basic_registry: TestRegistry,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = basic_registry.push_image(repo_name, "v1", content="helper")
    log = tmp_path / "helper.log"
    install_helper(
        tmp_path / "bin",
        "test",
        host=basic_registry.host,
        user=basic_registry.username,
        password=basic_registry.password,
        log=log,
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    path = write_config(tmp_path / "cfg", {"credHelpers": {basic_registry.host: "test"}})
    async with RegistryClient(docker_config=path, max_retries=0) as client:
        ref = ImageRef.parse(f"{basic_registry.host}/{repo_name}:v1")
        assert await client.resolve(ref) == digest
        assert await client.resolve(ref) == digest
    assert log.read_text().splitlines() == [basic_registry.host]  # asked once, then cached


def test_creds_store_is_the_default_helper_and_misses_are_anonymous(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "helper.log"
    install_helper(
        tmp_path / "bin",
        "store",
        host="https://index.docker.io/v1/",
        user="u",
        password="p",
        log=log,
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    config = DockerConfig(write_config(tmp_path / "cfg", {"credsStore": "store"}))
    assert config.lookup("docker.io") == Credentials("u", "p")
    assert config.lookup("quay.io") is None
    assert log.read_text().splitlines() == ["https://index.docker.io/v1/", "quay.io"]


def test_a_missing_helper_program_means_no_credentials(tmp_path: Path) -> None:
    config = DockerConfig(write_config(tmp_path, {"credsStore": "does-not-exist-anywhere"}))
    assert config.lookup("ghcr.io") is None
