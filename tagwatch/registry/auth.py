"""Registry auth: RFC 7235 challenges, bearer tokens cached until expiry, credential hosts."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "BUILTIN_AUTH_HOSTS",
    "BearerToken",
    "Challenge",
    "credentials_allowed",
    "hostname",
    "is_loopback",
    "parse_challenges",
    "parse_token_response",
]

#: Token realms on other hosts that may receive a registry's credentials without configuration.
BUILTIN_AUTH_HOSTS: Mapping[str, tuple[str, ...]] = {
    "docker.io": ("auth.docker.io",),
    "registry-1.docker.io": ("auth.docker.io",),
    "ghcr.io": ("ghcr.io",),
    "registry.gitlab.com": ("gitlab.com",),  # GitLab.com's realm is https://gitlab.com/jwt/auth
}

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_SCHEME = re.compile(_TOKEN)
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_PARAM = re.compile(rf'[ \t]*({_TOKEN})[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|{_TOKEN})[ \t]*')
_SEPARATORS = re.compile(r"[\s,]*")
_SPACES = re.compile(r"[ \t]*")
_COMMAS = re.compile(r"(?:[ \t]*,)+")  # one list separator plus empty elements (RFC 7230 7)
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Challenge:
    """One challenge of a WWW-Authenticate header; `scheme` is lower case, so are param names."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return _ESCAPE.sub(r"\1", value[1:-1])
    return value


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value into its challenges (RFC 7235 section 4.1).

    Handles several challenges in one header, quoted strings with escapes and commas,
    case-insensitive scheme and parameter names, and token68 (`Negotiate abc==`).
    Returns what it could parse before any malformed part.
    """
    out: list[Challenge] = []
    pos, end = 0, len(header)
    while True:
        pos = _SEPARATORS.match(header, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            break
        scheme = _SCHEME.match(header, pos)
        if scheme is None:
            break
        pos = scheme.end()
        params: dict[str, str] = {}
        token68: str | None = None
        if pos < end and header[pos] in " \t":
            pos = _SPACES.match(header, pos).end()  # type: ignore[union-attr]
            param = _PARAM.match(header, pos)
            if param is None and pos < end and header[pos] == ",":  # `Bearer , realm="x"`
                param = _PARAM.match(header, _COMMAS.match(header, pos).end())  # type: ignore[union-attr]
            if param is None:
                t68 = _TOKEN68.match(header, pos)
                if t68 is not None:
                    after = _SPACES.match(header, t68.end()).end()  # type: ignore[union-attr]
                    if after >= end or header[after] == ",":
                        token68, pos = t68.group(), after
            while param is not None:
                params[param.group(1).lower()] = _unquote(param.group(2))
                pos = param.end()
                if pos < end and header[pos] == ",":
                    after = _COMMAS.match(header, pos).end()  # type: ignore[union-attr]
                    following = _PARAM.match(header, after)
                    if following is not None:
                        param = following
                        continue
                break
        out.append(Challenge(scheme.group().lower(), params, token68))
    return out


def hostname(host: str) -> str:
    """The host name of `host[:port]` (IPv6 in brackets), lower case, without the port."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback(host: str) -> bool:
    """Whether `host[:port]` is localhost, 127.0.0.0/8 or ::1 (plain HTTP is allowed there)."""
    name = hostname(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def credentials_allowed(registry: str, realm_url: str, allowed: Iterable[str] = ()) -> bool:
    """Whether a registry's credentials may be sent to the token realm at `realm_url`.

    Allowed: a realm on the registry's own host name, a built-in pair (docker.io ->
    auth.docker.io, registry.gitlab.com -> gitlab.com), or a host listed in `allowed_auth_hosts`.
    """
    parts = urlsplit(realm_url)
    realm_host = (parts.hostname or "").lower()
    realm_hostport = parts.netloc.rpartition("@")[2].lower()
    if not realm_host:
        return False
    if realm_host == hostname(registry):
        return True
    permitted = {h.lower() for h in allowed} | set(BUILTIN_AUTH_HOSTS.get(registry.lower(), ()))
    return realm_host in permitted or realm_hostport in permitted


@dataclass(frozen=True)
class BearerToken:
    """A registry token and the monotonic time after which it must not be reused."""

    value: str = field(repr=False)
    expires_at: float

    def valid(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.expires_at


def parse_token_response(body: object, *, now: float | None = None) -> BearerToken | None:
    """A token from a token endpoint's JSON (`token` or `access_token`, `expires_in` default 60 s).

    The token is treated as expired a little early (a tenth of its life, at most 5 s).
    Returns None when the body holds no token.
    """
    if not isinstance(body, dict):
        return None
    value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        return None
    expires_in = body.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 60.0
    margin = min(5.0, lifetime / 10)
    start = time.monotonic() if now is None else now
    return BearerToken(value, start + lifetime - margin)
