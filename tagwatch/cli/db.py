"""`tagwatch db upgrade`: apply the database migrations."""

from __future__ import annotations

import typer

from tagwatch.app.context import command_settings
from tagwatch.cli.common import ConfigOption, DbOption, console, handle_errors
from tagwatch.cli.flags import FlagCommand, FlagGroup
from tagwatch.store import database_url, upgrade

db_app = typer.Typer(help="Manage the database.", no_args_is_help=True, cls=FlagGroup)


@db_app.command("upgrade", cls=FlagCommand)
@handle_errors
def upgrade_(db: DbOption = None, config: ConfigOption = None) -> None:
    """Upgrade the database schema to the latest version (safe to run again).

    Example: tagwatch db upgrade --config /etc/tagwatch/tagwatch.yaml

    Example: tagwatch db upgrade --db postgresql://tagwatch@db:5432/tagwatch
    """
    url = database_url(db or command_settings(config).database_url)
    upgrade(url)
    console.print("database is at the latest schema")
