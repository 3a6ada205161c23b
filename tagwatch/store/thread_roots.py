"""The roots of Slack threads, by channel ID and thread key (queries of `StoreTx`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tagwatch.store.models import SlackThreadRow
from tagwatch.store.sql import aware, insert

__all__ = ["ThreadRootsMixin"]


class ThreadRootsMixin:
    """The Slack thread-root queries of `StoreTx`."""

    _session: Session

    def thread_root(self, channel: str, thread: str) -> str | None:
        """The `ts` of the first message of `thread` in Slack channel `channel`, if kept."""
        return self._session.execute(
            select(SlackThreadRow.ts).where(
                SlackThreadRow.channel == channel, SlackThreadRow.thread == thread
            )
        ).scalar_one_or_none()

    def keep_thread_root(self, channel: str, thread: str, ts: str, *, now: datetime) -> str:
        """Keep `ts` as the thread's root unless one is kept already (another replica's
        post got there first); returns the kept root."""
        self._session.execute(
            insert(self._session, SlackThreadRow)
            .values(channel=channel, thread=thread, ts=ts, created_at=aware(now))
            .on_conflict_do_nothing(index_elements=["channel", "thread"])
        )
        kept = self.thread_root(channel, thread)
        return ts if kept is None else kept

    def forget_thread_root(self, channel: str, thread: str, ts: str) -> None:
        """Drop the root `ts` of `thread` (its message is gone); a newer root stays."""
        self._session.execute(
            delete(SlackThreadRow)
            .where(
                SlackThreadRow.channel == channel,
                SlackThreadRow.thread == thread,
                SlackThreadRow.ts == ts,
            )
            .execution_options(synchronize_session=False)
        )
