"""Progress of long work on stderr, only when stderr is a terminal: nothing reaches a pipe.

Two kinds, as kubectl does them: a status line rewritten in place while work is counted
("checking tags: 37 of 120 done…"), and lines that stay, printed when the state changes
(`Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

__all__ = ["Progress", "progress_on"]

_SPINNER = "line"  # plain ASCII: any terminal, any font


class Progress:
    """The status of one piece of long work; every method does nothing off a terminal."""

    def __init__(self, console: Console | None, status: Status | None, label: str) -> None:
        self._console = console
        self._status = status
        self._label = label
        self._last_line: str | None = None

    def update(self, message: str) -> None:
        """Rewrite the status line."""
        if self._status is not None:
            # Naming the spinner redraws now; text alone waits for the next tick, and the last
            # count of quick work would never be shown.
            self._status.update(message, spinner=_SPINNER)

    def count(self, done: int, total: int) -> None:
        """`label: done of total done…`, for work counted as it finishes (an app hook)."""
        self.update(f"{self._label}: {done} of {total} done…")

    def line(self, message: str) -> None:
        """A line that stays, printed only when it differs from the last one."""
        if self._console is not None and message != self._last_line:
            self._last_line = message
            self._console.print(message, markup=False, highlight=False)


@contextmanager
def progress_on(console: Console, message: str) -> Iterator[Progress]:
    """Show `message` as a status line on `console` while the block runs, if it is a terminal."""
    if not console.is_terminal:
        yield Progress(None, None, message.rstrip("…"))
        return
    with console.status(message, spinner=_SPINNER) as status:
        yield Progress(console, status, message.rstrip("…"))
