"""Retry-After in its three forms (seconds, HTTP date, unix epoch), one reader for every caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tagwatch.core.retry_after import parse_retry_after

NOW = datetime.fromtimestamp(1_800_000_000.0, UTC)


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120", now=NOW) == 120
    assert parse_retry_after(" 0 ", now=NOW) == 0


def test_retry_after_as_an_http_date() -> None:
    when = NOW + timedelta(seconds=90)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=NOW) == 90


def test_retry_after_as_a_unix_epoch() -> None:
    assert parse_retry_after(str(int(NOW.timestamp()) + 45), now=NOW) == 45


def test_retry_after_in_the_past_or_garbage() -> None:
    assert parse_retry_after(str(int(NOW.timestamp()) - 45), now=NOW) == 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after("-5", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("", now=NOW) is None


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_retry_after_that_is_not_a_finite_wait_is_ignored(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_an_http_date_without_a_zone_is_read_as_utc() -> None:
    assert parse_retry_after("Fri, 15 Jan 2027 08:00:30 -0000", now=NOW) == 30.0
