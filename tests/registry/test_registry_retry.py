"""Jittered backoff bounds, the one retry loop, and Docker Hub rate-limit headers."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from tagwatch.errors import RateLimited, RegistryUnavailable
from tagwatch.registry.ratelimit import parse_rate_limit
from tagwatch.registry.retry import Busy, RetryPolicy, send_with_retries


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


async def test_the_retry_loop_gives_up_at_once_on_a_rate_limit_longer_than_its_wait() -> None:
    sent: list[int] = []
    slept: list[float] = []

    async def send() -> httpx.Response:
        sent.append(1)
        return httpx.Response(429, headers={"retry-after": "3600"})

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with pytest.raises(RateLimited) as caught:
        await send_with_retries(
            send,
            policy=RetryPolicy(max_retries=4, max_wait=30.0),
            busy=lambda r: Busy(3600.0, rate_limited=True) if r.status_code == 429 else None,
            gave_up=lambda r, busy, n: RateLimited("x.io", f"after {n}", busy.retry_after),
            unreachable=lambda exc, n: RegistryUnavailable("x.io", f"after {n}"),
            sleep=sleep,
        )
    assert (len(sent), slept, caught.value.retry_after, caught.value.status) == (1, [], 3600.0, 429)


async def test_the_retry_loop_retries_network_errors_then_names_the_attempts() -> None:
    slept: list[float] = []

    async def send() -> httpx.Response:
        raise httpx.ConnectError("refused")

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    with pytest.raises(RegistryUnavailable, match="after 3"):
        await send_with_retries(
            send,
            policy=RetryPolicy(max_retries=2, base=0.25),
            busy=lambda r: None,
            gave_up=lambda r, busy, n: RegistryUnavailable("x.io", "busy"),
            unreachable=lambda exc, n: RegistryUnavailable("x.io", f"after {n}"),
            sleep=sleep,
        )
    assert len(slept) == 2 and 0.125 <= slept[0] <= 0.25 and 0.25 <= slept[1] <= 0.5
