"""Retry policy for registry requests: jittered exponential backoff and Retry-After parsing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]

# A Retry-After number above this is a unix time (Docker Hub's API sends those), not seconds.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After value: delta seconds, an HTTP date, or a unix epoch.

    `now` is the current unix time. Returns None when the value is absent or unparseable;
    a time in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number < 0:  # NaN or negative
            return None
        if number >= _EPOCH_THRESHOLD:
            return max(0.0, number - now)
        return number
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: `max_retries` extra attempts, no wait above `max_wait`."""

    max_retries: int = 4
    max_wait: float = 30.0
    base: float = 0.25

    def backoff(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """The wait before retry number `attempt` (0-based): base*2^attempt, half of it jittered."""
        ceiling = min(self.max_wait, self.base * (2**attempt))
        draw = (rng or random).random()
        return float(ceiling / 2 + draw * ceiling / 2)

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        """The wait before retry `attempt`, honouring a server's Retry-After, capped at max_wait."""
        if retry_after is not None:
            return min(retry_after, self.max_wait)
        return self.backoff(attempt)
