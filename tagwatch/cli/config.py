"""`tagwatch config validate`: check a configuration file before deploying it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tagwatch.app.settings import Settings, load_settings
from tagwatch.cli.common import ConfigOption, console, err_console, print_json
from tagwatch.cli.flags import FlagCommand, FlagGroup
from tagwatch.errors import ConfigError

__all__ = ["config_app"]

config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True, cls=FlagGroup)


@config_app.command("validate", cls=FlagCommand)
def validate(
    config: ConfigOption = None,
    schema: Annotated[
        bool,
        typer.Option(
            "--schema",
            metavar="",
            help="Print the JSON Schema of the configuration instead (for editors).",
        ),
    ] = False,
) -> None:
    """Print OK, or one line per problem with its location (exit 2).

    `--schema` prints the JSON Schema of the whole file, made from the same model that
    validates it, so an editor can complete and check `tagwatch.yaml` as you type.

    Example: tagwatch config validate --config config/tagwatch.example.yaml

    Example: tagwatch config validate --schema > tagwatch.schema.json
    """
    if schema:
        print_json(Settings.model_json_schema())
        return
    try:
        load_settings(Path(config) if config else None)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            err_console.print(line, markup=False)
        raise typer.Exit(2) from None
    console.print("OK")
