"""Reading points in time as people write them: ISO 8601, or a span ago (`90m`, `2h`, `7d`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["WHEN_PATTERN", "iso_utc", "parse_when"]

_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_CLOCK = r"(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,6})?)?)?"
_ZONE = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
#: What `parse_when` reads, as a regular expression for API schemas (February 29 aside).
WHEN_PATTERN = rf"^(?:[0-9]{{1,5}}[smhdw]|[1-9][0-9]{{3}}-{_DAY}{_CLOCK}{_ZONE})$"

_RELATIVE = re.compile(r"([0-9]+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(raw: str, *, now: datetime) -> datetime:
    """An aware UTC time from ISO 8601 (UTC when no zone is given) or a span before `now`.

    Raises ValueError with a message that shows both accepted forms.
    """
    text = raw.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        amount, unit = relative.groups()
        try:
            return now - timedelta(**{_UNITS[unit]: int(amount)})
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


def iso_utc(when: datetime | None) -> str | None:
    """`2026-11-29T10:00:00Z`: how every JSON output and API answer writes a time."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None
