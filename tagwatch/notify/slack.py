"""Slack destinations: a bot token posting to a channel (threads per tag) or an incoming webhook."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient
from slack_sdk.webhook import WebhookClient

from tagwatch.core.alerts import Alert
from tagwatch.errors import TagwatchError
from tagwatch.notify.channels import find_channel_id, is_channel_id
from tagwatch.notify.delivery import Delivered, DeliveryError
from tagwatch.notify.render import render
from tagwatch.notify.sdk import (
    PERMANENT_WEBHOOK_STATUSES,
    api_error,
    header,
    parse_retry_after,
    retry_handlers,
    sdk_logger,
    transport_error,
)
from tagwatch.notify.threads import MemoryThreadRoots, ThreadRoots

__all__ = ["METADATA_EVENT", "BotDestination", "WebhookDestination"]

log = logging.getLogger(__name__)

#: The `metadata.event_type` of every message we post; its payload carries the alert key.
METADATA_EVENT = "tagwatch_alert"


def _is_thread_gone(exc: DeliveryError) -> bool:
    return exc.code == "thread_not_found"


class BotDestination:
    """Posts with a bot token (`chat.postMessage`) to one channel; follow-ups for a tag go in
    the thread of its first message.

    `channel` is an ID or a name (`#image-tags`). `conversations.history` and `.replies` take
    only IDs, so a name is resolved once with `conversations.list`; when the token may not
    list channels, the ID in the first `chat.postMessage` reply is kept instead.

    Thread roots are kept in `roots` (the store, in the service: they survive restarts and
    are shared by replicas). A thread with no kept root is looked for once per process in
    `conversations.history` (messages carry the tag and alert key in `metadata`), which
    finds threads started before roots were kept. When `resend` is set (an earlier attempt
    may have reached Slack) the channel (or the tag's thread) is searched for the alert key
    first, so a retried message is not posted twice.
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
        roots: ThreadRoots | None = None,
    ) -> None:
        self.name = name
        self.channel = channel
        self._channel_id: str | None = channel if is_channel_id(channel) else None
        self._may_list = self._channel_id is None
        self.timeout = timeout
        self.threads = threads
        self.history_limit = history_limit
        self._roots: ThreadRoots = roots if roots is not None else MemoryThreadRoots()
        self._recovered = False
        kwargs: dict[str, Any] = {"base_url": base_url} if base_url else {}
        self._client = WebClient(
            token=token,
            timeout=timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=retry_handlers(max_inline_wait),
            logger=sdk_logger(name, [token]),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"BotDestination(name={self.name!r}, channel={self.channel!r}, token=***)"

    @property
    def pace_key(self) -> str:
        return f"channel:{self.channel}"

    # -- channel and thread roots -------------------------------------------------------

    def _channel(self, now: datetime) -> str | None:
        """The channel's ID: configured, resolved from its name once, or from a post's reply.
        None while unknown (a token without `channels:read`, before its first post)."""
        if self._channel_id is None and self._may_list:
            try:
                self._channel_id = find_channel_id(
                    self._client, self.channel, destination=self.name, now=now
                )
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                self._may_list = False
                log.warning(
                    "cannot resolve %s to a channel ID (%s); taking it from the first post",
                    self.channel,
                    exc,
                )
                return None
            if self._channel_id is None:
                self._may_list = False
                log.warning(
                    "no channel named %s is visible to the token of %s; posting by name",
                    self.channel,
                    self.name,
                )
        return self._channel_id

    def _root(self, channel: str, thread: str) -> str | None:
        try:
            return self._roots.root(channel, thread)
        except TagwatchError as exc:
            # Posting outside the thread would split it: wait until the store answers.
            raise DeliveryError(
                self.name, f"cannot read thread roots: {exc}; will retry", permanent=False
            ) from exc

    def _keep(self, channel: str, thread: str, ts: str, now: datetime) -> None:
        try:
            self._roots.keep(channel, thread, ts, now=now)
        except TagwatchError as exc:
            # The message is in Slack: failing now would only send it again.
            log.warning("could not keep the thread root of %s in %s: %s", thread, self.name, exc)

    def _forget(self, channel: str, thread: str, ts: str) -> None:
        try:
            self._roots.forget(channel, thread, ts)
        except TagwatchError as exc:
            log.warning("could not drop the thread root of %s in %s: %s", thread, self.name, exc)

    # -- reading the channel ------------------------------------------------------------

    def _messages(
        self, method: str, channel: str, now: datetime, **kwargs: Any
    ) -> list[dict[str, Any]]:
        try:
            response = self._client.api_call(
                method,
                http_verb="GET",
                params={
                    "channel": channel,
                    "limit": self.history_limit,
                    "include_all_metadata": "true",
                    **kwargs,
                },
            )
        except SlackApiError as exc:
            raise api_error(self.name, exc, now) from exc
        except (TimeoutError, URLError, OSError, SlackClientError) as exc:
            raise transport_error(self.name, exc) from exc
        messages = response.get("messages") or []
        return [m for m in messages if isinstance(m, dict)]

    @staticmethod
    def _meta(message: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") != METADATA_EVENT:
            return {}
        payload = metadata.get("event_payload") or {}
        return payload if isinstance(payload, Mapping) else {}

    def _recover(self, channel: str, now: datetime) -> list[dict[str, Any]]:
        """Read the channel's history; keep the thread roots found there."""
        messages = self._messages("conversations.history", channel, now)
        for message in reversed(messages):  # oldest first: the first root of a tag wins
            thread = self._meta(message).get("thread")
            if thread and message.get("thread_ts") in (None, message.get("ts")):
                self._keep(channel, str(thread), str(message["ts"]), now)
        self._recovered = True
        return messages

    def _already_posted(self, alert: Alert, channel: str, now: datetime) -> Delivered | None:
        messages = self._recover(channel, now)
        root = self._root(channel, alert.thread) if self.threads and alert.thread else None
        if root is not None:
            try:
                messages = messages + self._messages("conversations.replies", channel, now, ts=root)
            except DeliveryError as exc:
                if not _is_thread_gone(exc):
                    raise
                self._forget(channel, alert.thread, root)
        for message in messages:
            if self._meta(message).get("key") == alert.key:
                return Delivered(ts=str(message.get("ts")), channel=channel, duplicate=True)
        return None

    def _look_for(self, alert: Alert, channel: str | None, now: datetime) -> Delivered | None:
        """The earlier copy of `alert`, if an uncertain attempt did reach Slack."""
        if channel is None:
            log.warning(
                "cannot check %s for an earlier copy of %s: no channel ID", self.name, alert.key
            )
            return None
        try:
            return self._already_posted(alert, channel, now)
        except DeliveryError as exc:
            if not exc.permanent:
                raise
            # No history scope: we cannot look, so post (and say so).
            log.warning("cannot check %s for an earlier copy of %s: %s", self.name, alert.key, exc)
            return None

    def _thread_of(self, alert: Alert, channel: str | None, now: datetime) -> str | None:
        if not (self.threads and alert.thread and channel):
            return None
        root = self._root(channel, alert.thread)
        if root is None and not self._recovered:
            try:
                self._recover(channel, now)
            except DeliveryError as exc:
                # Threads are a convenience: without history access, post without them.
                log.warning("cannot read history of %s for threads: %s", self.name, exc)
                self._recovered = True
            root = self._root(channel, alert.thread)
        return root

    # -- posting ------------------------------------------------------------------------

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        channel = self._channel(now)
        if resend:
            found = self._look_for(alert, channel, now)
            if found is not None:
                log.info("alert %s was already in %s; not posting it again", alert.key, self.name)
                return found
        thread_ts = self._thread_of(alert, channel, now)
        try:
            response = self._post(alert, channel, thread_ts, now)
        except DeliveryError as exc:
            if thread_ts is None or channel is None or not _is_thread_gone(exc):
                raise
            # The thread's first message was deleted: start a new thread.
            self._forget(channel, alert.thread, thread_ts)
            thread_ts = None
            response = self._post(alert, channel, None, now)
        ts = str(response.get("ts"))
        posted_in = str(response.get("channel") or channel or self.channel)
        if is_channel_id(posted_in):
            self._channel_id = posted_in
        if self.threads and alert.thread and thread_ts is None:
            self._keep(posted_in, alert.thread, ts, now)
        return Delivered(ts=ts, channel=posted_in)

    def _post(
        self, alert: Alert, channel: str | None, thread_ts: str | None, now: datetime
    ) -> Mapping[str, Any]:
        text, blocks = render(alert)
        try:
            response = self._client.chat_postMessage(
                channel=channel or self.channel,
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
            raise api_error(self.name, exc, now) from exc
        except (TimeoutError, URLError, OSError, SlackClientError) as exc:
            raise transport_error(self.name, exc) from exc
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
            retry_handlers=retry_handlers(max_inline_wait),
            logger=sdk_logger(name, [url]),
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
            raise transport_error(self.name, exc) from exc
        status, body = response.status_code, (response.body or "").strip()
        if status == 200:
            return Delivered()
        if status == 429:
            retry_after = parse_retry_after(header(response.headers, "Retry-After"), now=now)
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
