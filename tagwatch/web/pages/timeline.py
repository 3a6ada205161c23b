"""The tag timeline drawn as bands: pure geometry from a history, no I/O, no templates.

Each digest the tag pointed to gets a row; each sighting a band on its row from first seen
to last seen; the gaps between one sighting's last and the next one's first seen are the
move windows, when the tag changed without anyone looking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tagwatch.core.digests import Digest
from tagwatch.core.moves import Sighting

__all__ = ["Band", "Layout", "Window", "layout"]

#: The drawing's user units (the SVG scales to the page width).
WIDTH = 1000.0
ROW = 28.0
LEFT = 0.0
#: A band never thinner than this, so a one-check sighting can still be seen and hovered.
MIN_BAND = 3.0


@dataclass(frozen=True, slots=True)
class Band:
    """One sighting: row `row` (one per digest), from x to x + width."""

    number: int  # 1-based position in the history
    row: int
    x: float
    width: float
    sighting: Sighting


@dataclass(frozen=True, slots=True)
class Window:
    """The time between two sightings in which the move happened."""

    x: float
    width: float
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Layout:
    rows: tuple[Digest | None, ...]  # a row's digest (None: the tag was absent)
    bands: tuple[Band, ...]
    windows: tuple[Window, ...]
    start: datetime | None
    end: datetime | None
    width: float = WIDTH

    @property
    def middle(self) -> datetime | None:
        return self.start + (self.end - self.start) / 2 if self.start and self.end else None

    @property
    def height(self) -> float:
        return max(1, len(self.rows)) * ROW


def layout(sightings: Sequence[Sighting], *, now: datetime | None = None) -> Layout:
    """Bands and windows of `sightings` (oldest first) scaled to WIDTH between the first
    first-seen and the latest of last-seen and `now`."""
    if not sightings:
        return Layout((), (), (), None, None)
    start = sightings[0].first_seen
    end = max([s.last_seen for s in sightings] + ([now] if now is not None else []))
    span = max((end - start).total_seconds(), 1.0)

    def x(when: datetime) -> float:
        return LEFT + (when - start).total_seconds() / span * (WIDTH - LEFT)

    rows: dict[Digest | None, int] = {}
    bands: list[Band] = []
    windows: list[Window] = []
    for number, sighting in enumerate(sightings, start=1):
        row = rows.setdefault(sighting.digest, len(rows))
        left, right = x(sighting.first_seen), x(sighting.last_seen)
        width = max(right - left, MIN_BAND)
        bands.append(Band(number, row, min(left, WIDTH - width), width, sighting))
        if number > 1:
            previous = sightings[number - 2]
            gap_left = x(previous.last_seen)
            windows.append(
                Window(
                    gap_left,
                    max(left - gap_left, 0.0),
                    previous.last_seen,
                    sighting.first_seen,
                )
            )
    return Layout(tuple(rows), tuple(bands), tuple(windows), start, end)
