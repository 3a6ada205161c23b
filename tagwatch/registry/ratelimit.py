"""Registry rate-limit headers (Docker Hub's `ratelimit-limit: 100;w=21600`) as a status value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["RateLimitStatus", "parse_rate_limit"]


@dataclass(frozen=True)
class RateLimitStatus:
    """The last rate-limit headers a registry sent: pulls allowed and left per window of seconds."""

    limit: int | None
    remaining: int | None
    window_s: int | None
    observed_at: datetime


def _parse(value: str | None) -> tuple[int | None, int | None]:
    """`100;w=21600` -> (100, 21600); anything unparseable -> (None, None)."""
    if not value:
        return None, None
    first, *params = (part.strip() for part in value.split(",")[0].split(";"))
    try:
        amount = int(first)
    except ValueError:
        return None, None
    window: int | None = None
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "w":
            try:
                window = int(raw.strip())
            except ValueError:
                window = None
    return amount, window


def parse_rate_limit(headers: Mapping[str, str], *, now: datetime) -> RateLimitStatus | None:
    """A status from `ratelimit-limit`/`ratelimit-remaining`, or None when neither is sent."""
    raw_limit = headers.get("ratelimit-limit")
    raw_remaining = headers.get("ratelimit-remaining")
    if raw_limit is None and raw_remaining is None:
        return None
    limit, window = _parse(raw_limit)
    remaining, remaining_window = _parse(raw_remaining)
    return RateLimitStatus(limit, remaining, window or remaining_window, now)
