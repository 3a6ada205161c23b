"""Slack channel names and IDs: `conversations.*` take only IDs, so a configured name is
resolved once with `conversations.list` (paged by cursor)."""

from __future__ import annotations

from datetime import datetime
from urllib.error import URLError

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient

from tagwatch.notify.sdk import api_error, transport_error

__all__ = ["CHANNEL_TYPES", "find_channel_id", "is_channel_id"]

#: Both kinds a bot can post to by name; the bot sees private channels it is a member of.
CHANNEL_TYPES = "public_channel,private_channel"


def is_channel_id(channel: str) -> bool:
    """Slack's IDs are upper case (`C0123ABCD`, `G…`); channel names are lower case and may
    start with `#`."""
    return bool(channel) and not channel.startswith("#") and channel == channel.upper()


def find_channel_id(
    client: WebClient, name: str, *, destination: str, now: datetime, page_size: int = 200
) -> str | None:
    """The ID of the channel called `name` (with or without `#`), or None when the token sees
    no such channel. Raises DeliveryError when Slack refuses (e.g. `missing_scope`: the token
    lacks `channels:read`/`groups:read`) or cannot be reached."""
    wanted = name.removeprefix("#")
    cursor: str | None = None
    while True:
        try:
            response = client.conversations_list(
                types=CHANNEL_TYPES, exclude_archived=True, limit=page_size, cursor=cursor
            )
        except SlackApiError as exc:
            raise api_error(destination, exc, now) from exc
        except (TimeoutError, URLError, OSError, SlackClientError) as exc:
            raise transport_error(destination, exc) from exc
        for channel in response.get("channels") or []:
            if isinstance(channel, dict) and channel.get("name") == wanted and channel.get("id"):
                return str(channel["id"])
        metadata = response.get("response_metadata") or {}
        cursor = str(metadata.get("next_cursor") or "") or None
        if cursor is None:
            return None
