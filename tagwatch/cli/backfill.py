"""`tagwatch backfill`: date the first sighting of unrecorded tags from their vendor's API."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.text import Text

from tagwatch.app.backfill import BackfillResult, run_backfill
from tagwatch.app.context import command_settings, store_and_registry, vendor_apis
from tagwatch.app.progress import ProgressHook
from tagwatch.cli.common import (
    ConfigOption,
    DbOption,
    NoHeadersOption,
    Output,
    OutputOption,
    console,
    err_console,
    handle_errors,
    parse_refs,
    print_data,
    progress,
    table_time,
)
from tagwatch.cli.tables import DIGEST_WIDTH, TIME_WIDTH, Column, digest_cell, print_table
from tagwatch.core.references import ImageRef

_STYLE = {
    "backfilled": "green",
    "already_recorded": "dim",
    "mismatch": "bold yellow",
}


async def _backfill(
    refs: list[ImageRef], db: str | None, config: str | None, on_progress: ProgressHook
) -> list[BackfillResult]:
    settings = command_settings(config)  # a bad config fails before the database is touched
    async with (
        store_and_registry(settings, db) as (store, registry),
        vendor_apis(os.environ) as providers,
    ):
        return await run_backfill(
            refs, providers=providers, registry=registry, store=store, on_progress=on_progress
        )


_COLUMNS = (
    Column("REF", identifies=True),
    Column("STATUS", min_width=16),
    Column("DIGEST", min_width=DIGEST_WIDTH),
    Column("SINCE", min_width=TIME_WIDTH),
    Column("CERTAIN", min_width=7),
    Column("REGISTRY DIGEST", wide=True),
)


@handle_errors
def backfill(
    refs: Annotated[
        list[str],
        typer.Argument(help="Tags to backfill (docker.io, ghcr.io, ECR).", metavar="REF"),
    ],
    output: OutputOption = Output.table,
    no_headers: NoHeadersOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Date the first sighting of tags with no history from the vendor's API (Hub, GHCR, ECR).

    For a tag tagwatch has never recorded, ask the vendor when it was pushed and what digest it
    has, check that digest with the registry now, and record one sighting from the push time
    on: pods started before the first poll are then judged, not `unknown`. Tags with history
    are never rewritten. GHCR needs GITHUB_TOKEN (read:packages); ECR the AWS credential chain.
    Exit code 0 when every tag was backfilled or already recorded, 1 otherwise, 2 for bad input.

    Example: tagwatch backfill nginx:1.27 ghcr.io/org/app:prod -o json
    """
    parsed = parse_refs(refs)
    with progress(f"backfilling {len(parsed)} tags from their vendors' APIs…") as status:
        results = asyncio.run(_backfill(parsed, db, config, status.count))
    if output.structured:
        print_data([r.to_json() for r in results], output)
    else:
        wide = output.is_wide
        print_table(
            _COLUMNS,
            [
                [
                    str(r.ref),
                    Text(r.status.value, style=_STYLE.get(r.status.value, "bold red")),
                    digest_cell(r.digest, wide=wide),
                    table_time(r.since),
                    "-" if r.certain is None else ("yes" if r.certain else "approx."),
                    digest_cell(r.registry_digest, wide=wide),
                ]
                for r in results
            ],
            headers=not no_headers,
            wide=wide,
        )
        for r in results:
            if r.status.value != "already_recorded":
                stream = console if r.ok else err_console
                stream.print(f"{r.ref}: {r.message}", markup=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)
