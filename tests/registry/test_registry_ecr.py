"""ECR credentials from GetAuthorizationToken (moto's server on loopback), used by the client."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.registry import RegistryClient
from tagwatch.registry.providers import ecr
from tagwatch.registry.providers.ecr import ecr_credentials, is_ecr_host

ACCOUNT = "123456789012"
ECR = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
DIGEST = Digest.of(b"ecr manifest")


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server on a free loopback port (moto[server] is a dev dependency)."""
    binary = Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "moto_server"
    if not binary.exists():
        binary = Path(".venv/bin/moto_server")
    assert binary.exists(), (
        "moto_server is missing: run `uv sync` (moto[server] is a dev dependency)"
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert process.poll() is None, "moto_server exited at start"
                assert time.monotonic() < deadline, "moto_server did not listen within 30 s"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in {
        "AWS_ENDPOINT_URL_ECR": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


def test_ecr_hosts_are_recognised() -> None:
    assert is_ecr_host(ECR)
    assert is_ecr_host(f"{ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com")
    assert is_ecr_host(f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn")
    assert not is_ecr_host("public.ecr.aws")
    assert not is_ecr_host("ghcr.io")


def test_authorization_token_is_decoded_into_basic_credentials(aws: str) -> None:
    username, password, expires_at = ecr_credentials(ECR)
    assert username == "AWS"
    assert password == f"{ACCOUNT}-auth-token"
    assert expires_at.tzinfo is not None


def test_an_explicit_boto3_session_is_used(aws: str) -> None:
    import boto3

    session = boto3.Session(
        aws_access_key_id="other", aws_secret_access_key="other", region_name="us-east-1"
    )
    assert ecr_credentials(ECR, session=session)[0] == "AWS"


async def test_client_uses_ecr_credentials_and_refreshes_an_expired_token_only_once_per_call(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[datetime] = []

    def counting(host: str, *, session: Any = None) -> tuple[str, str, datetime]:
        result = ecr_credentials(host, session=session)
        calls.append(result[2])
        return result

    monkeypatch.setattr("tagwatch.registry.hosts.ecr_credentials", counting)
    expected = "Basic " + base64.b64encode(f"AWS:{ACCOUNT}-auth-token".encode()).decode()
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == ECR and request.url.scheme == "https"
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401, headers={"WWW-Authenticate": f'Basic realm="{ECR}"'})
        return httpx.Response(200, headers={"Docker-Content-Digest": str(DIGEST)})

    ref = ImageRef.parse(f"{ECR}/team/app:prod")
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with RegistryClient(http=http, max_retries=0) as client:
        assert await client.resolve(ref) == DIGEST
        assert await client.resolve(ref) == DIGEST
    await http.aclose()
    # moto's expiresAt is in 2015: used anyway, fetched once, kept for a few minutes.
    assert len(calls) == 1 and calls[0] < datetime.now(UTC)
    assert seen == [None, expected, expected]


def test_no_aws_credentials_is_authentication_failed(
    aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tagwatch.errors import AuthenticationFailed

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AuthenticationFailed, match="AWS credential"):
        ecr.ecr_credentials(ECR)
