"""The one duration grammar, for every flag, config key and API parameter.

`90` (seconds), `90s`, `250ms`, `5m`, `1h30m`, `7d`, `2w`: whole or decimal numbers, each
followed by a unit, units from the largest to the smallest, each at most once. YAML numbers
(`90`, `0.5`) are seconds. NaN, infinity, negative and absurdly long spans are refused here, at
validation, so nothing downstream (a scheduler, `now - span`) meets them at run time.
"""

from __future__ import annotations

import math
import re

from tagwatch.errors import InvalidDuration

__all__ = ["DURATION_GRAMMAR", "DURATION_PATTERN", "MAX_SECONDS", "parse_duration"]

#: A span longer than this is a typo, not a plan; it also keeps `now ± span` inside datetime.
MAX_SECONDS = 100 * 365 * 86400.0

_UNITS = (("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_SPAN = re.compile("".join(rf"(?:(?P<{unit}>{_NUMBER}){unit})?" for unit, _ in _UNITS))
_BARE = re.compile(_NUMBER)


def _pattern(number: dict[str, str], bare: str) -> str:
    """A regular expression for the grammar, `number[unit]` spelling each unit's amount. Each
    alternative starts with its first unit, so the empty string is not admitted."""
    units = [u for u, _ in _UNITS]
    spans = (
        "".join(f"{number[u]}{u}" if u == first else f"(?:{number[u]}{u})?" for u in units[i:])
        for i, first in enumerate(units)
    )
    return f"(?:{bare}|{'|'.join(spans)})"


#: Every text the grammar reads (for JSON Schemas of the config file; the 100-year cap aside).
DURATION_GRAMMAR = _pattern(dict.fromkeys((u for u, _ in _UNITS), _NUMBER), _NUMBER)
#: For API parameters: a subset whose every match is under MAX_SECONDS (digit counts bound each
#: part: 999w + 9999d + 99999h + 999999m + 9999999s + 999999999ms is about 59 years).
DURATION_PATTERN = _pattern(
    {
        u: f"[0-9]{{1,{n}}}"
        for u, n in (("w", 3), ("d", 4), ("h", 5), ("m", 6), ("s", 7), ("ms", 9))
    },
    "[0-9]{1,9}",
)

_LIKE = "must be a duration like 5m"
_TOO_LONG = "must be at most 100 years"


def parse_duration(value: object, *, allow_zero: bool = False) -> float:
    """Seconds from a duration string or a number; InvalidDuration (a ValueError) otherwise.

    Zero is refused unless `allow_zero` (a timeout of 0 means "look once"; an interval of 0
    would spin).
    """
    if isinstance(value, bool):
        raise InvalidDuration(value, _LIKE)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            raise InvalidDuration(value, _TOO_LONG) from None
    elif isinstance(value, str):
        seconds = _seconds(value.strip(), value)
    else:
        raise InvalidDuration(value, _LIKE)
    if math.isnan(seconds) or (math.isinf(seconds) and not isinstance(value, str)):
        raise InvalidDuration(value, _LIKE)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidDuration(value, "must be a positive duration like 5m")
    if seconds > MAX_SECONDS:
        raise InvalidDuration(value, _TOO_LONG)
    return seconds


def _seconds(text: str, raw: object) -> float:
    if _BARE.fullmatch(text):
        return float(text)
    match = _SPAN.fullmatch(text)
    if not text or match is None:
        raise InvalidDuration(raw, _LIKE)
    return sum(float(match[unit]) * size for unit, size in _UNITS if match[unit] is not None)
