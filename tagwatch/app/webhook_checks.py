"""Webhook-triggered checks: one per tag at a time, later pushes coalesced, our failures retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tagwatch.app.check import Checker, CheckResult
from tagwatch.app.metrics import Metrics
from tagwatch.app.tasks import Tasks
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Source
from tagwatch.core.references import ImageRef
from tagwatch.errors import TagwatchError
from tagwatch.registry.retry import RetryPolicy

__all__ = ["WEBHOOK_RETRY", "WEBHOOK_SETTLE", "WebhookChecks"]

log = logging.getLogger(__name__)

#: Backoff for a webhook check that failed on our side: 0.5 s doubling to 30 s, jittered.
WEBHOOK_RETRY = RetryPolicy(max_wait=30.0, base=0.5)
#: Pauses before checking again a tag whose webhook named a digest the registry did not show
#: yet: distribution sends its notification from the manifest store, before it points the tag
#: at the new manifest, so a fast check still reads the old digest (about 6 s in all).
WEBHOOK_SETTLE = (0.2, 0.4, 0.8, 1.6, 3.2)


@dataclass
class _Ticket:
    """A webhook check running for one tag; `again` asks for one more check after it, because a
    push arrived after the running check may already have asked the registry."""

    ref: ImageRef
    task: asyncio.Task[list[CheckResult]] | None = None
    again: bool = False
    pushed_by: str | None = None  # who pushed, per the latest webhook for the tag
    announced: Digest | None = None  # the digest the latest webhook for the tag named


class WebhookChecks:
    """Checks that webhooks ask for. `covers` says which refs are watched; `account` counts
    results against the registry's budget; `on_move` is called when a check recorded a move."""

    def __init__(
        self,
        *,
        checker: Checker,
        metrics: Metrics,
        tasks: Tasks,
        covers: Callable[[ImageRef], bool],
        account: Callable[[str, Sequence[CheckResult], Source], None],
        on_move: Callable[[], None],
    ) -> None:
        self.checker = checker
        self.metrics = metrics
        self.tasks = tasks
        self.covers = covers
        self.account = account
        self.on_move = on_move
        self._running: dict[ImageRef, _Ticket] = {}

    def trigger(
        self, ref: ImageRef, *, pushed_by: str | None = None, announced: Digest | None = None
    ) -> asyncio.Task[list[CheckResult]] | None:
        """Check `ref` now (a webhook said it was pushed); None when no watch covers it.

        Only the registry's answer is recorded (with `pushed_by`, what the authenticated
        webhook said of who pushed, when the check finds a move), so a forged webhook cannot
        write a digest. Webhooks for a tag being checked right now coalesce into one more
        check after it (the running one may have asked before this push landed). When the
        webhook `announced` a digest and the registry still shows another, the tag is checked
        again a few times over a few seconds (`WEBHOOK_SETTLE`): the registry may not point
        the tag at the new manifest yet.
        """
        if self.tasks.stopping or ref.tag is None or not self.covers(ref):
            return None
        key = ref.without_digest()
        ticket = self._running.get(key)
        if ticket is not None and ticket.task is not None and not ticket.task.done():
            ticket.again = True
            ticket.pushed_by = pushed_by
            ticket.announced = announced
            return ticket.task
        ticket = self._running[key] = _Ticket(key, pushed_by=pushed_by, announced=announced)
        task = self.tasks.spawn(self._check(ticket))
        ticket.task = task
        return task

    async def _check(self, ticket: _Ticket) -> list[CheckResult]:
        results: list[CheckResult] = []
        failures = 0
        settles = 0
        while True:
            ticket.again = False
            pushers = {ticket.ref: ticket.pushed_by} if ticket.pushed_by else None
            try:
                batch = await self.checker.check(
                    [ticket.ref], source=Source.WEBHOOK, pushed_by=pushers
                )
            except TagwatchError as exc:
                # The push happened; only we failed (the database, mostly). Retry until we can
                # record it rather than leave the move to the next poll, maybe an hour away.
                delay = WEBHOOK_RETRY.backoff(failures)
                failures += 1
                self.metrics.webhook_check_failures.labels(ticket.ref.registry).inc()
                log.warning(
                    "webhook check of %s failed (attempt %d): %s; retrying in %.1f s",
                    ticket.ref,
                    failures,
                    exc,
                    delay,
                )
                if not await self.tasks.pause(delay):
                    return results
                continue
            results += batch
            self.account(ticket.ref.registry, batch, Source.WEBHOOK)
            if any(r.move is not None and r.move.is_move for r in batch):
                self.on_move()
            if self.tasks.stopping:
                return results
            if ticket.again:
                continue
            if not _shows(batch, ticket.announced) and settles < len(WEBHOOK_SETTLE):
                if not await self.tasks.pause(WEBHOOK_SETTLE[settles]):
                    return results
                settles += 1
                continue
            return results


def _shows(batch: Sequence[CheckResult], announced: Digest | None) -> bool:
    """Whether a webhook check is done with what its webhook announced: anything but the
    registry showing the tag unchanged on another digest than the webhook named."""
    if announced is None:
        return True
    return not any(
        r.move is not None and r.move.change is Change.UNCHANGED and r.move.to_digest != announced
        for r in batch
        if r.error is None
    )
