"""Tables that fit the terminal: the one rule every command's table follows.

A row is one line, always. The columns that identify a row (a tag's reference, a workload, its
namespace) are printed whole; the others are cut with an ellipsis, the widest first, down to
their `min_width`; if the line is still too long, whole columns are left out, those with the
highest `drop` first (then the rightmost). Wider terminals show more. `-o wide` adds the
columns marked `wide` and prints every value whole (like `kubectl get -o wide`), however long
the line. Piped output is as wide as COLUMNS says, else 250 columns (see `table_width`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text

from tagwatch.cli import common
from tagwatch.core.digests import Digest

__all__ = [
    "DIGEST_WIDTH",
    "GAP",
    "TIME_WIDTH",
    "Cell",
    "Column",
    "RenderedTable",
    "digest_cell",
    "fit_widths",
    "print_table",
    "ref_cell",
    "render_table",
    "table_width",
]

#: Spaces between two columns, as kubectl prints them.
GAP = 2
#: `2026-11-29T10:00:00Z`: a time in a table is whole or left out, never cut.
TIME_WIDTH = 20
#: `3f1c2a9b8d7e…`: the 12 hex characters `docker images` shows, and the ellipsis.
DIGEST_WIDTH = 13
_PIPE_WIDTH = 250  # a pipe has no width: keep whole references and digests

#: A cell: plain text (never read as markup), or a styled rich Text.
Cell = str | Text


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table.

    `identifies`: the column names the row, so it is never cut or left out. `wide`: shown only
    with `-o wide`. `min_width`: the narrowest a cut cell becomes (never narrower than the
    header: a column is shown with its name whole, or left out). `drop`: when whole columns
    must go, higher goes first.
    """

    header: str
    identifies: bool = False
    wide: bool = False
    min_width: int = 6
    drop: int = 0


def digest_cell(digest: Digest | None, *, wide: bool = False) -> str:
    """A digest in a table: 12 hex characters and an ellipsis; whole with `-o wide`."""
    if digest is None:
        return "-"
    return str(digest) if wide else f"{digest.short}…"


def ref_cell(ref: str, *, wide: bool = False) -> str:
    """A reference in a table: a pinned digest (`@sha256:…`) shortened as `digest_cell` does,
    so the repository and tag stay readable; whole with `-o wide`."""
    name, at, digest = ref.partition("@")
    if wide or not at:
        return ref
    try:
        pinned = Digest.parse(digest)
    except ValueError:
        return ref
    return f"{name}@{pinned.algorithm}:{digest_cell(pinned)}"


def table_width() -> int:
    """The columns a table may fill: the terminal's; for a pipe, COLUMNS when it is set (so a
    script can ask for a width), else the console's (250, see common)."""
    console = common.console
    if not console.is_terminal:
        raw = os.environ.get("COLUMNS", "")
        if raw.isdigit() and int(raw) > 0:
            return int(raw)
    return console.width


def fit_widths(natural: Sequence[int], columns: Sequence[Column], available: int) -> list[int]:
    """The width of each column so a line fits `available`; 0 for a column left out.

    `natural` is each column's widest cell (its header included).
    """
    widths = list(natural)
    floors = [
        width if column.identifies else min(width, max(column.min_width, len(column.header)))
        for width, column in zip(natural, columns, strict=True)
    ]

    def line() -> int:
        shown = [w for w in widths if w]
        return sum(shown) + GAP * (len(shown) - 1)

    excess = line() - available
    while excess > 0:
        cuttable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: (widths[i], i))
        widths[widest] -= 1
        excess -= 1
    # Still too long: leave columns out, the most expendable first, never one that identifies.
    order = sorted(
        (i for i, c in enumerate(columns) if not c.identifies),
        key=lambda i: (columns[i].drop, i),
        reverse=True,
    )
    for i in order:
        if line() <= available:
            break
        widths[i] = 0
    return widths


def _text(cell: Cell) -> Text:
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    # One row is one line: a stray newline in a value (a label, an error) becomes a space.
    return Text(" ").join(text.split("\n", allow_blank=True)) if "\n" in text.plain else text


@dataclass(frozen=True, slots=True)
class RenderedTable:
    """A table's lines, and the headers of the columns left out to fit."""

    lines: list[Text]
    left_out: list[str]


def render_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    width: int,
    headers: bool = True,
    wide: bool = False,
) -> RenderedTable:
    """The lines of a table: `rows` have a cell for every column, `wide` ones included."""
    shown = [i for i, c in enumerate(columns) if wide or not c.wide]
    cells = [[_text(row[i]) for i in shown] for row in rows]
    picked = [columns[i] for i in shown]
    head = [Text(c.header, style="bold") for c in picked]
    natural = [
        max([head[j].cell_len, *(line[j].cell_len for line in cells)]) for j in range(len(picked))
    ]
    widths = natural if wide else fit_widths(natural, picked, width)
    lines = []
    for line in [head, *cells] if headers else cells:
        visible = [(cell, w) for cell, w in zip(line, widths, strict=True) if w]
        for k, (cell, w) in enumerate(visible):
            if cell.cell_len > w:
                cell.truncate(w, overflow="ellipsis")
            if k < len(visible) - 1:  # no trailing spaces after the last column
                cell.pad_right(w - cell.cell_len)
        lines.append(Text(" " * GAP).join(cell for cell, _ in visible))
    left_out = [c.header for c, w in zip(picked, widths, strict=True) if not w]
    return RenderedTable(lines, left_out)


def print_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    headers: bool = True,
    wide: bool = False,
) -> None:
    """Print a table on stdout, fitted to the terminal (see the module's docstring).

    Columns left out to fit are named on stderr, only when it is a terminal (a person reads
    it; a script asked for its width with COLUMNS).
    """
    width = table_width()
    table = render_table(columns, rows, width=width, headers=headers, wide=wide)
    for line in table.lines:
        common.console.print(line, crop=False, overflow="ignore", no_wrap=True)
    if table.left_out and common.err_console.is_terminal:
        common.err_console.print(
            f"{', '.join(table.left_out)} left out to fit {width} columns: -o wide shows all",
            style="dim",
            markup=False,
        )
