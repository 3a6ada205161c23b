"""Amazon ECR's DescribeImages (boto3): each tagged digest with its push time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import (
    AccessDenied,
    AuthenticationFailed,
    ProtocolError,
    RegistryError,
    RegistryUnavailable,
    UsageError,
)
from tagwatch.registry.providers.ecr import ECR_HOST
from tagwatch.registry.providers.records import TagRecord

__all__ = ["EcrImages"]

_DENIED = frozenset({"AccessDeniedException", "UnrecognizedClientException"})
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException"})


class EcrImages:
    """`describe_images` for the repository of an ECR image, every page.

    The account and region come from the host (`<account>.dkr.ecr.<region>.amazonaws.com`)
    unless given; credentials from `session` (a boto3.Session) or the AWS chain;
    `AWS_ENDPOINT_URL_ECR` is honoured by boto3 itself. `imagePushedAt` is when the digest
    was pushed; a tag moved onto an older digest later keeps that older time, so a record is
    certain only when its digest carries that one tag. (A tag moved away and back onto a
    digest that carries only it is still dated by the digest's first push: ECR keeps no
    per-tag time.)
    """

    def __init__(
        self, *, session: Any = None, region: str | None = None, registry_id: str | None = None
    ) -> None:
        self._session = session
        self._region = region
        self._registry_id = registry_id

    async def tags(self, ref: ImageRef) -> list[TagRecord]:
        """Every tag of `ref`'s ECR repository (boto3 runs in a worker thread)."""
        return await asyncio.to_thread(self._tags, ref)

    def _where(self, ref: ImageRef) -> tuple[str, str]:
        if self._region and self._registry_id:
            return self._region, self._registry_id
        match = ECR_HOST.match(ref.registry.split(":")[0].lower())
        if match is None:
            raise UsageError(f"{ref}: not an ECR host (<account>.dkr.ecr.<region>.amazonaws.com)")
        return self._region or match["region"], self._registry_id or match["account"]

    def _tags(self, ref: ImageRef) -> list[TagRecord]:
        import boto3  # imported here: only ECR users pay for it
        import botocore.exceptions

        region, registry_id = self._where(ref)
        records: list[TagRecord] = []
        try:
            client = (self._session or boto3.Session()).client("ecr", region_name=region)
            pages = client.get_paginator("describe_images").paginate(
                registryId=registry_id,
                repositoryName=ref.repository,
                filter={"tagStatus": "TAGGED"},
            )
            for page in pages:
                for detail in page.get("imageDetails") or []:
                    records += _records(ref, detail)
        except botocore.exceptions.NoCredentialsError as exc:
            raise AuthenticationFailed(
                ref.registry, "no AWS credentials found for ECR; configure the AWS credential chain"
            ) from exc
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "RepositoryNotFoundException":
                raise RegistryError(
                    ref.registry, f"ECR repository {ref.repository!r} not found"
                ) from exc
            if code in _DENIED:
                raise AccessDenied(
                    ref.registry, f"ECR DescribeImages denied ({code}); check IAM"
                ) from exc
            if code in _THROTTLED:
                raise RegistryUnavailable(
                    ref.registry, f"ECR throttled DescribeImages ({code})"
                ) from exc
            raise RegistryUnavailable(ref.registry, f"ECR DescribeImages failed ({code})") from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise RegistryUnavailable(
                ref.registry, f"ECR DescribeImages failed ({type(exc).__name__})"
            ) from exc
        return records


def _records(ref: ImageRef, detail: Any) -> list[TagRecord]:
    if not isinstance(detail, dict):
        return []
    tags = [t for t in detail.get("imageTags") or [] if isinstance(t, str)]
    try:
        digest = Digest.parse(str(detail.get("imageDigest")))
    except ValueError as exc:
        raise ProtocolError(ref.registry, "ECR returned an image without a valid digest") from exc
    pushed = _time(detail.get("imagePushedAt"))
    return [TagRecord(tag, digest, pushed, pushed is not None and len(tags) == 1) for tag in tags]


def _time(value: Any) -> datetime | None:
    """boto3 gives datetimes; raw epoch seconds are accepted too."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None
