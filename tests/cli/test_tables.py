"""Tables people can read on an 80-column terminal: a row is one line, the columns that identify
it are whole, the rest are cut or left out; wider terminals show more; `-o wide` shows every
column with whole values (tagwatch.cli.tables is the one rule)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text
from typer.testing import CliRunner

from tagwatch.cli import common
from tagwatch.cli.main import app
from tagwatch.cli.tables import GAP, Column, fit_widths, ref_cell, render_table
from tests.support.registry import TestRegistry

COLUMNS = (
    Column("REF", identifies=True),
    Column("CHANGE", min_width=10),
    Column("DIGEST", min_width=13),
    Column("REVISION", drop=1),
    Column("SOURCE", wide=True),
)
ROW = [
    "127.0.0.1:5000/shop/checkout-service:prod",
    "first_seen",
    "3f1c2a9b8d7e…",
    "0123456789abcdef0123456789abcdef01234567",
    "https://github.com/org/checkout",
]


def _plain(width: int, *, wide: bool = False) -> list[str]:
    return [line.plain for line in render_table(COLUMNS, [ROW], width=width, wide=wide).lines]


def test_a_wide_terminal_shows_every_value_whole_but_not_the_wide_columns() -> None:
    header, row = _plain(200)
    assert header.split() == ["REF", "CHANGE", "DIGEST", "REVISION"]
    assert row.split() == ROW[:4]


def test_at_80_columns_the_ref_is_whole_and_the_rest_is_cut_to_fit() -> None:
    header, row = _plain(80)
    assert len(header) <= 80 and len(row) <= 80
    ref, change, digest, revision = row.split()
    assert (ref, change, digest) == tuple(ROW[:3])  # kept at their min_width
    assert revision.endswith("…") and ROW[3].startswith(revision[:-1])


def test_when_cutting_is_not_enough_whole_columns_go_the_most_expendable_first() -> None:
    header, row = _plain(60)
    assert header.split() == ["REF", "CHANGE"] and len(row) <= 60
    assert render_table(COLUMNS, [ROW], width=60).left_out == ["DIGEST", "REVISION"]
    assert _plain(10)[1] == ROW[0]  # the ref stays whole even when it alone is too long


def test_o_wide_adds_the_wide_columns_and_cuts_nothing() -> None:
    header, row = _plain(80, wide=True)
    assert header.split() == ["REF", "CHANGE", "DIGEST", "REVISION", "SOURCE"]
    assert row.split() == ROW


def test_no_headers_leaves_out_the_header_line_only() -> None:
    [row] = render_table(COLUMNS, [ROW], width=200, headers=False).lines
    assert row.plain.split() == ROW[:4]


def test_a_value_with_a_newline_stays_on_its_row() -> None:
    table = render_table(COLUMNS, [[*ROW[:3], "fix\nbuild", "-"]], width=200, headers=False)
    assert [line.plain.split()[-2:] for line in table.lines] == [["fix", "build"]]


def test_a_pinned_reference_keeps_repository_and_tag_and_shortens_the_digest() -> None:
    ref = "ghcr.io/org/app:prod@sha256:" + "ab" * 32
    assert ref_cell(ref) == "ghcr.io/org/app:prod@sha256:" + "ab" * 6 + "…"
    assert ref_cell(ref, wide=True) == ref
    assert ref_cell("ghcr.io/org/app:prod") == "ghcr.io/org/app:prod"


@given(
    natural=st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=9),
    available=st.integers(min_value=20, max_value=300),
    data=st.data(),
)
def test_fitted_widths_fit_and_never_touch_an_identifying_column(
    natural: list[int], available: int, data: st.DataObject
) -> None:
    identifies = data.draw(st.lists(st.booleans(), min_size=len(natural), max_size=len(natural)))
    columns = [Column(f"C{i}", identifies=k) for i, k in enumerate(identifies)]
    widths = fit_widths(natural, columns, available)
    for width, want, column in zip(widths, natural, columns, strict=True):
        assert 0 <= width <= want
        if column.identifies:
            assert width == want
    shown = [w for w in widths if w]
    fixed = sum(w for w, c in zip(natural, columns, strict=True) if c.identifies)
    fixed += GAP * (sum(identifies) - 1) if any(identifies) else 0
    if fixed <= available:
        assert sum(shown) + GAP * (len(shown) - 1) <= available
    if sum(natural) + GAP * (len(natural) - 1) <= available:
        assert widths == natural  # nothing is cut when everything fits


def _cli(*args: str, columns: int) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def recorded(registry: TestRegistry, tmp_path: Path) -> tuple[str, str]:
    """A database with one watched tag, checked twice across a re-push, and the tag."""
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    # 127.0.0.1:PORT/shop/web-…:prod: about as long as a ghcr.io/org/app:prod reference
    repo = f"shop/web-{uuid.uuid4().hex[:6]}"
    ref = f"{registry.host}/{repo}:prod"
    registry.push_image(repo, "prod", content="v1")
    _cli("watch", "add", ref, "--label", "team=payments", "--db", db, columns=200)
    _cli("check", ref, "--db", db, columns=200)
    registry.push_image(repo, "prod", content="v2")
    return db, ref


COMMANDS = [["check"], ["history"], ["watch", "list"], ["drift"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_table_fits_80_columns_with_each_ref_whole(
    recorded: tuple[str, str], command: list[str]
) -> None:
    db, ref = recorded
    narrow = _cli(*command, "--db", db, columns=80).splitlines()
    assert narrow and all(len(line) <= 80 for line in narrow), narrow
    rows = narrow[1:]
    assert rows and all(ref in row for row in rows), rows
    roomy = _cli(*command, "--db", db, columns=200).splitlines()
    assert len(roomy) == len(narrow)  # no row folded over two lines, at either width
    assert len(roomy[0].split()) >= len(narrow[0].split())  # more room, no fewer columns


def test_history_shows_more_on_a_wider_terminal_and_everything_with_o_wide(
    recorded: tuple[str, str],
) -> None:
    db, ref = recorded
    _cli("check", ref, "--db", db, columns=200)  # records the re-push
    narrow = _cli("history", ref, "--db", db, columns=80)
    roomy = _cli("history", ref, "--db", db, columns=200)
    assert "SIGNATURE" in roomy and "SIGNATURE" not in narrow
    moves = json.loads(_cli("history", ref, "-o", "json", "--db", db, columns=80))
    for line, move in zip(narrow.splitlines()[1:], moves, strict=True):
        assert len(line) <= 80 and ref in line and move["detected_at"][:19] in line
        assert f"{move['to_digest'][7:19]}…" in line  # what it points to, 12 hex characters
    wide = _cli("history", ref, "-o", "wide", "--db", db, columns=80).splitlines()
    assert "WINDOW START" in wide[0] and "SIGNED BY" in wide[0]
    for line, move in zip(wide[1:], moves, strict=True):
        assert move["to_digest"] in line  # whole digests, sha256: and all
        assert move["detected_at"][:19] in line and "." not in line.split()[0]  # seconds


def test_a_terminal_console_of_80_columns_fits_too(
    recorded: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, ref = recorded
    out = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=out, width=80, force_terminal=True))
    monkeypatch.delenv("COLUMNS", raising=False)
    result = CliRunner().invoke(app, ["check", ref, "--db", db])
    assert result.exit_code == 0, result.output
    lines = Text.from_ansi(out.getvalue()).plain.splitlines()
    assert len(lines) == 2 and all(len(line) <= 80 for line in lines) and ref in lines[1]


def test_a_person_at_a_terminal_is_told_what_was_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tagwatch.cli.tables import print_table

    for terminal in (True, False):
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(common, "console", Console(file=out, width=60))
        monkeypatch.setattr(common, "err_console", Console(file=err, force_terminal=terminal))
        monkeypatch.delenv("COLUMNS", raising=False)
        print_table(COLUMNS, [ROW])
        assert "REVISION" not in out.getvalue()
        said = Text.from_ansi(err.getvalue()).plain
        assert ("DIGEST, REVISION left out to fit 60 columns" in said) is terminal, said
