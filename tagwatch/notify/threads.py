"""Where a bot destination keeps the first message (thread root) of each tag's Slack thread.

The service keeps them in the store (`tagwatch.store.SlackThreads`), so threads survive a
restart and replicas share them; `MemoryThreadRoots` is for a destination used on its own.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

__all__ = ["MemoryThreadRoots", "ThreadRoots"]


class ThreadRoots(Protocol):
    """Thread roots by (channel ID, thread key); `ts` is the root message's Slack timestamp."""

    def root(self, channel: str, thread: str) -> str | None:
        """The root of `thread` in `channel`, if one was kept."""
        ...

    def keep(self, channel: str, thread: str, ts: str, *, now: datetime) -> str:
        """Keep `ts` as the root unless one is kept already; returns the root that is kept
        (another replica's, when it got there first)."""
        ...

    def forget(self, channel: str, thread: str, ts: str) -> None:
        """Drop the root `ts` (its message was deleted); a newer root is left alone."""
        ...


class MemoryThreadRoots:
    """Thread roots in this process only (lost on restart)."""

    def __init__(self) -> None:
        self._roots: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def root(self, channel: str, thread: str) -> str | None:
        with self._lock:
            return self._roots.get((channel, thread))

    def keep(self, channel: str, thread: str, ts: str, *, now: datetime) -> str:
        with self._lock:
            return self._roots.setdefault((channel, thread), ts)

    def forget(self, channel: str, thread: str, ts: str) -> None:
        with self._lock:
            if self._roots.get((channel, thread)) == ts:
                del self._roots[(channel, thread)]
