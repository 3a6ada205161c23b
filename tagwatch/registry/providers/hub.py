"""Docker Hub's tag API (hub.docker.com): each tag's digest, push time and platform digests."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import ProtocolError, RegistryError
from tagwatch.registry.providers.records import TagRecord, parse_api_time, split_owner
from tagwatch.registry.providers.vendor_http import VendorAPI
from tagwatch.registry.retry import Sleep

__all__ = ["HUB_API", "HubAPI"]

log = logging.getLogger(__name__)

HUB_API = "https://hub.docker.com"
_PAGE_SIZE = "100"  # Hub's maximum
_MAX_PAGES = 1_000


def _next(body: Any, _: httpx.Response) -> str | None:
    """Where a tag list's next page is: its `next` URL (None or empty on the last)."""
    nxt = body.get("next")
    return nxt if isinstance(nxt, str) and nxt else None


class HubAPI:
    """`GET /v2/namespaces/{ns}/repositories/{repo}/tags?page_size=100`, following `next`.

    A tag's time is `tag_last_pushed` (certain); when that is null, `last_updated`, which can
    be minutes off (not certain). Public repositories need no token; `token` (a Hub access
    token or JWT) is sent as a Bearer header, only to `base_url`. `sleep` waits between
    retries (tests pass one that records the wait instead).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = HUB_API,
        token: str | None = None,
        max_retries: int = 3,
        max_wait: float = 30.0,
        retry_base: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._api = VendorAPI(
            http,
            base_url=base_url,
            headers=headers,
            auth_hint="; the Hub API needs a valid access token for this repository",
            max_retries=max_retries,
            max_wait=max_wait,
            retry_base=retry_base,
            sleep=sleep,
        )

    async def tags(self, ref: ImageRef) -> list[TagRecord]:
        """Every tag of `ref`'s repository on Docker Hub (whatever its host: the caller chose)."""
        namespace, name = split_owner(ref, shape="a Docker Hub repository is NAMESPACE/NAME")
        path = f"v2/namespaces/{quote(namespace, safe='')}/repositories/{quote(name, safe='')}/tags"
        records: list[TagRecord] = []
        pages = self._api.json_pages(path, {"page_size": _PAGE_SIZE}, _next, max_pages=_MAX_PAGES)
        async for body in pages:
            if body is None:
                raise RegistryError(
                    self._api.name,
                    f"{ref.name} not found on Docker Hub's API (HTTP 404); backfill reads "
                    "public repositories (private ones need a Hub JWT as `token`)",
                )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise ProtocolError(self._api.name, f"{ref.name}: tag list has no `results`")
            records += [r for r in map(self._record, body["results"]) if r is not None]
        return records

    def _record(self, raw: Any) -> TagRecord | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        platforms: dict[str, Digest] = {}
        for image in raw.get("images") or []:
            if not isinstance(image, dict) or not image.get("digest"):
                continue
            os_, arch = image.get("os"), image.get("architecture")
            if not os_ or not arch or os_ == "unknown":
                continue
            variant = image.get("variant")
            platform = f"{os_}/{arch}" + (f"/{variant}" if variant else "")
            platforms[platform] = self._digest(image["digest"])
        if raw.get("digest"):
            digest = self._digest(raw["digest"])
        elif len(platforms) == 1:  # old single-platform tags carry the digest on the image only
            digest = next(iter(platforms.values()))
        else:
            log.info(
                "%s: tag %s has no digest in the Hub API; skipped", self._api.name, raw["name"]
            )
            return None
        pushed = parse_api_time(raw.get("tag_last_pushed"))
        certain = pushed is not None
        if pushed is None:
            pushed = parse_api_time(raw.get("last_updated"))
        return TagRecord(raw["name"], digest, pushed, certain, platforms)

    def _digest(self, raw: Any) -> Digest:
        try:
            return Digest.parse(str(raw))
        except ValueError as exc:
            raise ProtocolError(self._api.name, f"bad digest {str(raw)[:80]!r}") from exc
