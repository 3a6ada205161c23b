"""A local stand-in for Slack: the Web API methods we use and an incoming webhook, scripted faults.

`FakeSlack()` listens on a free loopback port. Point `WebClient(base_url=fake.api_url)` and
`WebhookClient(fake.webhook_url)` at it. Script answers with `fake.script("chat.postMessage",
"429:3", "500", "ok")` (or the webhook path): each call takes the next answer; when the
script is empty calls succeed. Answers: `ok`, `429` or `429:<retry-after>`, `500`, `503`,
`hang` (no answer until the client gives up), `accept-hang` (chat.postMessage: the
message is posted but the answer never comes), `accept-drop` (posted, then the connection
closes without an answer), an API error code such as `invalid_auth`, or
for the webhook `404` (`no_service`), `410`, `403`.

Blocks that slack_sdk's models or Slack's limits refuse get `invalid_blocks`, as on Slack.
Methods: chat.postMessage (a channel ID or name), conversations.history and
conversations.replies (IDs only: a name is `channel_not_found`, as on Slack), and
conversations.list (paged by cursor, a few channels a page).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.support.blockkit import problems

VALID_TOKEN = "xoxb-test-token-5f2c"
WEBHOOK_PATH = "/services/T000/B000/secretwebhookpart"


@dataclass
class Post:
    """A message the fake accepted."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class _State:
    posts: list[Post] = field(default_factory=list)
    webhook_posts: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    scripts: dict[str, deque[str]] = field(default_factory=dict)
    #: Channel ID → name. chat.postMessage also takes a name (with or without `#`);
    #: conversations.history and .replies take only IDs and answer a name `channel_not_found`.
    channels: dict[str, str] = field(
        default_factory=lambda: {
            "C-GENERAL": "general",
            "C-RANDOM": "random",
            "C-OTHER": "other",
            "C-DEPLOYS": "deploys",
            "C-ALERTS": "alerts",
        }
    )
    #: conversations.list answers at most this many channels a page (Slack may send fewer
    #: than `limit`), so a client that ignores `next_cursor` misses channels.
    list_page: int = 2
    clock: float = 1_700_000_000.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeSlack:
    """The fake server; `.posts` (Web API) and `.webhook_posts` record what was accepted."""

    def __init__(self, *, hang_seconds: float = 5.0) -> None:
        self.state = _State()
        self.hang_seconds = hang_seconds
        self._release = threading.Event()
        state, release, fake = self.state, self._release, self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                ctype = self.headers.get("Content-Type") or ""
                path = self.path.split("?", 1)[0]
                body: dict[str, Any]
                if "json" in ctype:
                    body = json.loads(raw or "{}")
                else:
                    query = self.path.split("?", 1)[1] if "?" in self.path else ""
                    body = dict(parse_qsl(raw)) | dict(parse_qsl(query))
                name = path.removeprefix("/api/")
                with state.lock:
                    state.calls.append(name)
                    queue = state.scripts.get(name)
                    answer = queue.popleft() if queue else "ok"
                if answer == "hang":
                    release.wait(fake.hang_seconds)
                    self._send(200, {"ok": False, "error": "too_late"})
                    return
                if answer == "accept-drop" and name == "chat.postMessage":
                    # Slack took the message, then the connection dropped before the answer.
                    self._post(body, reply=False)
                    self.close_connection = True
                    return
                if answer == "accept-hang" and name == "chat.postMessage":
                    # Slack took the message, but its answer never reaches the client.
                    self._post(body, reply=False)
                    release.wait(fake.hang_seconds)
                    return
                if answer.startswith("429"):
                    retry = answer.partition(":")[2] or "1"
                    if path == WEBHOOK_PATH:
                        self._send_text(429, "rate_limited", {"Retry-After": retry})
                    else:
                        self._send(
                            429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry}
                        )
                    return
                if answer in ("500", "503"):
                    if path == WEBHOOK_PATH:
                        self._send_text(int(answer), "internal_error")
                    else:
                        self._send_text(int(answer), "<html>Server error</html>")
                    return
                if path == WEBHOOK_PATH:
                    self._webhook(answer, body)
                    return
                if answer != "ok":
                    self._send(200, {"ok": False, "error": answer})
                    return
                if self.headers.get("Authorization") != f"Bearer {VALID_TOKEN}":
                    self._send(200, {"ok": False, "error": "invalid_auth"})
                    return
                if name == "chat.postMessage":
                    self._post(body)
                elif name == "conversations.history":
                    self._history(body)
                elif name == "conversations.replies":
                    self._replies(body)
                elif name == "conversations.list":
                    self._list(body)
                else:
                    self._send(200, {"ok": False, "error": "unknown_method"})

            def _webhook(self, answer: str, body: dict[str, Any]) -> None:
                if answer == "ok" and problems(body.get("blocks") or []):
                    self._send_text(400, "invalid_blocks")
                elif answer == "ok":
                    with state.lock:
                        state.webhook_posts.append(body)
                    self._send_text(200, "ok")
                elif answer == "404":
                    self._send_text(404, "no_service")
                elif answer == "410":
                    self._send_text(410, "channel_is_archived")
                elif answer == "403":
                    self._send_text(403, "action_prohibited")
                else:
                    self._send_text(400, answer)

            def _post(self, body: dict[str, Any], *, reply: bool = True) -> None:
                channel = str(body.get("channel"))
                by_name = {n: i for i, n in state.channels.items()}
                channel = by_name.get(channel.removeprefix("#"), channel)
                if channel not in state.channels:
                    self._send(200, {"ok": False, "error": "channel_not_found"})
                    return
                blocks = body.get("blocks") or []
                if isinstance(blocks, str):
                    blocks = json.loads(blocks)
                if problems(blocks):
                    # Slack refuses a message whose blocks its own models would not build.
                    self._send(200, {"ok": False, "error": "invalid_blocks"})
                    return
                metadata = body.get("metadata")
                if isinstance(metadata, str):
                    metadata = json.loads(metadata)
                thread_ts = body.get("thread_ts") or None
                with state.lock:
                    parent = [p for p in state.posts if p.channel == channel and p.ts == thread_ts]
                if thread_ts and not parent:
                    # A reply to a deleted (or never posted) message: Slack refuses it.
                    self._send(200, {"ok": False, "error": "thread_not_found"})
                    return
                with state.lock:
                    state.clock += 1
                    ts = f"{state.clock:.6f}"
                    post = Post(
                        channel=channel,
                        text=str(body.get("text") or ""),
                        blocks=blocks,
                        ts=ts,
                        thread_ts=thread_ts,
                        metadata=metadata,
                    )
                    state.posts.append(post)
                if reply:
                    self._send(200, {"ok": True, "channel": channel, "ts": ts})

            def _message(self, post: Post, metadata: bool) -> dict[str, Any]:
                out: dict[str, Any] = {"type": "message", "text": post.text, "ts": post.ts}
                if post.thread_ts:
                    out["thread_ts"] = post.thread_ts
                if metadata and post.metadata:
                    out["metadata"] = post.metadata
                return out

            def _history(self, body: dict[str, Any]) -> None:
                channel = str(body.get("channel"))
                if channel not in state.channels:
                    self._send(200, {"ok": False, "error": "channel_not_found"})
                    return
                meta = str(body.get("include_all_metadata")).lower() in ("true", "1")
                limit = int(body.get("limit") or 100)
                with state.lock:
                    top = [p for p in state.posts if p.channel == channel and not p.thread_ts]
                messages = [self._message(p, meta) for p in reversed(top)][:limit]
                self._send(200, {"ok": True, "messages": messages, "has_more": False})

            def _list(self, body: dict[str, Any]) -> None:
                # The cursor is the offset, opaque to clients as Slack's is.
                types = set(str(body.get("types") or "public_channel").split(","))
                start = int(str(body.get("cursor") or "0") or 0)
                limit = min(int(body.get("limit") or 100), state.list_page)
                with state.lock:
                    listed = list(state.channels.items()) if "public_channel" in types else []
                page = listed[start : start + limit]
                after = start + limit if start + limit < len(listed) else None
                self._send(
                    200,
                    {
                        "ok": True,
                        "channels": [
                            {"id": i, "name": n, "is_channel": True, "is_archived": False}
                            for i, n in page
                        ],
                        "response_metadata": {"next_cursor": "" if after is None else str(after)},
                    },
                )

            def _replies(self, body: dict[str, Any]) -> None:
                channel, root = str(body.get("channel")), str(body.get("ts"))
                if channel not in state.channels:
                    self._send(200, {"ok": False, "error": "channel_not_found"})
                    return
                meta = str(body.get("include_all_metadata")).lower() in ("true", "1")
                with state.lock:
                    thread = [
                        p
                        for p in state.posts
                        if p.channel == channel and (p.ts == root or p.thread_ts == root)
                    ]
                if not thread:
                    self._send(200, {"ok": False, "error": "thread_not_found"})
                    return
                messages = [self._message(p, meta) for p in thread]
                self._send(200, {"ok": True, "messages": messages, "has_more": False})

            def _send(
                self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _send_text(
                self, status: int, text: str, headers: dict[str, str] | None = None
            ) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        """The Web API base URL for `WebClient(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    @property
    def posts(self) -> list[Post]:
        with self.state.lock:
            return list(self.state.posts)

    @property
    def webhook_posts(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.webhook_posts)

    def calls(self, method: str | None = None) -> list[str]:
        with self.state.lock:
            return [c for c in self.state.calls if method is None or c == method]

    def script(self, method: str, *answers: str) -> None:
        """Queue answers for `method` (`chat.postMessage`, or `webhook` for the webhook)."""
        name = WEBHOOK_PATH.removeprefix("/api/") if method == "webhook" else method
        with self.state.lock:
            self.state.scripts.setdefault(name, deque()).extend(answers)

    def delete(self, ts: str) -> None:
        """Delete a message (as a user can), e.g. the first message of a thread."""
        with self.state.lock:
            self.state.posts = [p for p in self.state.posts if p.ts != ts]

    def wait_for_posts(self, count: int, timeout: float = 5.0) -> list[Post]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.posts) >= count:
                break
            time.sleep(0.01)
        return self.posts

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
