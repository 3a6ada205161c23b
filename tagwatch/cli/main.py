"""The `tagwatch` command: a thin Typer layer over tagwatch.app."""

from __future__ import annotations

import typer

from tagwatch import __version__
from tagwatch.cli.backfill import backfill
from tagwatch.cli.check import check
from tagwatch.cli.config import config_app
from tagwatch.cli.db import db_app
from tagwatch.cli.history import history
from tagwatch.cli.pin import drift, lint, pin
from tagwatch.cli.report import report
from tagwatch.cli.run import run
from tagwatch.cli.skew import skew, verify
from tagwatch.cli.watch import watch_app

app = typer.Typer(
    name="tagwatch",
    help="Watch image tags, keep their digest history, and find digest skew in Kubernetes.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion and --show-completion, Typer's own
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(watch_app, name="watch")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.command("run")(run)
app.command("check")(check)
app.command("history")(history)
app.command("backfill")(backfill)
app.command("skew")(skew)
app.command("verify")(verify)
app.command("lint")(lint)
app.command("pin")(pin)
app.command("drift")(drift)
app.command("report")(report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tagwatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version.", metavar=""
    ),
) -> None:
    """tagwatch: a tag is a mutable pointer, a digest is the truth."""


def main() -> None:
    app()
