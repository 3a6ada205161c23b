"""A Docker token server for tests: signs JWTs the test registry trusts, fails on demand."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["TokenIssuer", "TokenRequest", "libtrust_key_id"]

ISSUER = "tagwatch-test-issuer"
SERVICE = "tagwatch-test-registry"


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key id distribution's libtrust computes: base32 of sha256(DER)[:30], in groups of 4."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


@dataclass(frozen=True)
class TokenRequest:
    """One request the token server received (what the client sent, for assertions)."""

    scope: tuple[str, ...]
    service: str | None
    authorization: str | None
    status: int


@dataclass
class _State:
    users: dict[str, str] = field(default_factory=dict)
    require_credentials: bool = False
    fail_status: int | None = None
    expires_in: int = 300
    anonymous_actions: tuple[str, ...] = ("pull",)
    requests: list[TokenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class TokenIssuer:
    """A token endpoint on loopback, running in a thread, for the registry's `auth.token` mode.

    - `requests` lists every request it got; `count` is how many.
    - `fail_with(500)` makes it answer that status until `fail_with(None)`.
    - `require_credentials = True` makes it demand Basic credentials from `users`.
    - `expires_in` sets the lifetime of the tokens it issues.
    - `anonymous_actions`: what anonymous tokens may do (default pull; () makes it private).
    - `mint(access)` signs a token in-process (the harness uses it, so it is not counted).
    """

    __test__ = False

    def __init__(
        self,
        workdir: Path,
        *,
        users: dict[str, str] | None = None,
        bind: str = "127.0.0.1",
        realm_host: str | None = None,
    ) -> None:
        self._state = _State(users=dict(users or {}))
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.key_id = libtrust_key_id(self._key.public_key())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tagwatch test token issuer")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        workdir.mkdir(parents=True, exist_ok=True)
        self.cert_path = workdir / "token-issuer.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.issuer = ISSUER
        self.service = SERVICE
        state = self._state
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                issuer._handle(self, state)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((bind, 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.realm = f"http://{realm_host or bind}:{self.port}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    # -- controls used by tests -------------------------------------------------------------
    @property
    def requests(self) -> list[TokenRequest]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def count(self) -> int:
        with self._state.lock:
            return len(self._state.requests)

    @property
    def require_credentials(self) -> bool:
        return self._state.require_credentials

    @require_credentials.setter
    def require_credentials(self, value: bool) -> None:
        self._state.require_credentials = value

    @property
    def expires_in(self) -> int:
        return self._state.expires_in

    @expires_in.setter
    def expires_in(self, value: int) -> None:
        self._state.expires_in = value

    @property
    def anonymous_actions(self) -> tuple[str, ...]:
        return self._state.anonymous_actions

    @anonymous_actions.setter
    def anonymous_actions(self, value: tuple[str, ...]) -> None:
        self._state.anonymous_actions = tuple(value)

    def fail_with(self, status: int | None) -> None:
        """Answer every request with `status` (e.g. 500); None restores normal service."""
        self._state.fail_status = status

    def reset(self) -> None:
        """Forget requests and restore defaults (anonymous allowed, no failure, 300 s tokens)."""
        with self._state.lock:
            self._state.requests.clear()
        self._state.require_credentials = False
        self._state.fail_status = None
        self._state.expires_in = 300
        self._state.anonymous_actions = ("pull",)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- tokens -----------------------------------------------------------------------------
    def mint(
        self, access: list[dict[str, Any]], *, subject: str = "", expires_in: int | None = None
    ) -> str:
        """A signed registry token granting `access` ([{type, name, actions}])."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "iat": now,
            "nbf": now - 5,
            "exp": now + (expires_in if expires_in is not None else self._state.expires_in),
            "jti": secrets.token_hex(8),
            "access": access,
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id})

    def _check_basic(self, header: str | None) -> str | None:
        """The user for valid Basic credentials, '' when absent, None when wrong."""
        if not header:
            return ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if self._state.users.get(user) == password and user:
            return user
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, state: _State) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        scopes = tuple(s for raw in query.get("scope", []) for s in raw.split(" ") if s)
        service = query.get("service", [None])[0]
        authorization = handler.headers.get("Authorization")

        def answer(status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
            with state.lock:
                state.requests.append(TokenRequest(scopes, service, authorization, status))
            data = json.dumps(body).encode()
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for key, value in (extra or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)

        if url.path != "/token":
            answer(404, {"error": "not found"})
            return
        if state.fail_status is not None:
            answer(state.fail_status, {"error": "the token service is failing on purpose"})
            return
        user = self._check_basic(authorization)
        if user is None or (state.require_credentials and not user):
            answer(401, {"error": "bad credentials"}, {"WWW-Authenticate": 'Basic realm="token"'})
            return
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            allowed = wanted if user else [a for a in wanted if a in state.anonymous_actions]
            access.append({"type": kind, "name": name, "actions": allowed})
        token = self.mint(access, subject=user or "")
        answer(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": state.expires_in,
                "issued_at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
            },
        )
