"""slack_sdk plumbing for the destinations: retry handlers, redacted logs, error translation."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from tagwatch.core.retry_after import parse_retry_after as read_retry_after
from tagwatch.notify.delivery import DeliveryError
from tagwatch.redaction import Redact

__all__ = [
    "MAX_RETRY_AFTER",
    "PERMANENT_API_ERRORS",
    "PERMANENT_WEBHOOK_STATUSES",
    "api_error",
    "header",
    "parse_retry_after",
    "retry_handlers",
    "sdk_logger",
    "transport_error",
]

#: The longest Retry-After we honour (longer answers are capped).
MAX_RETRY_AFTER = 3600.0

#: Web API errors that no retry will fix: the configuration must change.
PERMANENT_API_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "invalid_metadata_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)
#: Incoming-webhook answers that no retry will fix (HTTP status → Slack's body text).
PERMANENT_WEBHOOK_STATUSES = frozenset({400, 401, 403, 404, 410})


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds Slack asked us to wait (the core's one Retry-After reader), capped."""
    seconds = read_retry_after(value, now=now)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def sdk_logger(name: str, secrets: Iterable[str]) -> logging.Logger:
    """The logger one destination's SDK client writes to, with `secrets` redacted."""
    logger = logging.getLogger(f"tagwatch.notify.sdk.{name}")
    for old in [f for f in logger.filters if isinstance(f, Redact)]:
        logger.removeFilter(old)
    logger.addFilter(Redact(secrets))
    return logger


class _BoundedRateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleeps Retry-After), only for short waits: a longer one is
    returned to the outbox, which reschedules the message instead of blocking a thread."""

    def __init__(self, max_wait: float) -> None:
        super().__init__(max_retry_count=1)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    return float(values[0]) <= self.max_wait
                except ValueError:
                    return False
        return False


class _UnsentRetry(ConnectionErrorRetryHandler):
    """slack_sdk's connection-error handler, only for failures before the request went out
    (refused, DNS). A reset or a dropped answer may follow a message Slack already took:
    that goes back to the outbox, whose retry looks the message up before posting again."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not isinstance(error, URLError) or response is not None:
            return False
        return isinstance(error.reason, ConnectionRefusedError | socket.gaierror)


def retry_handlers(max_inline_wait: float) -> list[RetryHandler]:
    """The SDK retries we allow: unsent requests, short 429 waits, 5xx answers."""
    return [
        _UnsentRetry(),
        _BoundedRateLimitRetry(max_inline_wait),
        ServerErrorRetryHandler(),
    ]


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """The first value of header `name` (any case) in the SDK's header mapping."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                return str(value[0]) if value else None
            return str(value)
    return None


def transport_error(destination: str, exc: BaseException) -> DeliveryError:
    """A timeout or connection failure: Slack may or may not have the message; retry."""
    kind = "timed out" if isinstance(exc, TimeoutError | socket.timeout) else "connection failed"
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return DeliveryError(destination, f"{kind} ({reason}); will retry", permanent=False)


def api_error(destination: str, exc: SlackApiError, now: datetime) -> DeliveryError:
    """A Web API answer with `ok: false` (or an HTTP error) as a DeliveryError."""
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    code = str(data.get("error", "")) if isinstance(data, dict) else ""
    if status == 429 or code == "ratelimited":
        retry_after = parse_retry_after(header(response.headers, "Retry-After"), now=now)
        return DeliveryError(
            destination,
            f"rate limited (429), retry after {retry_after}s",
            permanent=False,
            retry_after=retry_after,
        )
    if status >= 500:
        return DeliveryError(
            destination, f"Slack answered {status}; will retry", permanent=False, code=code
        )
    if code in PERMANENT_API_ERRORS:
        return DeliveryError(
            destination,
            f"Slack refused the message: {code} (fix the token, scopes or channel in the "
            "configuration)",
            permanent=True,
            code=code,
        )
    return DeliveryError(
        destination,
        f"Slack answered {status} {code or 'an error'}; will retry",
        permanent=False,
        code=code,
    )
