"""parse_when reads the times people type; WHEN_PATTERN admits exactly what it reads; times are
written one way, ISO 8601 UTC with Z: to the second for people, every digit for JSON."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.core.times import WHEN_PATTERN, iso_seconds, iso_utc, parse_when

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_spans_count_back_from_now() -> None:
    assert parse_when("90m", now=NOW) == NOW - timedelta(minutes=90)
    assert parse_when("7d", now=NOW) == NOW - timedelta(days=7)


def test_iso_without_a_zone_is_utc() -> None:
    assert parse_when("2026-11-20T09:30:00", now=NOW) == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["yesterday", "2026-13-01", "99999999w", ""])
def test_unreadable_times_are_value_errors_naming_both_forms_or_the_limit(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_when(raw, now=NOW)


@given(st.from_regex(WHEN_PATTERN, fullmatch=True))
def test_everything_the_api_pattern_admits_is_readable(raw: str) -> None:
    parse_when(raw, now=NOW)


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 1, 1)))
def test_iso_times_outside_february_29_match_the_pattern(when: datetime) -> None:
    if (when.month, when.day) == (2, 29):
        return
    raw = when.replace(microsecond=0).isoformat() + "Z"
    assert re.match(WHEN_PATTERN, raw)
    assert parse_when(raw, now=NOW) == when.replace(microsecond=0, tzinfo=UTC)


def test_a_span_ago_uses_the_duration_grammar() -> None:
    assert parse_when("1h30m", now=NOW) == NOW - timedelta(minutes=90)
    assert parse_when("2w", now=NOW) == NOW - timedelta(weeks=2)
    assert re.match(WHEN_PATTERN, "1h30m") and re.match(WHEN_PATTERN, "250ms")
    assert not re.match(WHEN_PATTERN, "")


def test_times_are_written_in_utc_with_z_to_the_second_for_people_and_whole_for_json() -> None:
    when = datetime(2026, 11, 29, 13, 0, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert iso_seconds(when) == "2026-11-29T12:00:05Z"
    assert iso_utc(when) == "2026-11-29T12:00:05.123456Z"
    assert parse_when(iso_utc(when) or "", now=NOW) == when
