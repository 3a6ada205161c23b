"""Retry-After in its three forms, jittered backoff bounds, and Docker Hub rate-limit headers."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

from tagwatch.registry.ratelimit import parse_rate_limit
from tagwatch.registry.retry import RetryPolicy, parse_retry_after

NOW = 1_800_000_000.0


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120", now=NOW) == 120
    assert parse_retry_after(" 0 ", now=NOW) == 0


def test_retry_after_as_an_http_date() -> None:
    when = datetime.fromtimestamp(NOW + 90, UTC)
    assert parse_retry_after(format_datetime(when, usegmt=True), now=NOW) == 90


def test_retry_after_as_a_unix_epoch() -> None:
    assert parse_retry_after(str(int(NOW) + 45), now=NOW) == 45


def test_retry_after_in_the_past_or_garbage() -> None:
    assert parse_retry_after(str(int(NOW) - 45), now=NOW) == 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after("-5", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("", now=NOW) is None


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, max_wait=2.0, base=0.25)
    rng = random.Random(7)
    for attempt in range(10):
        ceiling = min(2.0, 0.25 * 2**attempt)
        waits = {policy.backoff(attempt, rng=rng) for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered


def test_server_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(max_wait=30.0)
    assert policy.wait_for(0, 3.0) == 3.0
    assert policy.wait_for(0, 3600.0) == 30.0


def test_docker_hub_rate_limit_headers_are_parsed() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    status = parse_rate_limit(
        {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "20;w=21600"}, now=now
    )
    assert status is not None
    assert (status.limit, status.remaining, status.window_s, status.observed_at) == (
        100,
        20,
        21600,
        now,
    )


def test_no_rate_limit_headers_means_no_status() -> None:
    assert parse_rate_limit({}, now=datetime.now(UTC)) is None
    odd = parse_rate_limit({"ratelimit-remaining": "x"}, now=datetime.now(UTC))
    assert odd is not None and odd.remaining is None and odd.limit is None
