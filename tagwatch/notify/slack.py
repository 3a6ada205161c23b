"""Slack destinations: a bot token posting to a channel (threads per tag) or an incoming webhook."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from tagwatch.core.alerts import Alert
from tagwatch.core.retry_after import parse_retry_after as read_retry_after
from tagwatch.errors import NotifyError
from tagwatch.notify.render import render

__all__ = [
    "METADATA_EVENT",
    "BotDestination",
    "Delivered",
    "DeliveryError",
    "Destination",
    "WebhookDestination",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

#: The `metadata.event_type` of every message we post; its payload carries the alert key.
METADATA_EVENT = "tagwatch_alert"
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


class DeliveryError(NotifyError):
    """Slack did not take the message. `.permanent`: only a configuration change helps;
    `.retry_after`: seconds Slack asked us to wait (429), if it said."""

    def __init__(
        self,
        destination: str,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        self.destination = destination
        self.code = code
        self.permanent = permanent
        self.retry_after = retry_after
        super().__init__(f"slack destination {destination!r}: {message}")


@dataclass(frozen=True, slots=True)
class Delivered:
    """Slack took the message: its `ts` and `channel` (None for incoming webhooks), or it was
    already there (`duplicate`: found by its key after an attempt that may have succeeded)."""

    ts: str | None = None
    channel: str | None = None
    duplicate: bool = False


class Destination(Protocol):
    """Somewhere alerts go. `deliver` blocks (the worker runs it in a thread)."""

    name: str

    @property
    def pace_key(self) -> str:
        """Messages with the same pace key (one Slack channel) are sent about one a second."""
        ...

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        """Post `alert`; `resend` says an earlier attempt may have reached Slack. Raises
        DeliveryError."""
        ...


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds Slack asked us to wait (the core's one Retry-After reader), capped."""
    seconds = read_retry_after(value, now=now)
    return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


