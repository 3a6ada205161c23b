"""Points in time: reading them as people write them (ISO 8601, or a span ago like `1h30m`),
writing them for JSON, and the one clock the edges inject as `now`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tagwatch.core.durations import DURATION_PATTERN, parse_duration
from tagwatch.errors import InvalidDuration

__all__ = ["WHEN_PATTERN", "iso_seconds", "iso_utc", "parse_when", "utcnow"]

_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_CLOCK = r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?)?"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
#: What `parse_when` reads, as a regular expression for API schemas (February 29 aside).
WHEN_PATTERN = rf"^(?:{DURATION_PATTERN}|[1-9][0-9]{{3}}-{_DAY}{_CLOCK}{_ZONE})$"
_SPAN_START = re.compile(r"[0-9.]+(?:[wdhms]|$)")


def parse_when(raw: str, *, now: datetime) -> datetime:
    """An aware UTC time from ISO 8601 (UTC when no zone is given) or a span before `now`.

    Raises ValueError with a message that shows both accepted forms.
    """
    text = raw.strip()
    if _SPAN_START.match(text):
        try:
            return now - timedelta(seconds=parse_duration(text, allow_zero=True))
        except InvalidDuration as exc:
            raise ValueError(f"time {raw!r} {exc.problem}") from None
        except OverflowError:
            raise ValueError(f"time {raw!r} reaches back before year 1") from None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read time {raw!r}: use ISO 8601 (2026-11-29T10:00:00Z) "
            "or a span ago (90m, 2h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The clock the edges pass in as `now`; nothing in the core calls it."""
    return datetime.now(UTC)


def iso_utc(when: datetime | None) -> str | None:
    """`2026-11-29T10:00:00Z`: how every JSON output and API answer writes a time."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None


def iso_seconds(when: datetime) -> str:
    """`2026-11-29T10:00:00Z`: a time in text for people (tables, messages), to the second;
    JSON keeps every digit (`iso_utc`)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
