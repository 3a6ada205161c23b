"""Wire faults no real registry produces on demand (httpx.MockTransport): 429s, 5xx, lies, cuts."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from tagwatch.core.digests import MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST, Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import (
    AccessDenied,
    AuthenticationFailed,
    DigestMismatch,
    ProtocolError,
    RateLimited,
    RegistryUnavailable,
)
from tagwatch.registry import RegistryClient, RegistrySettings

HOST = "registry.example.com"
REF = ImageRef.parse(f"{HOST}/team/app:prod")

CONFIG = json.dumps({"config": {"Labels": {"org.opencontainers.image.revision": "r1"}}}).encode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": str(Digest.of(CONFIG)),
            "size": len(CONFIG),
        },
        "layers": [],
    }
).encode()
DIGEST = Digest.of(MANIFEST)
Handler = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class Fake:
    """A scripted registry: `script` answers first (None falls through to a healthy registry)."""

    script: Handler | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    digest_header: bool = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script is not None:
            scripted = self.script(request)
            if scripted is not None:
                return scripted
        return self.healthy(request)

    def healthy(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        headers = {"Docker-Content-Digest": str(DIGEST)} if self.digest_header else {}
        if path in ("/v2/team/app/manifests/prod", f"/v2/team/app/manifests/{DIGEST}"):
            headers["Content-Type"] = OCI_MANIFEST
            body = b"" if request.method == "HEAD" else MANIFEST
            return httpx.Response(200, headers=headers, content=body)
        if path == f"/v2/team/app/blobs/{Digest.of(CONFIG)}":
            return httpx.Response(200, content=CONFIG)
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]})

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def make_client(fake: Fake, **settings: object) -> RegistryClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return RegistryClient(
        http=http,
        settings={HOST: RegistrySettings(**settings)} if settings else None,  # type: ignore[arg-type]
        max_retries=2,
        retry_base=0.001,
        max_retry_wait=0.5,
    )


def once(response: httpx.Response, method: str | None = None) -> Handler:
    """A script that answers `response` to the first (matching) request only."""
    used: list[httpx.Request] = []

    def script(request: httpx.Request) -> httpx.Response | None:
        if used or (method is not None and request.method != method):
            return None
        used.append(request)
        return response

    return script


async def test_head_with_all_four_manifest_types_is_one_request() -> None:
    fake = Fake()
    async with make_client(fake) as client:
        assert await client.resolve(REF) == DIGEST
    assert fake.paths() == ["HEAD /v2/team/app/manifests/prod"]
    assert fake.requests[0].headers["Accept"] == MANIFEST_ACCEPT
    assert fake.requests[0].url.scheme == "https"


async def test_missing_digest_header_falls_back_to_get_and_hash() -> None:
    fake = Fake(digest_header=False)
    async with make_client(fake) as client:
        assert await client.resolve(REF) == DIGEST
    assert fake.paths() == ["HEAD /v2/team/app/manifests/prod", "GET /v2/team/app/manifests/prod"]


async def test_head_405_falls_back_to_get() -> None:
    fake = Fake(script=once(httpx.Response(405), "HEAD"))
    async with make_client(fake) as client:
        assert await client.resolve(REF) == DIGEST
    assert [r.method for r in fake.requests] == ["HEAD", "GET"]


async def test_head_404_where_get_works_takes_the_get() -> None:
    fake = Fake(script=once(httpx.Response(404), "HEAD"))
    async with make_client(fake) as client:
        assert await client.resolve(REF) == DIGEST


async def test_404_without_a_registry_error_code_is_a_protocol_error() -> None:
    fake = Fake(script=lambda r: httpx.Response(404, text="<html>not found</html>"))
    async with make_client(fake) as client:
        with pytest.raises(ProtocolError, match="is this a registry API endpoint"):
            await client.resolve(REF)


async def test_name_unknown_resolves_to_none() -> None:
    body = {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}
    fake = Fake(script=lambda r: httpx.Response(404, json=body))
    async with make_client(fake) as client:
        assert await client.resolve(REF) is None


async def test_lying_digest_header_is_a_digest_mismatch() -> None:
    lie = Digest.of(b"something else entirely")

    def script(request: httpx.Request) -> httpx.Response | None:
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Docker-Content-Digest": str(lie)})
        if request.url.path == f"/v2/team/app/manifests/{lie}":
            return httpx.Response(200, headers={"Content-Type": OCI_MANIFEST}, content=MANIFEST)
        return None

    async with make_client(Fake(script=script)) as client:
        with pytest.raises(DigestMismatch, match=str(lie)):
            await client.observe(REF, known=lambda d: False, now=lambda: None)  # type: ignore[arg-type,return-value]


async def test_get_whose_digest_header_disagrees_with_the_body_is_a_digest_mismatch() -> None:
    lie = Digest.of(b"other")

    def script(request: httpx.Request) -> httpx.Response | None:
        if request.method == "HEAD":
            return httpx.Response(405)
        return httpx.Response(200, headers={"Docker-Content-Digest": str(lie)}, content=MANIFEST)

    async with make_client(Fake(script=script)) as client:
        with pytest.raises(DigestMismatch):
            await client.resolve(REF)


async def test_truncated_body_is_retried_then_succeeds() -> None:
    cut = httpx.Response(
        200,
        headers={"Content-Length": str(len(MANIFEST)), "Content-Type": OCI_MANIFEST},
        content=MANIFEST[:20],
    )
    fake = Fake(script=once(cut, "GET"))
    async with make_client(fake) as client:
        info = await client.describe(REF, DIGEST)
    assert info.revision == "r1"
    assert fake.paths().count(f"GET /v2/team/app/manifests/{DIGEST}") == 2


async def test_truncated_body_every_time_is_registry_unavailable() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(200, headers={"Content-Length": "9999"}, content=MANIFEST)

    async with make_client(Fake(script=script)) as client:
        with pytest.raises(RegistryUnavailable, match="cut short"):
            await client.describe(REF, DIGEST)


async def test_body_cut_without_content_length_is_a_digest_mismatch() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET":
            return httpx.Response(200, content=MANIFEST[:-7])
        return None

    async with make_client(Fake(script=script)) as client:
        with pytest.raises(DigestMismatch, match="truncated"):
            await client.describe(REF, DIGEST)


async def test_429_with_retry_after_is_waited_out() -> None:
    fake = Fake(script=once(httpx.Response(429, headers={"Retry-After": "0"})))
    async with make_client(fake) as client:
        assert await client.resolve(REF) == DIGEST
    assert len(fake.requests) == 2


async def test_429_with_a_retry_after_beyond_the_cap_is_rate_limited_at_once() -> None:
    fake = Fake(script=lambda r: httpx.Response(429, headers={"Retry-After": "3600"}))
    async with make_client(fake) as client:
        with pytest.raises(RateLimited) as caught:
            await client.resolve(REF)
    assert caught.value.retry_after == 3600
    assert len(fake.requests) == 1
    assert HOST in str(caught.value)


async def test_429_until_retries_run_out_is_rate_limited() -> None:
    fake = Fake(
        script=lambda r: httpx.Response(429, json={"errors": [{"code": "TOOMANYREQUESTS"}]})
    )
    async with make_client(fake) as client:
        with pytest.raises(RateLimited):
            await client.resolve(REF)
    assert len(fake.requests) == 3  # max_retries=2


async def test_5xx_then_success_is_retried() -> None:
    fake = Fake(script=once(httpx.Response(503)))
    async with make_client(fake) as client:
        assert await client.resolve(REF) == DIGEST
    assert len(fake.requests) == 2


async def test_5xx_every_time_is_registry_unavailable_in_one_line() -> None:
    fake = Fake(script=lambda r: httpx.Response(500))
    async with make_client(fake) as client:
        with pytest.raises(RegistryUnavailable) as caught:
            await client.resolve(REF)
    message = str(caught.value)
    assert message.startswith(HOST) and "HTTP 500 after 3 attempts" in message
    assert "\n" not in message


async def test_connect_errors_are_retried() -> None:
    failures: list[int] = []

    def script(request: httpx.Request) -> httpx.Response | None:
        if len(failures) < 2:
            failures.append(1)
            raise httpx.ConnectError("connection refused", request=request)
        return None

    async with make_client(Fake(script=script)) as client:
        assert await client.resolve(REF) == DIGEST


async def test_tls_verification_failure_is_not_retried() -> None:
    fake = Fake()

    def script(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed", request=request)

    fake.script = script
    async with make_client(fake) as client:
        with pytest.raises(RegistryUnavailable, match="TLS certificate"):
            await client.resolve(REF)
    assert len(fake.requests) == 1


async def test_insecure_registry_falls_back_to_plain_http() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        if request.url.scheme == "https":
            raise httpx.ConnectError("wrong version number", request=request)
        return None

    fake = Fake(script=script)
    async with make_client(fake, insecure=True) as client:
        assert await client.resolve(REF) == DIGEST
        assert await client.resolve(REF) == DIGEST
    assert [r.url.scheme for r in fake.requests] == ["https", "http", "http"]


async def test_plain_http_is_never_used_for_a_secure_remote_registry() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        assert request.url.scheme == "https"
        raise httpx.ConnectError("refused", request=request)

    async with make_client(Fake(script=script)) as client:
        with pytest.raises(RegistryUnavailable):
            await client.resolve(REF)


async def test_403_is_access_denied() -> None:
    body = {"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}
    async with make_client(Fake(script=lambda r: httpx.Response(403, json=body))) as client:
        with pytest.raises(AccessDenied, match="team/app"):
            await client.resolve(REF)


async def test_authorization_is_not_forwarded_on_a_redirect_to_another_host() -> None:
    storage = "https://storage.example.net/blobs/config?sig=abc"
    config_path = f"/v2/team/app/blobs/{Digest.of(CONFIG)}"

    def script(request: httpx.Request) -> httpx.Response | None:
        if request.url.host == "storage.example.net":
            return httpx.Response(200, content=CONFIG)
        if "Authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        if request.url.path == config_path:
            return httpx.Response(307, headers={"Location": storage})
        return None

    fake = Fake(script=script)
    async with make_client(fake, username="u", password="p") as client:
        info = await client.describe(REF, DIGEST)
    assert info.revision == "r1"
    by_host = {(r.url.host, r.url.path): r for r in fake.requests}
    assert "Authorization" in by_host[(HOST, config_path)].headers
    assert "Authorization" not in by_host[("storage.example.net", "/blobs/config")].headers


async def test_redirect_to_plain_http_on_a_remote_host_is_refused() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        if request.method == "HEAD":
            return httpx.Response(302, headers={"Location": "http://mirror.example.net/x"})
        return None

    async with make_client(Fake(script=script)) as client:
        with pytest.raises(ProtocolError, match="non-HTTPS"):
            await client.resolve(REF)


async def test_docker_hub_token_flow_sends_credentials_to_auth_docker_io_and_reads_limits() -> None:
    hub_ref = ImageRef.parse("nginx:1.27")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.docker.io":
            return httpx.Response(200, json={"token": "hub-token", "expires_in": 300})
        assert request.url.host == "registry-1.docker.io"
        if request.headers.get("Authorization") != "Bearer hub-token":
            challenge = (
                'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                'scope="repository:library/nginx:pull"'
            )
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(
            200,
            headers={
                "Docker-Content-Digest": str(DIGEST),
                "ratelimit-limit": "100;w=21600",
                "ratelimit-remaining": "97;w=21600",
            },
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    settings = {"docker.io": RegistrySettings(username="me", password="pat")}
    async with RegistryClient(http=http, settings=settings) as client:
        assert await client.resolve(hub_ref) == DIGEST
        status = client.rate_limits["docker.io"]
    token_request = next(r for r in seen if r.url.host == "auth.docker.io")
    assert token_request.url.params.get_list("scope") == ["repository:library/nginx:pull"]
    assert token_request.url.params["service"] == "registry.docker.io"
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"me:pat").decode()
    assert (status.limit, status.remaining, status.window_s) == (100, 97, 21600)
    await http.aclose()


async def test_token_realm_over_plain_http_on_a_remote_host_is_refused() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        challenge = 'Bearer realm="http://auth.example.com/token",service="s"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    fake = Fake(script=script)
    async with make_client(fake) as client:
        with pytest.raises(AuthenticationFailed, match="plain HTTP"):
            await client.resolve(REF)
    assert all(r.url.host == HOST for r in fake.requests)


async def test_tags_list_follows_link_pagination() -> None:
    def script(request: httpx.Request) -> httpx.Response | None:
        if request.url.path != "/v2/team/app/tags/list":
            return None
        if request.url.params.get("last") == "b":
            return httpx.Response(200, json={"name": "team/app", "tags": ["c"]})
        link = '</v2/team/app/tags/list?last=b&n=2>; rel="next"'
        return httpx.Response(
            200, json={"name": "team/app", "tags": ["a", "b"]}, headers={"Link": link}
        )

    async with make_client(Fake(script=script)) as client:
        assert await client.list_tags(REF) == ["a", "b", "c"]


async def test_index_platforms_skip_attestations_and_keep_variants() -> None:
    child_a, child_b, att = (Digest.of(x) for x in (b"a", b"b", b"att"))
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"digest": str(child_a), "platform": {"os": "linux", "architecture": "amd64"}},
                {
                    "digest": str(child_b),
                    "platform": {"os": "linux", "architecture": "arm", "variant": "v7"},
                },
                {"digest": str(att), "platform": {"os": "unknown", "architecture": "unknown"}},
            ],
            "annotations": {"org.opencontainers.image.created": "2026-11-29T00:00:00Z"},
        }
    ).encode()
    digest = Digest.of(index)

    def script(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith(str(digest)):
            return httpx.Response(200, headers={"Content-Type": OCI_INDEX}, content=index)
        return None

    async with make_client(Fake(script=script)) as client:
        info = await client.describe(REF, digest)
    assert dict(info.platforms) == {"linux/amd64": child_a, "linux/arm/v7": child_b}
    assert info.label("created") == "2026-11-29T00:00:00Z"
