"""A local GitHub Packages API: container package versions for orgs and users, Link-paginated.

`gh.add_version("org", "team/app", digest, tags=[...], created=..., updated=..., kind="orgs")`.
Every request needs `Authorization: Bearer <gh.token>` (401 "Bad credentials" otherwise); an
unknown package is 404; `per_page` (default 30, at most 100) with `Link: <...>; rel="next"`.
Package names with slashes arrive URL-encoded (`team%2Fapp`), as GitHub wants them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from tagwatch.core.digests import Digest
from tests.support.json_api import Answer, JSONAPIServer

DOCS = "https://docs.github.com/rest/packages/packages"


def gh_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHubAPI(JSONAPIServer):
    """`.versions[(kind, owner, package)]` holds version objects, newest first (as GitHub)."""

    def __init__(self, token: str = "ghp_test_token_4c1f") -> None:
        self.token = token
        self.versions: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        super().__init__()

    def add_version(
        self,
        owner: str,
        package: str,
        digest: Digest,
        *,
        tags: list[str],
        created: datetime,
        updated: datetime | None = None,
        kind: str = "orgs",
    ) -> None:
        versions = self.versions.setdefault((kind, owner, package), [])
        number = len(versions) + 1
        base = f"https://api.github.com/{kind}/{owner}/packages/container/{package}"
        versions.insert(
            0,
            {
                "id": number,
                "name": str(digest),
                "url": f"{base}/versions/{number}",
                "package_html_url": f"https://github.com/{owner}/packages/container/package/{package}",
                "created_at": gh_time(created),
                "updated_at": gh_time(updated or created),
                "html_url": f"https://github.com/{owner}/packages/container/{package}/{number}",
                "metadata": {"package_type": "container", "container": {"tags": list(tags)}},
            },
        )

    def answer(self, path: str, query: dict[str, str], authorization: str | None) -> Answer:
        if authorization != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS}
        parts = path.strip("/").split("/")
        if len(parts) != 6 or parts[2:4] != ["packages", "container"] or parts[5] != "versions":
            return 404, {}, {"message": "Not Found", "documentation_url": DOCS}
        key = (parts[0], unquote(parts[1]), unquote(parts[4]))
        if "/" in parts[4] or key not in self.versions:
            return 404, {}, {"message": "Package not found.", "documentation_url": DOCS}
        size = min(int(query.get("per_page", "30")), 100)
        page = int(query.get("page", "1"))
        versions = self.versions[key]
        start = (page - 1) * size
        headers: dict[str, str] = {}
        if start + size < len(versions):
            last = (len(versions) + size - 1) // size
            headers["Link"] = (
                f'<{self.url}{path}?per_page={size}&page={page + 1}>; rel="next", '
                f'<{self.url}{path}?per_page={size}&page={last}>; rel="last"'
            )
        return 200, headers, versions[start : start + size]
