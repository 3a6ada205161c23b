"""Counting long work as it finishes, for the caller's progress display (the CLI's status line)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

__all__ = ["ProgressHook", "gather_counted"]

#: Called with (done, total) as each piece of work finishes; it must not block.
ProgressHook = Callable[[int, int], None]

_T = TypeVar("_T")


async def gather_counted(
    awaitables: Sequence[Awaitable[_T]], on_progress: ProgressHook | None
) -> list[_T]:
    """`asyncio.gather`, in order, calling `on_progress(done, total)` as each one finishes."""
    if on_progress is None:
        return list(await asyncio.gather(*awaitables))
    total, done = len(awaitables), 0
    on_progress(0, total)

    async def counted(awaitable: Awaitable[_T]) -> _T:
        nonlocal done
        result = await awaitable
        done += 1
        on_progress(done, total)
        return result

    return list(await asyncio.gather(*(counted(a) for a in awaitables)))
