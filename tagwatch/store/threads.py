"""Slack thread roots kept in the store: what a bot destination needs (`notify.ThreadRoots`)."""

from __future__ import annotations

from datetime import datetime

from tagwatch.store.database import Store

__all__ = ["SlackThreads"]


class SlackThreads:
    """Thread roots in the `slack_threads` table, each call its own short transaction (the
    destination runs outside any caller's transaction). Raises StoreError like the store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def root(self, channel: str, thread: str) -> str | None:
        with self._store.begin() as tx:
            return tx.thread_root(channel, thread)

    def keep(self, channel: str, thread: str, ts: str, *, now: datetime) -> str:
        with self._store.begin() as tx:
            return tx.keep_thread_root(channel, thread, ts, now=now)

    def forget(self, channel: str, thread: str, ts: str) -> None:
        with self._store.begin() as tx:
            tx.forget_thread_root(channel, thread, ts)
