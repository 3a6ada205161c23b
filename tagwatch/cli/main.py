"""The `tagwatch` command: a thin Typer layer over tagwatch.app."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tagwatch",
    help="Watch image tags, keep their digest history, and find digest skew in Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    app()
