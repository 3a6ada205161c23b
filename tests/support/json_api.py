"""A threaded JSON API server on a free loopback port, with scripted faults, for vendor API fakes.

Subclasses implement `answer(path, query, headers) -> (status, headers, body)`. `fail_next(status,
headers, body)` queues answers served before the normal ones; `.requests` records each request's
path and Authorization header.
"""

from __future__ import annotations

import abc
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, dict[str, str], Any]


@dataclass(frozen=True)
class Seen:
    """A request the fake received (the raw, still URL-encoded path)."""

    path: str
    query: dict[str, str]
    authorization: str | None


class JSONAPIServer(abc.ABC):
    """Start on construction; `.url` is `http://127.0.0.1:PORT`; `close()` stops it."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._faults: deque[Answer] = deque()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                split = urlsplit(self.path)
                query = dict(parse_qsl(split.query))
                auth = self.headers.get("Authorization")
                with fake._lock:
                    fake.requests.append(Seen(split.path, query, auth))
                    fault = fake._faults.popleft() if fake._faults else None
                status, headers, body = fault or fake.answer(split.path, query, auth)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @abc.abstractmethod
    def answer(self, path: str, query: dict[str, str], authorization: str | None) -> Answer:
        """The documented answer of the API being faked, for one GET."""

    def fail_next(
        self, status: int, headers: dict[str, str] | None = None, body: Any = None
    ) -> None:
        """Serve this answer to the next request, before the normal ones (queued in order)."""
        with self._lock:
            self._faults.append((status, headers or {}, body if body is not None else {}))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
