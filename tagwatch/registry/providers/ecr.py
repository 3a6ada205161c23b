"""Amazon ECR: credentials from GetAuthorizationToken (boto3) for `*.dkr.ecr.*.amazonaws.com`."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from tagwatch.core.times import utcnow
from tagwatch.errors import AuthenticationFailed

__all__ = ["ECR_HOST", "ecr_credentials", "is_ecr_host"]

#: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]`
ECR_HOST = re.compile(
    r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)


def is_ecr_host(registry_host: str) -> bool:
    """Whether `registry_host` (no port) is an ECR registry."""
    return ECR_HOST.match(registry_host.lower()) is not None


def ecr_credentials(registry_host: str, *, session: Any = None) -> tuple[str, str, datetime]:
    """(username, password, expires_at) for an ECR registry host, from GetAuthorizationToken.

    Uses the AWS credential chain of `session` (a boto3.Session; a default one when None) and
    the region in the host name; `AWS_ENDPOINT_URL_ECR` points it at a local endpoint. The
    token is valid about 12 hours; callers refresh it after `expires_at` (one call, no loop).
    """
    match = ECR_HOST.match(registry_host.lower())
    if match is None:
        raise AuthenticationFailed(
            registry_host, "is not an ECR host (<account>.dkr.ecr.<region>...)"
        )
    import boto3  # imported here: only ECR users pay for it
    import botocore.exceptions

    try:
        client = (session or boto3.Session()).client("ecr", region_name=match["region"])
        answer = client.get_authorization_token(registryIds=[match["account"]])
    except botocore.exceptions.NoCredentialsError as exc:
        raise AuthenticationFailed(
            registry_host, "no AWS credentials found for ECR; configure the AWS credential chain"
        ) from exc
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise AuthenticationFailed(
            registry_host, f"ECR GetAuthorizationToken failed ({type(exc).__name__}); check IAM"
        ) from exc
    data = (answer.get("authorizationData") or [None])[0]
    if not isinstance(data, dict) or not data.get("authorizationToken"):
        raise AuthenticationFailed(registry_host, "ECR GetAuthorizationToken returned no token")
    try:
        decoded = base64.b64decode(data["authorizationToken"]).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationFailed(
            registry_host, "ECR returned a token that is not base64"
        ) from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed(registry_host, "ECR returned a token that is not 'AWS:password'")
    expires = data.get("expiresAt")
    if isinstance(expires, datetime):
        expires_at = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    elif isinstance(expires, int | float):
        expires_at = datetime.fromtimestamp(expires, UTC)
    else:
        expires_at = utcnow()
    return username, password, expires_at
