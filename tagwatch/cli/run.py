"""`tagwatch run`: the long-running service (scheduler, webhooks, API, metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tagwatch.app.settings import load_settings
from tagwatch.cli.common import ConfigOption, handle_errors

__all__ = ["run"]


@handle_errors
def run(
    config: ConfigOption = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="HOST:PORT for HTTP (default 127.0.0.1:8080, loopback).",
        ),
    ] = None,
) -> None:
    """Run the service: poll watches, take webhooks, deliver Slack alerts, serve metrics and API.

    Example: tagwatch run --config /etc/tagwatch/tagwatch.yaml --listen 0.0.0.0:8080
    """
    overrides: dict[str, Any] = {"listen": listen} if listen else {}
    settings = load_settings(Path(config) if config else None, **overrides)
    from tagwatch.web.server import serve

    serve(settings)
