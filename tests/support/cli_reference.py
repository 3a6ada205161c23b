"""The CLI reference in docs/cli.md: every command's --help, as a user sees it.

Generated with cog (`uv run cog -r docs/cli.md`); `tests/test_cli_reference.py` fails when the
file is stale, and when a command's help has no example.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from tagwatch.cli.main import app

__all__ = ["command_paths", "help_text", "reference"]

#: Fixed so the file does not depend on the terminal it was generated in.
_ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1", "TERM": "dumb"}


def command_paths() -> Iterator[list[str]]:
    """Every command, subcommands included, in the order `tagwatch --help` lists them."""
    root = typer.main.get_command(app)

    def walk(group: Any, prefix: list[str]) -> Iterator[list[str]]:
        for name, command in group.commands.items():
            if command.hidden:
                continue
            if hasattr(command, "commands"):  # a group (Typer vendors its own click)
                yield from walk(command, [*prefix, name])
            else:
                yield [*prefix, name]

    yield from walk(root, [])


def help_text(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=_ENV, terminal_width=100)
    assert result.exit_code == 0, result.output
    return "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())


def reference() -> str:
    """The Markdown body between the cog markers of docs/cli.md."""
    parts = ["## `tagwatch`\n", "```text", help_text([]), "```\n"]
    for path in command_paths():
        parts += [f"## `tagwatch {' '.join(path)}`\n", "```text", help_text(path), "```\n"]
    return "\n".join(parts)
