"""The one retry loop for registry, token-service and vendor-API requests, and its policy."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

__all__ = ["Busy", "RetryPolicy", "Sleep", "send_with_retries"]

Sleep = Callable[[float], Awaitable[None]]


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


@dataclass(frozen=True)
class Busy:
    """A response that asks to be tried again: the server's wait, if it named one, and whether
    it is a rate limit (then a wait longer than the policy allows means giving up at once)."""

    retry_after: float | None = None
    rate_limited: bool = False


async def send_with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    policy: RetryPolicy,
    busy: Callable[[httpx.Response], Busy | None],
    gave_up: Callable[[httpx.Response, Busy, int], Exception],
    unreachable: Callable[[httpx.TransportError, int], Exception],
    sleep: Sleep = asyncio.sleep,
) -> httpx.Response:
    """`send()` until it answers something that is not `busy`, within `policy`.

    Network errors are retried with backoff, busy answers after their Retry-After (capped);
    when the attempts run out, `unreachable(exc, attempts)` or `gave_up(response, busy,
    attempts)` is raised. Errors `send` raises itself (not httpx transport errors) pass through,
    so a caller translates what must not be retried (a bad certificate) before it gets here.
    """
    attempt = 0
    while True:
        try:
            response = await send()
        except httpx.TransportError as exc:
            if attempt >= policy.max_retries:
                raise unreachable(exc, attempt + 1) from exc
            await sleep(policy.backoff(attempt))
            attempt += 1
            continue
        verdict = busy(response)
        if verdict is None:
            return response
        too_long = verdict.retry_after is not None and verdict.retry_after > policy.max_wait
        if attempt >= policy.max_retries or (verdict.rate_limited and too_long):
            raise gave_up(response, verdict, attempt + 1)
        await sleep(policy.wait_for(attempt, verdict.retry_after))
        attempt += 1
