"""The test registry: Debian's docker-registry on loopback, and pushing tiny real images to it."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin

import httpx

from tagwatch.core.digests import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MANIFEST_ACCEPT,
    OCI_INDEX,
    OCI_MANIFEST,
    Digest,
)
from tests.support.token_issuer import TokenIssuer

__all__ = ["REGISTRY_BINARY", "AuthMode", "TestRegistry", "skopeo_digest"]

REGISTRY_BINARY = "/usr/bin/docker-registry"
AuthMode = Literal["none", "basic", "token"]

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _layer(content: str) -> tuple[bytes, bytes]:
    """(uncompressed tar, gzip) of one file holding `content`, byte-for-byte reproducible."""
    data = content.encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("content.txt")
        info.size = len(data)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def _which(tool: str) -> str:
    path = shutil.which(tool) or (tool if os.path.exists(tool) else None)
    if path is None:
        raise RuntimeError(
            f"{tool} is not installed; the registry tests need it (apt-get install docker-registry "
            "skopeo apache2-utils)"
        )
    return path


class _TokenAuth(httpx.Auth):
    """Harness auth for token mode: mints full-access tokens in-process (not counted)."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self._issuer = issuer

    def auth_flow(self, request: httpx.Request) -> Any:
        response = yield request
        if response.status_code != 401:
            return
        challenge = response.headers.get("WWW-Authenticate", "")
        scopes = [part for part in challenge.split('scope="')[1:]]
        access = []
        for scope in scopes:
            raw = scope.split('"', 1)[0]
            for item in raw.split(" "):
                kind, _, rest = item.partition(":")
                name, _, _actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": ["pull", "push", "delete"]})
        if not access:  # /v2/ base or catalog: grant the catalog
            access.append({"type": "registry", "name": "catalog", "actions": ["*"]})
        request.headers["Authorization"] = f"Bearer {self._issuer.mint(access, subject='admin')}"
        yield request


