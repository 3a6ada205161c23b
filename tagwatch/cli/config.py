"""`tagwatch config validate`: check a configuration file before deploying it."""

from __future__ import annotations

from pathlib import Path

import typer

from tagwatch.app.settings import load_settings
from tagwatch.cli.common import ConfigOption, console, err_console
from tagwatch.errors import ConfigError

__all__ = ["config_app"]

config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True)


@config_app.command("validate")
def validate(config: ConfigOption = None) -> None:
    """Print OK, or one line per problem with its location (exit 2).

    Example: tagwatch config validate --config config/tagwatch.example.yaml
    """
    try:
        load_settings(Path(config) if config else None)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            err_console.print(line, markup=False)
        raise typer.Exit(2) from None
    console.print("OK")