class _Redact(logging.Filter):
    """Replaces secrets (tokens, webhook URLs) in records of the SDK's logger."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


def _sdk_logger(name: str, secrets: Iterable[str]) -> logging.Logger:
    logger = logging.getLogger(f"tagwatch.notify.sdk.{name}")
    for old in [f for f in logger.filters if isinstance(f, _Redact)]:
        logger.removeFilter(old)
    logger.addFilter(_Redact(secrets))
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


def _retry_handlers(max_inline_wait: float) -> list[RetryHandler]:
    return [
        _UnsentRetry(),
        _BoundedRateLimitRetry(max_inline_wait),
        ServerErrorRetryHandler(),
    ]


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                return str(value[0]) if value else None
            return str(value)
    return None


def _transport_error(destination: str, exc: BaseException) -> DeliveryError:
    """A timeout or connection failure: Slack may or may not have the message; retry."""
    kind = "timed out" if isinstance(exc, TimeoutError | socket.timeout) else "connection failed"
    reason = getattr(exc, "reason", None) or type(exc).__name__
    return DeliveryError(destination, f"{kind} ({reason}); will retry", permanent=False)


def _api_error(destination: str, exc: SlackApiError, now: datetime) -> DeliveryError:
    response = exc.response
    status = int(getattr(response, "status_code", 0) or 0)
    data = getattr(response, "data", None)
    code = str(data.get("error", "")) if isinstance(data, dict) else ""
    if status == 429 or code == "ratelimited":
        retry_after = parse_retry_after(_header(response.headers, "Retry-After"), now=now)
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


def _is_thread_gone(exc: DeliveryError) -> bool:
    return exc.code == "thread_not_found"


class BotDestination:
    """Posts with a bot token (`chat.postMessage`) to one channel; follow-ups for a tag go in
    the thread of its first message.

    Thread roots are remembered in memory, and after a restart recovered once per channel
    from `conversations.history` (messages carry the tag and alert key in `metadata`). When
    `resend` is set (an earlier attempt may have reached Slack) the channel (or the tag's
    thread) is searched for the alert key first, so a retried message is not posted twice.
    """

    def __init__(
        self,
        name: str,
        *,
        token: str,
        channel: str,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_inline_wait: float = 5.0,
        threads: bool = True,
        history_limit: int = 200,
    ) -> None:
        self.name = name
        self.channel = channel
        # conversations.* need the channel ID; chat.postMessage also takes a name and
        # answers with the ID, which we keep.
        self._channel_id = channel
        self.timeout = timeout
        self.threads = threads
        self.history_limit = history_limit
        self._roots: dict[str, str] = {}
        self._recovered = False
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self._client = WebClient(
            token=token,
            timeout=timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=_retry_handlers(max_inline_wait),
            logger=_sdk_logger(name, [token]),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"BotDestination(name={self.name!r}, channel={self.channel!r}, token=***)"

    @property
    def pace_key(self) -> str:
        return f"channel:{self.channel}"

    def _messages(self, method: str, now: datetime, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            response = self._client.api_call(
                method,
                http_verb="GET",
                params={
                    "channel": self._channel_id,
                    "limit": self.history_limit,
                    "include_all_metadata": "true",
                    **kwargs,
                },
            )
        except SlackApiError as exc:
            raise _api_error(self.name, exc, now) from exc
        except (TimeoutError, URLError, OSError, SlackClientError) as exc:
            raise _transport_error(self.name, exc) from exc
        messages = response.get("messages") or []
        return [m for m in messages if isinstance(m, dict)]

    @staticmethod
    def _meta(message: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") != METADATA_EVENT:
            return {}
        payload = metadata.get("event_payload") or {}
        return payload if isinstance(payload, Mapping) else {}

    def _recover(self, now: datetime) -> list[dict[str, Any]]:
        messages = self._messages("conversations.history", now)
        for message in reversed(messages):  # oldest first: the first root of a tag wins
            meta = self._meta(message)
            root = message.get("thread_ts") in (None, message.get("ts"))
            thread = meta.get("thread")
            if thread and root and str(thread) not in self._roots:
                self._roots[str(thread)] = str(message["ts"])
        self._recovered = True
        return messages

    def _already_posted(self, alert: Alert, now: datetime) -> Delivered | None:
        messages = self._recover(now)
        root = self._roots.get(alert.thread) if self.threads else None
        if root is not None:
            try:
                messages = messages + self._messages("conversations.replies", now, ts=root)
            except DeliveryError as exc:
                if not _is_thread_gone(exc):
                    raise
                del self._roots[alert.thread]
        for message in messages:
            if self._meta(message).get("key") == alert.key:
                return Delivered(ts=str(message.get("ts")), channel=self.channel, duplicate=True)
        return None

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        if resend:
            try:
                found = self._already_posted(alert, now)
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                # No history scope: we cannot look, so post (and say so).
                log.warning(
                    "cannot check %s for an earlier copy of %s: %s", self.name, alert.key, exc
                )
                found = None
            if found is not None:
                log.info("alert %s was already in %s; not posting it again", alert.key, self.name)
                return found
        elif self.threads and not self._recovered:
            try:
                self._recover(now)
            except DeliveryError as exc:
                # Threads are a convenience: without history access, post without them.
                log.warning("cannot read history of %s for threads: %s", self.name, exc)
                self._recovered = True
        thread_ts = self._roots.get(alert.thread) if self.threads and alert.thread else None
        try:
            response = self._post(alert, thread_ts, now)
        except DeliveryError as exc:
            if thread_ts is None or not _is_thread_gone(exc):
                raise
            # The thread's first message was deleted: start a new thread.
            del self._roots[alert.thread]
            thread_ts = None
            response = self._post(alert, None, now)
        ts = str(response.get("ts"))
        channel = str(response.get("channel") or self._channel_id)
        self._channel_id = channel
        if self.threads and alert.thread and thread_ts is None:
            self._roots[alert.thread] = ts
        return Delivered(ts=ts, channel=channel)

    def _post(self, alert: Alert, thread_ts: str | None, now: datetime) -> Mapping[str, Any]:
        text, blocks = render(alert)
        try:
            response = self._client.chat_postMessage(
                channel=self._channel_id,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                metadata={
                    "event_type": METADATA_EVENT,
                    "event_payload": {"key": alert.key, "thread": alert.thread},
                },
            )
        except SlackApiError as exc:
            raise _api_error(self.name, exc, now) from exc
        except (TimeoutError, URLError, OSError, SlackClientError) as exc:
            raise _transport_error(self.name, exc) from exc
        data = response.data
        return data if isinstance(data, dict) else {}


class WebhookDestination:
    """Posts to an incoming webhook (one channel, chosen when the webhook was made; no
    threads, and no way to look a message up: a retry after a timeout may post it twice)."""

    def __init__(
        self,
        name: str,
        *,
        url: str,
        timeout: float = 10.0,
        max_inline_wait: float = 5.0,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self._client = WebhookClient(
            url,
            timeout=timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=_retry_handlers(max_inline_wait),
            logger=_sdk_logger(name, [url]),
        )

    def __repr__(self) -> str:
        return f"WebhookDestination(name={self.name!r}, url=***)"

    @property
    def pace_key(self) -> str:
        return f"webhook:{self.name}"

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        text, blocks = render(alert)
        try:
            response = self._client.send(text=text, blocks=blocks, unfurl_links=False)
        except (TimeoutError, URLError, OSError, SlackClientError) as exc:
            raise _transport_error(self.name, exc) from exc
        status, body = response.status_code, (response.body or "").strip()
        if status == 200:
            return Delivered()
        if status == 429:
            retry_after = parse_retry_after(_header(response.headers, "Retry-After"), now=now)
            raise DeliveryError(
                self.name,
                f"rate limited (429), retry after {retry_after}s",
                permanent=False,
                retry_after=retry_after,
            )
        if status in PERMANENT_WEBHOOK_STATUSES:
            raise DeliveryError(
                self.name,
                f"the webhook refused the message: {status} {body[:100]!r} (the webhook was "
                "removed or its channel archived: configure a new webhook URL)",
                permanent=True,
            )
        raise DeliveryError(self.name, f"webhook answered {status}; will retry", permanent=False)
