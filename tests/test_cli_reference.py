"""docs/cli.md is every command's --help as the code has it, and every command shows an example."""

from __future__ import annotations

from pathlib import Path

import pytest
from cogapp import Cog

from tests.support.cli_reference import command_paths, help_text

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_the_cli_reference_is_generated_from_the_current_help() -> None:
    status = Cog().main(["cog", "--check", str(DOC)])
    assert status == 0, "docs/cli.md is stale: run `uv run cog -r docs/cli.md`"


def test_the_reference_covers_every_command() -> None:
    text = DOC.read_text()
    for path in command_paths():
        assert f"## `tagwatch {' '.join(path)}`" in text


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_every_command_help_shows_an_example(path: list[str]) -> None:
    assert "Example: tagwatch " in help_text(path), f"tagwatch {' '.join(path)} has no example"