class TestRegistry:
    """docker-registry 2.8 serving plain HTTP on 127.0.0.1:PORT with its own storage and config.

    `auth` is "none", "basic" (htpasswd, `username`/`password`) or "token" (`issuer` issues
    tokens; anonymous pulls allowed, `username`/`password` get push too). `config` is deep-merged
    into the generated config.yml (e.g. `{"log": {"level": "info"}}`, `{"proxy": ...}`).
    """

    __test__ = False

    def __init__(
        self,
        workdir: Path,
        *,
        auth: AuthMode = "none",
        username: str = "tagwatch",
        password: str = "s3cret-pw",
        notifications: list[dict[str, Any]] | None = None,
        token_realm_host: str | None = None,
        tls: bool = False,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self._extra_config = config or {}
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.auth: AuthMode = auth
        self.username = username
        self.password = password
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self.ca_path: Path | None = None
        self.issuer: TokenIssuer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._binary = _which(REGISTRY_BINARY)
        self.config_path = self.workdir / "config.yml"
        self.log_path = self.workdir / "registry.log"
        self._write_config(notifications, token_realm_host)
        http_auth: httpx.Auth | None = None
        if auth == "basic":
            http_auth = httpx.BasicAuth(username, password)
        elif auth == "token":
            assert self.issuer is not None
            http_auth = _TokenAuth(self.issuer)
        verify: bool | ssl.SSLContext = True
        if self.ca_path is not None:
            verify = ssl.create_default_context(cafile=str(self.ca_path))
        self.http = httpx.Client(base_url=self.url, auth=http_auth, timeout=10.0, verify=verify)
        self.start()

    # -- process ----------------------------------------------------------------------------
    def _write_config(
        self, notifications: list[dict[str, Any]] | None, token_realm_host: str | None
    ) -> None:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "data")},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {"addr": self.host, "secret": "tagwatch-test-secret"},
        }
        if self.auth == "basic":
            htpasswd = self.workdir / "htpasswd"
            line = subprocess.run(
                [_which("htpasswd"), "-Bbn", self.username, self.password],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            htpasswd.write_text(line + "\n")
            config["auth"] = {"htpasswd": {"realm": "tagwatch-test", "path": str(htpasswd)}}
        elif self.auth == "token":
            self.issuer = TokenIssuer(
                self.workdir / "issuer",
                users={self.username: self.password},
                realm_host=token_realm_host,
            )
            config["auth"] = {
                "token": {
                    "realm": self.issuer.realm,
                    "service": self.issuer.service,
                    "issuer": self.issuer.issuer,
                    "rootcertbundle": str(self.issuer.cert_path),
                }
            }
        if self.tls:
            cert, key = _self_signed(self.workdir)
            self.ca_path = cert
            config["http"]["tls"] = {"certificate": str(cert), "key": str(key)}
        if notifications:
            config["notifications"] = {"endpoints": notifications}
        _merge(config, self._extra_config)
        self.config_path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (or restart on the same port and storage) the registry; wait until it listens."""
        if self.running:
            return
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [self._binary, "serve", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"docker-registry exited with {self._process.returncode}: "
                    f"{self.log_path.read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"docker-registry did not listen on {self.host} within 15 s")

    def stop(self) -> None:
        """Stop the registry process (storage is kept); `start()` brings it back."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop the registry and the token issuer, and close the harness client."""
        self.stop()
        if self.issuer is not None:
            self.issuer.stop()
        self.http.close()

    # -- pushing ----------------------------------------------------------------------------
    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 400:
            raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")
        return response

    def push_blob(self, repo: str, data: bytes) -> Digest:
        """Upload `data` as a blob of `repo` (skipped when it is already there)."""
        digest = Digest.of(data)
        if self.http.head(f"/v2/{repo}/blobs/{digest}").status_code == 200:
            return digest
        started = self._check(self.http.post(f"/v2/{repo}/blobs/uploads/"), "start upload")
        location = httpx.URL(urljoin(self.url + "/", started.headers["Location"]))
        self._check(
            self.http.put(
                location.copy_add_param("digest", str(digest)),
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            ),
            f"upload blob {digest}",
        )
        return digest

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> Digest:
        """PUT a manifest under a tag or its digest; returns the digest the registry reports."""
        digest = Digest.of(body)
        response = self._check(
            self.http.put(
                f"/v2/{repo}/manifests/{reference}",
                content=body,
                headers={"Content-Type": media_type},
            ),
            f"push manifest {repo}:{reference}",
        )
        served = response.headers.get("Docker-Content-Digest")
        if served is not None and served != str(digest):
            raise RuntimeError(f"registry says {served}, body hashes to {digest}")
        return digest

    def build_image(
        self,
        repo: str,
        *,
        content: str | Sequence[str],
        labels: dict[str, str] | None = None,
        platform: str = "linux/amd64",
        oci: bool = True,
        annotations: dict[str, str] | None = None,
    ) -> tuple[bytes, str]:
        """Push the blobs of a tiny image and return (manifest bytes, media type) unpushed.

        `content` is the one file of its one layer, or a list: one layer per item, bottom
        first (an image built on a base starts with the base's layers).
        """
        contents = [content] if isinstance(content, str) else list(content)
        built = [_layer(c) for c in contents]
        os_name, arch, *variant = platform.split("/")
        config: dict[str, Any] = {
            "architecture": arch,
            "os": os_name,
            "config": {"Labels": dict(labels or {})},
            "rootfs": {"type": "layers", "diff_ids": [str(Digest.of(t)) for t, _ in built]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tagwatch test"}],
            "created": "1970-01-01T00:00:00Z",
        }
        if variant:
            config["variant"] = variant[0]
        config_bytes = _canonical(config)
        config_digest = self.push_blob(repo, config_bytes)
        layer_digests = [self.push_blob(repo, gz) for _, gz in built]
        media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                "digest": str(config_digest),
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": OCI_LAYER if oci else DOCKER_LAYER,
                    "digest": str(digest),
                    "size": len(gz),
                }
                for digest, (_, gz) in zip(layer_digests, built, strict=True)
            ],
        }
        if annotations and oci:
            manifest["annotations"] = dict(annotations)
        return _canonical(manifest), media_type

    def push_image(
        self,
        repo: str,
        tag: str | None,
        *,
        content: str | Sequence[str],
        labels: dict[str, str] | None = None,
        platform: str = "linux/amd64",
        oci: bool = True,
        annotations: dict[str, str] | None = None,
    ) -> Digest:
        """Push a one-layer image whose file holds `content` (a list: one layer each); same
        inputs give the same digest."""
        body, media_type = self.build_image(
            repo,
            content=content,
            labels=labels,
            platform=platform,
            oci=oci,
            annotations=annotations,
        )
        digest = Digest.of(body)
        return self.push_manifest(repo, tag or str(digest), body, media_type)

    def _push_attestation(
        self,
        repo: str,
        subject: Digest,
        built_at: str | None = None,
        provenance: tuple[str, dict[str, Any]] | None = None,
    ) -> tuple[Digest, int]:
        """A buildx-style attestation manifest (in-toto layer) for `subject`; (digest, size).

        `built_at` goes into the provenance as BuildKit's build time does, so two builds of
        the same platform images get different attestations (and index digests).
        `provenance` is (predicate type, predicate) to write instead of the minimal one.
        """
        predicate: dict[str, Any] = {"builder": {"id": "tagwatch-test"}}
        predicate_type = "https://slsa.dev/provenance/v0.2"
        if provenance is not None:
            predicate_type, predicate = provenance[0], dict(provenance[1])
        if built_at is not None:
            predicate["metadata"] = {"buildFinishedOn": built_at}
        statement = _canonical(
            {
                "_type": "https://in-toto.io/Statement/v0.1",
                "predicateType": predicate_type,
                "subject": [{"name": "tagwatch-test", "digest": {"sha256": subject.encoded}}],
                "predicate": predicate,
            }
        )
        config_bytes = b"{}"
        config_digest = self.push_blob(repo, config_bytes)
        layer_digest = self.push_blob(repo, statement)
        manifest = _canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG,
                    "digest": str(config_digest),
                    "size": len(config_bytes),
                },
                "layers": [
                    {
                        "mediaType": IN_TOTO,
                        "digest": str(layer_digest),
                        "size": len(statement),
                        "annotations": {"in-toto.io/predicate-type": predicate_type},
                    }
                ],
            }
        )
        digest = Digest.of(manifest)
        self.push_manifest(repo, str(digest), manifest, OCI_MANIFEST)
        return digest, len(manifest)

    def push_index(
        self,
        repo: str,
        tag: str | None,
        platforms: Mapping[str, str | Sequence[str]],
        *,
        attestation: bool = True,
        annotations: dict[str, str] | None = None,
        oci: bool = True,
        labels: dict[str, str] | None = None,
        built_at: str | None = None,
        provenance: tuple[str, dict[str, Any]] | None = None,
    ) -> Digest:
        """Push one image per platform (platform -> content, or layer contents), then an
        index listing them.

        With `attestation`, each child gets a buildx-style `unknown/unknown` attestation entry
        (carrying `built_at` as its provenance build time, and `provenance`'s predicate).
        """
        child_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
        entries: list[dict[str, Any]] = []
        attestations: list[dict[str, Any]] = []
        for platform, content in platforms.items():
            body, media_type = self.build_image(
                repo, content=content, labels=labels, platform=platform, oci=oci
            )
            digest = self.push_manifest(repo, str(Digest.of(body)), body, media_type)
            os_name, arch, *variant = platform.split("/")
            plat: dict[str, str] = {"architecture": arch, "os": os_name}
            if variant:
                plat["variant"] = variant[0]
            entries.append(
                {
                    "mediaType": child_type,
                    "digest": str(digest),
                    "size": len(body),
                    "platform": plat,
                }
            )
            if attestation:
                att_digest, att_size = self._push_attestation(repo, digest, built_at, provenance)
                attestations.append(
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": str(att_digest),
                        "size": att_size,
                        "platform": {"architecture": "unknown", "os": "unknown"},
                        "annotations": {
                            "vnd.docker.reference.digest": str(digest),
                            "vnd.docker.reference.type": "attestation-manifest",
                        },
                    }
                )
        index_type = OCI_INDEX if oci else DOCKER_MANIFEST_LIST
        index: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": entries + attestations,
        }
        if annotations:
            index["annotations"] = dict(annotations)
        body = _canonical(index)
        return self.push_manifest(repo, tag or str(Digest.of(body)), body, index_type)

    # -- other operations -------------------------------------------------------------------
    def get_manifest(self, repo: str, reference: str | Digest) -> tuple[bytes, str]:
        """(body, media type) of a manifest, asked for with every manifest type."""
        response = self._check(
            self.http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}),
            f"get manifest {repo}@{reference}",
        )
        return response.content, response.headers["Content-Type"].split(";")[0]

    def tag(self, repo: str, tag: str, digest: Digest) -> None:
        """Point `tag` at an existing manifest."""
        body, media_type = self.get_manifest(repo, digest)
        self.push_manifest(repo, tag, body, media_type)

    def delete(self, repo: str, digest: Digest) -> None:
        """Delete a manifest by digest (its tags go with it)."""
        self._check(self.http.delete(f"/v2/{repo}/manifests/{digest}"), f"delete {repo}@{digest}")

    def child_digests(self, repo: str, index: Digest) -> dict[str, Digest]:
        """Platform ("os/arch[/variant]") -> child digest of an index, attestations left out."""
        body, _ = self.get_manifest(repo, index)
        out: dict[str, Digest] = {}
        for entry in json.loads(body)["manifests"]:
            plat = entry.get("platform", {})
            key = "/".join(
                p for p in (plat.get("os"), plat.get("architecture"), plat.get("variant")) if p
            )
            if key == "unknown/unknown":
                continue
            out[key] = Digest.parse(entry["digest"])
        return out

    def current(self, repo: str, tag: str) -> Digest | None:
        """The digest `tag` points at now, by hashing the manifest body (None when absent)."""
        response = self.http.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        self._check(response, f"get {repo}:{tag}")
        return Digest.of(response.content)

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(username, password) for authenticated modes, None without auth."""
        return None if self.auth == "none" else (self.username, self.password)

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    """Deep-merge `extra` (any docker-registry config keys) into `base`; `extra` wins."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert path, key path)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tagwatch test registry")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "registry.crt", directory / "registry.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def skopeo_digest(ref: str, *, creds: tuple[str, str] | None = None) -> str:
    """The top-level digest skopeo resolves for `HOST/REPO:TAG` (the index for multi-arch)."""
    cmd = [_which("skopeo"), "inspect", "--tls-verify=false", "--format", "{{.Digest}}"]
    if creds is not None:
        cmd += ["--creds", f"{creds[0]}:{creds[1]}"]
    cmd.append(f"docker://{ref}")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo inspect {ref} failed: {result.stderr.strip()}")
    return result.stdout.strip()
