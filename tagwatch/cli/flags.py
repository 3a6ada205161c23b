"""Flags shown as flags in `--help`: `--offline`, never `--offline <bool>`.

Typer 0.29 prints a type beside every option, a boolean flag's too, so `--help`, `--version`,
`--install-completion` and each of ours read as if they took a value. A flag takes none: the
command classes here give every flag an empty metavar, which Typer prints as nothing. Pass them
as `cls=` to `typer.Typer` (groups) and `.command()` (commands).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup, TyperOption

__all__ = ["FlagCommand", "FlagGroup"]


class _FlagsAsFlags:
    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:  # the help option is made here, on first use
            if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
                param.metavar = ""
        return params


class FlagCommand(_FlagsAsFlags, TyperCommand):
    """A Typer command whose flags show without a type."""


class FlagGroup(_FlagsAsFlags, TyperGroup):
    """A Typer group whose flags (`--help`, shell completion) show without a type."""
