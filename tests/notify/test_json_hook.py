"""The generic webhook destination: one signed JSON document per alert, through the outbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tagwatch.notify.json_hook import SCHEMA, JsonHookDestination
from tagwatch.notify.worker import Pacer, deliver_due
from tagwatch.store import Store
from tests.notify.factories import T0, move_alert, skew_alert

SECRET = "relay-secret-8c1f"


class Receiver:
    """An HTTP endpoint answering the statuses queued in `answers` (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append((dict(self.headers.items()), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "7")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _queue(store: Store, *alerts: Any) -> None:
    with store.begin() as tx:
        for alert in alerts:
            tx.outbox.enqueue(
                key=alert.key,
                destination="hook:relay",
                kind=alert.kind.value,
                payload=alert.payload,
                now=T0,
            )


async def test_each_alert_arrives_once_as_a_signed_json_document_after_retries(
    store: Store, receiver: Receiver
) -> None:
    hook = JsonHookDestination("hook:relay", url=receiver.url, secret=SECRET)
    move, skew = move_alert(), skew_alert()
    _queue(store, move, skew)
    receiver.answers = [503]  # the relay is down for the first attempt
    when = T0
    for _ in range(3):
        await deliver_due(
            store,
            destinations={"hook:relay": hook},
            now=lambda when=when: when,  # type: ignore[misc]
            worker="w",
            pacer=Pacer(interval=0),
        )
        when += timedelta(seconds=30)
    docs = []
    for headers, body in receiver.bodies:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Tagwatch-Signature"] == expected
        docs.append(json.loads(body))
        assert headers["X-Tagwatch-Delivery"] == docs[-1]["id"]
    assert len(docs) == 3  # one refused (503), then each alert once
    delivered = docs[1:]
    assert sorted(d["kind"] for d in delivered) == ["move", "skew"]
    assert {d["id"] for d in delivered} == {move.key, skew.key}
    for doc in delivered:
        assert doc["schema"] == SCHEMA and doc["text"]
        assert set(doc) == {"schema", "id", "kind", "text", "data"}
    skew_doc = next(d for d in delivered if d["kind"] == "skew")
    assert skew_doc["data"]["cluster"] == "prod-eu"
    with store.begin() as tx:
        assert tx.outbox.depth() == 0


async def test_a_receiver_refusing_the_document_parks_it_as_permanent(
    store: Store, receiver: Receiver
) -> None:
    hook = JsonHookDestination("hook:relay", url=receiver.url, secret=SECRET)
    _queue(store, move_alert())
    receiver.answers = [401]
    report = await deliver_due(
        store,
        destinations={"hook:relay": hook},
        now=lambda: T0,
        worker="w",
        pacer=Pacer(interval=0),
    )
    assert report.permanent == 1
    with store.begin() as tx:
        assert tx.outbox.depth() == 1  # kept, never dropped
