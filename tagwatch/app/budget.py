"""Per-registry request budgets: a token bucket that shrinks with ratelimit-remaining and 429s."""

from __future__ import annotations

from dataclasses import dataclass, field

from tagwatch.registry import RateLimitStatus

__all__ = ["Budget"]


@dataclass
class Budget:
    """`requests` per `per` seconds for one registry host, spent one per tag check.

    The bucket starts full and refills continuously. What the registry says wins: when it
    reports `ratelimit-remaining`, we keep a `reserve` share of it for humans and CI and
    never plan past the rest; a 429 empties the bucket and pauses the host until
    `retry_after` (or one refill period of ten requests) has passed.
    """

    requests: int
    per: float
    reserve: float = 0.1
    tokens: float = field(init=False)
    updated: float | None = field(default=None, init=False)
    paused_until: float = field(default=0.0, init=False)
    limited: int = field(default=0, init=False)  # 429s seen

    def __post_init__(self) -> None:
        self.tokens = float(self.requests)

    @property
    def rate(self) -> float:
        return self.requests / self.per

    def _refill(self, now: float) -> None:
        if self.updated is not None:
            self.tokens = min(float(self.requests), self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def available(self, now: float) -> int:
        """How many tag checks may start now."""
        self._refill(now)
        if now < self.paused_until:
            return 0
        return int(self.tokens)

    def spend(self, count: int, now: float) -> None:
        self._refill(now)
        self.tokens -= count

    def observe(self, status: RateLimitStatus | None, now: float) -> None:
        """Adapt to the registry's own count: plan at most (1 - reserve) of what remains."""
        if status is None or status.remaining is None:
            return
        self._refill(now)
        allowed = status.remaining * (1 - self.reserve)
        self.tokens = min(self.tokens, allowed)
        if status.remaining <= 0 and status.window_s:
            # Nothing left in this window: wait for a share of it to come back.
            self.paused_until = max(self.paused_until, now + min(status.window_s, self.per) / 10)

    def rate_limited(self, retry_after: float | None, now: float) -> None:
        """The registry answered 429: stop asking it until `retry_after` (or a short pause)."""
        self._refill(now)
        self.limited += 1
        self.tokens = 0.0
        pause = retry_after if retry_after is not None else max(10.0 / self.rate, 1.0)
        self.paused_until = max(self.paused_until, now + pause)
