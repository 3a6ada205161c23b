"""GitHub Packages' API for GHCR: container package versions (digests) with their tags and times."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import ProtocolError, RegistryError
from tagwatch.registry.providers.records import TagRecord, parse_api_time, split_owner
from tagwatch.registry.providers.vendor_http import VendorAPI, next_link

__all__ = ["GHCR", "GITHUB_API", "GitHubPackages"]

log = logging.getLogger(__name__)

GHCR = "ghcr.io"
GITHUB_API = "https://api.github.com"
_MAX_PAGES = 1_000


class GitHubPackages:
    """`GET /orgs|users/{owner}/packages/container/{package}/versions`, following `Link`.

    `ghcr.io/OWNER/PACKAGE:tag`: the package name may hold slashes (URL-encoded). The owner
    is tried as an organisation first, then as a user. Each version is a digest; its
    `metadata.container.tags` are the tags on it now. A tag's time is the version's
    `updated_at`: tags are added to a version after `created_at` when it is re-tagged, and
    `updated_at` is never earlier than the tag, so the record is certain only when the two
    are equal (pushed with its tags and never changed). The API needs a token with
    `read:packages` (`GITHUB_TOKEN`), sent only to `base_url` and never logged.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str | None,
        base_url: str = GITHUB_API,
        max_retries: int = 3,
        max_wait: float = 30.0,
        retry_base: float = 0.5,
    ) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        hint = "; set GITHUB_TOKEN to a token with read:packages"
        self._api = VendorAPI(
            http,
            base_url=base_url,
            headers=headers,
            auth_hint=hint if token else "; GITHUB_TOKEN is not set (the API needs read:packages)",
            max_retries=max_retries,
            max_wait=max_wait,
            retry_base=retry_base,
        )

    async def tags(self, ref: ImageRef) -> list[TagRecord]:
        """Every tag of `ref`'s package (OWNER/PACKAGE; any host: the caller chose), one per tag."""
        owner, package = split_owner(ref, shape="a GHCR image is ghcr.io/OWNER/PACKAGE")
        tail = f"{quote(owner, safe='')}/packages/container/{quote(package, safe='')}/versions"
        for kind in ("orgs", "users"):
            versions = await self._versions(f"{kind}/{tail}")
            if versions is not None:
                return [r for v in versions for r in self._records(v)]
        raise RegistryError(
            self._api.name,
            f"package {package!r} of {owner!r} not found (HTTP 404); check the name and that "
            "GITHUB_TOKEN can read it",
        )

    async def _versions(self, path: str) -> list[Any] | None:
        """Every version listed under `path`; None when the API answers 404."""
        versions: list[Any] = []
        pages = self._api.json_pages(
            path, {"per_page": "100"}, lambda _, response: next_link(response), max_pages=_MAX_PAGES
        )
        async for body in pages:
            if body is None:
                return None
            if not isinstance(body, list):
                raise ProtocolError(self._api.name, "package versions are not a JSON list")
            versions += body
        return versions

    def _records(self, version: Any) -> list[TagRecord]:
        if not isinstance(version, dict):
            return []
        metadata = version.get("metadata")
        container = metadata.get("container") if isinstance(metadata, dict) else None
        tags = container.get("tags") if isinstance(container, dict) else None
        if not isinstance(tags, list) or not tags:
            return []
        try:
            digest = Digest.parse(str(version.get("name")))
        except ValueError as exc:
            raise ProtocolError(
                self._api.name, f"version name {str(version.get('name'))[:80]!r} is not a digest"
            ) from exc
        created = parse_api_time(version.get("created_at"))
        updated = parse_api_time(version.get("updated_at")) or created
        certain = created is not None and created == updated
        return [TagRecord(str(t), digest, updated, certain) for t in tags if isinstance(t, str)]
