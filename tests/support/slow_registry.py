"""A registry host that misbehaves on the wire: drips bytes, hangs, or hangs up.

Modes (switchable while it runs, through `.mode`):
- `drip`: answers one byte of a valid status line and headers every `interval` seconds, forever
  (httpx's per-read timeouts never fire);
- `hang`: accepts and reads the request, then says nothing until the client gives up;
- `close`: accepts and closes the connection without a byte;
- `ok`: answers every request 200 with `Docker-Content-Digest: DIGEST` (the host recovered).
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Literal

from tagwatch.core.digests import Digest

Mode = Literal["drip", "hang", "close", "ok"]

DIGEST = Digest.of(b"the slow registry's manifest")
_DRIP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"a" * 10_000


class SlowRegistry:
    """A TCP server on 127.0.0.1 speaking just enough HTTP to misbehave; `host` is HOST:PORT."""

    def __init__(self, mode: Mode, *, interval: float = 0.5) -> None:
        self.mode: Mode = mode
        self.interval = interval
        self.accepted = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.host = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> SlowRegistry:
        self._accepter.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._accepter.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            while not self._stop.is_set():
                request = self._read_request(conn)
                if request is None:
                    return
                mode = self.mode
                if mode == "close":
                    return
                if mode == "ok":
                    head = (
                        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                        f"Docker-Content-Digest: {DIGEST}\r\n\r\n"
                    )
                    conn.sendall(head.encode())
                    continue
                if mode == "drip":
                    self._drip(conn)
                else:
                    self._stop.wait()  # hang: until the client goes or the server stops
                return

    def _read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            if self._stop.is_set():
                return None
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _drip(self, conn: socket.socket) -> None:
        for byte in _DRIP:
            if self._stop.wait(self.interval):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return
        self._stop.wait()  # all of it dripped: keep the line open without a word more
