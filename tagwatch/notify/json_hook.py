"""A generic webhook destination: one signed JSON document per alert, for relays (PagerDuty,
Teams), an internal bus, anything that takes an HTTP POST.

The document (schema `tagwatch.alert/v1`, documented in the README):

    {"schema": "tagwatch.alert/v1", "id": "<alert key>", "kind": "move|skew|at_risk|
     stuck_rollout|resolved", "text": "<one line>", "data": {<the alert's payload>}}

The body is signed with the destination's secret: `X-Tagwatch-Signature: sha256=<hex HMAC-SHA256
of the exact body>`. `X-Tagwatch-Delivery` repeats the id: a receiver that saw it already
(a retry after a lost answer) can drop the copy.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from tagwatch.core.alerts import Alert
from tagwatch.notify.delivery import Delivered, DeliveryError
from tagwatch.notify.render import render
from tagwatch.notify.sdk import parse_retry_after as read_retry_after

__all__ = ["SCHEMA", "JsonHookDestination", "document", "signature"]

SCHEMA = "tagwatch.alert/v1"
#: Answers no retry fixes (the URL or the receiver's configuration must change).
_PERMANENT = frozenset({400, 401, 403, 404, 405, 410, 413, 422})


def document(alert: Alert) -> dict[str, Any]:
    """The JSON document a webhook receives for `alert`."""
    text, _blocks = render(alert)
    return {
        "schema": SCHEMA,
        "id": alert.key,
        "kind": alert.kind.value,
        "text": text,
        "data": dict(alert.payload),
    }


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of `body` with `secret`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class JsonHookDestination:
    """POSTs each alert as one signed JSON document to `url`."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        secret: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def __repr__(self) -> str:  # never the URL: it may carry a token
        return f"<JsonHookDestination {self.name}>"

    @property
    def pace_key(self) -> str:
        return f"hook:{self.name}"

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        body = json.dumps(document(alert), sort_keys=True, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Tagwatch-Signature": signature(self._secret, body),
            "X-Tagwatch-Delivery": alert.key,
        }
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(
                self.name, f"webhook unreachable: {type(exc).__name__}", permanent=False
            ) from exc
        status = response.status_code
        if 200 <= status < 300:
            return Delivered()
        retry_after = read_retry_after(response.headers.get("retry-after"), now=now)
        raise DeliveryError(
            self.name,
            f"webhook answered {status}",
            permanent=status in _PERMANENT,
            retry_after=retry_after,
            code=str(status),
        )
