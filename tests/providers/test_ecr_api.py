"""ECR DescribeImages as tag records, against moto's server on loopback (AWS_ENDPOINT_URL_ECR)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import AuthenticationFailed, RegistryError, UsageError
from tagwatch.registry.providers.ecr_api import EcrImages

ACCOUNT = "123456789012"
HOST = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"


def _manifest(n: int) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": 2,
                "digest": str(Digest.of(b"{}")),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "size": n,
                    "digest": str(Digest.of(f"layer {n}".encode())),
                }
            ],
        }
    )


def _ecr_repo(name: str) -> Any:
    import boto3

    client = boto3.client("ecr", region_name="eu-west-1")
    client.create_repository(repositoryName=name)
    return client


def _name(request: pytest.FixtureRequest) -> str:
    return f"team/{request.node.name.replace('_', '-')[:40]}-{os.getpid()}"


async def test_each_tag_has_the_digest_and_its_push_time(
    aws: str, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    client = _ecr_repo(name)
    body = _manifest(1)
    digest = Digest.of(body.encode())
    before = datetime.now(UTC).replace(microsecond=0)
    client.put_image(
        repositoryName=name, imageManifest=body, imageTag="prod", imageDigest=str(digest)
    )
    client.put_image(repositoryName=name, imageManifest=_manifest(2), imageTag="v2")
    records = await EcrImages().tags(ImageRef.parse(f"{HOST}/{name}:prod"))
    by_tag = {r.tag: r for r in records}
    assert set(by_tag) == {"prod", "v2"}
    prod = by_tag["prod"]
    assert prod.digest == digest and prod.certain
    assert prod.pushed_at is not None
    assert before - timedelta(seconds=1) <= prod.pushed_at <= datetime.now(UTC)


async def test_a_digest_carrying_several_tags_is_dated_uncertain(
    aws: str, request: pytest.FixtureRequest
) -> None:
    name = _name(request)
    client = _ecr_repo(name)
    body = _manifest(3)
    client.put_image(repositoryName=name, imageManifest=body, imageTag="v3")
    client.put_image(repositoryName=name, imageManifest=body, imageTag="prod")
    records = await EcrImages().tags(ImageRef.parse(f"{HOST}/{name}:prod"))
    assert {r.tag for r in records} == {"v3", "prod"}
    assert len({r.digest for r in records}) == 1
    assert not any(r.certain for r in records)


async def test_an_unknown_repository_is_not_found(aws: str) -> None:
    with pytest.raises(RegistryError, match="not found"):
        await EcrImages().tags(ImageRef.parse(f"{HOST}/team/nothing-here:prod"))


async def test_no_aws_credentials_is_authentication_failed(
    aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(AuthenticationFailed, match="AWS credential"):
        await EcrImages().tags(ImageRef.parse(f"{HOST}/team/app:prod"))


async def test_a_host_that_is_not_ecr_needs_an_explicit_account_and_region() -> None:
    with pytest.raises(UsageError, match="not an ECR host"):
        await EcrImages().tags(ImageRef.parse("registry.example.com/team/app:prod"))
