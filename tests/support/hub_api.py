"""A local Docker Hub tag API: `/v2/namespaces/{ns}/repositories/{repo}/tags` in Hub's JSON shape.

`hub.add_tag("org", "app", "prod", digest, pushed=..., updated=..., platforms={...})`; pages of
`page_size` (at most 100, as Hub; more is 400) linked by absolute `next` URLs; an unknown
repository is Hub's 404; `fail_next(429, {"Retry-After": ...})` scripts faults.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from tagwatch.core.digests import Digest
from tests.support.json_api import Answer, JSONAPIServer


def hub_time(when: datetime | None) -> str | None:
    """Hub's timestamp format: microseconds and a `Z`."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeHubAPI(JSONAPIServer):
    """Docker Hub's tag listing; `.tags[(ns, repo)]` holds the tag objects in listing order."""

    def __init__(self) -> None:
        self.tags: dict[tuple[str, str], list[dict[str, Any]]] = {}
        super().__init__()

    def add_tag(
        self,
        namespace: str,
        repo: str,
        name: str,
        digest: Digest | None,
        *,
        pushed: datetime | None,
        updated: datetime | None,
        platforms: dict[str, Digest] | None = None,
    ) -> None:
        images = []
        for platform, child in (platforms or {}).items():
            os_, arch, *variant = platform.split("/")
            images.append(
                {
                    "architecture": arch,
                    "features": "",
                    "variant": variant[0] if variant else None,
                    "digest": str(child),
                    "os": os_,
                    "os_features": "",
                    "os_version": None,
                    "size": 1234,
                    "status": "active",
                    "last_pulled": hub_time(updated),
                    "last_pushed": hub_time(pushed),
                }
            )
        self.tags.setdefault((namespace, repo), []).append(
            {
                "creator": 1,
                "id": len(self.tags.get((namespace, repo), [])) + 1,
                "images": images,
                "last_updated": hub_time(updated),
                "last_updater": 1,
                "last_updater_username": "ci",
                "name": name,
                "repository": 1,
                "full_size": 1234,
                "v2": True,
                "tag_status": "active",
                "tag_last_pulled": hub_time(updated),
                "tag_last_pushed": hub_time(pushed),
                "media_type": "application/vnd.oci.image.index.v1+json",
                "content_type": "image",
                "digest": str(digest) if digest else None,
            }
        )

    def answer(self, path: str, query: dict[str, str], authorization: str | None) -> Answer:
        parts = path.strip("/").split("/")
        if (
            len(parts) != 6
            or parts[:2] != ["v2", "namespaces"]
            or parts[3::2]
            != [
                "repositories",
                "tags",
            ]
        ):
            return 404, {}, {"message": "404 page not found"}
        key = (unquote(parts[2]), unquote(parts[4]))
        if key not in self.tags:
            return 404, {}, {"message": "httperror 404: object not found", "errinfo": {}}
        size = int(query.get("page_size", "10"))
        page = int(query.get("page", "1"))
        if size > 100:
            return 400, {}, {"message": "page_size must be at most 100", "errinfo": {}}
        tags = self.tags[key]
        start = (page - 1) * size
        more = start + size < len(tags)
        return (
            200,
            {},
            {
                "count": len(tags),
                "next": f"{self.url}{path}?page={page + 1}&page_size={size}" if more else None,
                "previous": f"{self.url}{path}?page={page - 1}&page_size={size}"
                if page > 1
                else None,
                "results": tags[start : start + size],
            },
        )
