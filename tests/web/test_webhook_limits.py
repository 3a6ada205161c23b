"""Webhook bodies are bounded: a declared or streamed body over an endpoint's cap is refused
with 413, and a burst of huge bodies leaves the service's memory where it was.

Against a real `tagwatch run` process (uvicorn), with raw sockets: a test client that
buffers or retries would hide what the server does with a body it must not read.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tagwatch.web.webhooks import BODY_LIMITS
from tests.support.services import (
    GITHUB_SECRET,
    GITHUB_SECRET_ENV,
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    service_config,
)

CHUNK = 64 * 1024
SIGNATURE = "sha256=" + "0" * 64  # well-formed, wrong: the body must be read to know that


@dataclass
class Served:
    host: str
    port: int
    pid: int

    def rss(self) -> int:
        """Resident memory of the service process, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One service for the module (starting one takes seconds)."""
    tmp_path = tmp_path_factory.mktemp("served")
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[])
    env = {**os.environ, HOOK_SECRET_ENV: HOOK_SECRET, GITHUB_SECRET_ENV: GITHUB_SECRET}
    env.pop("TAGWATCH_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tagwatch", "run", "--config", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listen = path.read_text().split("listen: ", 1)[1].split()[0]
    host, port = listen.rsplit(":", 1)
    try:
        deadline = time.monotonic() + 90  # a busy machine starts it slowly
        while True:
            try:
                if httpx.get(f"http://{listen}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"service did not start (exit {proc.returncode})")
            time.sleep(0.1)
        yield Served(host, int(port), proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        part = sock.recv(4096)
        if not part:
            break
        data += part
    return int(data.split(b" ", 2)[1])


def post_streamed(served: Served, path: str, headers: dict[str, str], total: int) -> int:
    """POST `total` bytes chunked, stopping as soon as the server answers; its status."""
    with socket.create_connection((served.host, served.port), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: tagwatch\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        chunk = f"{CHUNK:x}\r\n".encode() + b"[" * CHUNK + b"\r\n"
        sent = 0
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                return _status(sock)  # answered before the body ended
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                return _status(sock)
            sent += CHUNK
        sock.sendall(b"0\r\n\r\n")
        return _status(sock)


def post_declared(served: Served, path: str, headers: dict[str, str], length: int) -> int:
    """Declare a `length`-byte body, send none of it, and return the status."""
    with socket.create_connection((served.host, served.port), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: tagwatch\r\nContent-Length: {length}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        return _status(sock)


BEARER = {"Authorization": f"Bearer {HOOK_SECRET}"}
ENDPOINTS = [
    ("distribution", "/webhooks/distribution", BEARER),
    ("dockerhub", f"/webhooks/dockerhub?token={HOOK_SECRET}", {}),
    ("github", "/webhooks/github", {"X-Hub-Signature-256": SIGNATURE}),
    ("ecr", "/webhooks/ecr", BEARER),
]


@pytest.mark.parametrize(("kind", "path", "headers"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_sent(
    served: Served, kind: str, path: str, headers: dict[str, str]
) -> None:
    assert post_declared(served, path, headers, BODY_LIMITS[kind] + 1) == 413
    assert post_declared(served, path, headers, 400 * 1024 * 1024) == 413


@pytest.mark.parametrize(("kind", "path", "headers"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_a_streamed_body_is_refused_at_the_cap(
    served: Served, kind: str, path: str, headers: dict[str, str]
) -> None:
    assert post_streamed(served, path, headers, BODY_LIMITS[kind] + 4 * CHUNK) == 413


def test_a_github_request_without_a_signature_is_refused_without_reading_the_body(
    served: Served,
) -> None:
    assert post_declared(served, "/webhooks/github", {}, 1024) == 401


def test_concurrent_huge_unauthenticated_bodies_leave_memory_bounded(served: Served) -> None:
    """The issue's reproduction: four 400 MB POSTs to /webhooks/github took 2 GB. GitHub's
    body must be read to check its signature, so it is spooled, not held in memory."""
    before = served.rss()
    peak = before
    statuses: list[int] = []
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, served.rss())
            time.sleep(0.02)

    def send() -> None:
        headers = {"X-Hub-Signature-256": SIGNATURE}
        statuses.append(post_streamed(served, "/webhooks/github", headers, 64 * 1024 * 1024))

    sampler = threading.Thread(target=sample)
    senders = [threading.Thread(target=send) for _ in range(4)]
    sampler.start()
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=120)
    done.set()
    sampler.join()
    assert statuses == [413] * 4
    assert peak - before < 40 * 1024 * 1024, f"grew {(peak - before) / 2**20:.0f} MiB"
