"""The service's background tasks and its stop signal, shared by polling, webhooks and delivery."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Tasks"]

T = TypeVar("T")


class Tasks:
    """Tasks spawned while the service runs; `stop()` ends pauses at once and `drain()` waits.

    One object so that every part of the service sees the same `stopping`: a part that checks
    it before starting work never starts any after `stop()`.
    """

    def __init__(self) -> None:
        self.stopping = False
        self._stopped = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run `coro` in the background, kept until it finishes (and drained by `drain`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def pause(self, seconds: float) -> bool:
        """Sleep `seconds`, cut short by stop(); whether the service is still running."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)
        return not self.stopping

    def stop(self) -> None:
        self.stopping = True
        self._stopped.set()

    async def drain(self, grace: float) -> None:
        """Let running tasks finish within `grace` seconds; cancel the late ones."""
        pending = [t for t in self._running if not t.done()]
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
