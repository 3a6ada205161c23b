"""The `tagwatch` command: a thin Typer layer over tagwatch.app."""

from __future__ import annotations

import typer

from tagwatch import __version__
from tagwatch.cli.flags import FlagCommand, FlagGroup
from tagwatch.cli.lazy import LazyCommand, LazyGroup

#: Every command in `tagwatch --help` order, with the first paragraph of its help (a test
#: keeps each `summary` equal to the command's own). Its module is imported when it runs.
COMMANDS = (
    LazyCommand(
        "run",
        "tagwatch.cli.run:run",
        "Run the service: poll watches, take webhooks, deliver Slack alerts, serve metrics and "
        "API.",
    ),
    LazyCommand(
        "check",
        "tagwatch.cli.check:check",
        "Check tags now, record any move in the history, and print what changed.",
    ),
    LazyCommand(
        "history",
        "tagwatch.cli.history:history",
        "Show the audit trail of tag moves, oldest first.",
    ),
    LazyCommand(
        "backfill",
        "tagwatch.cli.backfill:backfill",
        "Date the first sighting of tags with no history from the vendor's API (Hub, GHCR, ECR).",
    ),
    LazyCommand(
        "skew",
        "tagwatch.cli.skew:skew",
        "Find replicas of one workload running different bytes under the same tag.",
    ),
    LazyCommand(
        "verify",
        "tagwatch.cli.verify:verify",
        "Gate a deploy: wait for the rollout, then pass only if every ready pod runs the tag's "
        "bytes.",
    ),
    LazyCommand(
        "lint",
        "tagwatch.cli.pin:lint",
        "Find every image reference in Kubernetes YAML and Dockerfiles, and flag unpinned tags.",
    ),
    LazyCommand(
        "pin",
        "tagwatch.cli.pin:pin",
        "Resolve each unpinned tag to the digest it points to now, and pin it.",
    ),
    LazyCommand(
        "drift",
        "tagwatch.cli.pin:drift",
        "Find images built on a base the base tag has since moved away from (security review).",
    ),
    LazyCommand(
        "report",
        "tagwatch.cli.report:report",
        "Review a period for security: what moved, what should never have, what was unsigned.",
    ),
    LazyCommand("watch", "tagwatch.cli.watch:watch_app", "Manage the watched tags."),
    LazyCommand("db", "tagwatch.cli.db:db_app", "Manage the database."),
    LazyCommand("config", "tagwatch.cli.config:config_app", "Check the configuration."),
)


class _Commands(LazyGroup, FlagGroup):
    lazy_commands = COMMANDS
    command_class = FlagCommand  # flags show as flags (`--offline`, not `--offline <bool>`)


app = typer.Typer(
    name="tagwatch",
    help="Watch image tags, keep their digest history, and find digest skew in Kubernetes.",
    cls=_Commands,
    no_args_is_help=True,
    add_completion=True,  # --install-completion and --show-completion, Typer's own
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
