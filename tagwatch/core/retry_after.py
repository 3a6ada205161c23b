"""Read a Retry-After value: delta seconds, an HTTP date, or a unix epoch (Docker Hub's API)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["parse_retry_after"]

# A number at or above this is a unix time, not seconds: every epoch since 2001 is, and no
# server asks for a wait of 31 years.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value, counted from `now` (an aware datetime).

    None when the value is absent, empty, negative, NaN or unparseable; a time in the past
    gives 0. Callers cap the wait themselves (each has its own idea of "too long").
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return _seconds_until_date(text, now)
    if math.isnan(number) or number < 0 or math.isinf(number):
        return None
    if number >= _EPOCH_THRESHOLD:
        return max(0.0, number - now.timestamp())
    return number


def _seconds_until_date(text: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
