"""`tagwatch check`: ask the registries now, record what moved, print it."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.text import Text

from tagwatch.app.check import CheckResult, run_check
from tagwatch.app.context import command_settings, judge_for, registry_client, store_for
from tagwatch.app.progress import ProgressHook
from tagwatch.cli.common import (
    ConfigOption,
    DbOption,
    NoHeadersOption,
    Output,
    OutputOption,
    err_console,
    handle_errors,
    parse_refs,
    print_data,
    print_nothing_to_do,
    progress,
    table_time,
)
from tagwatch.cli.tables import DIGEST_WIDTH, Column, digest_cell, print_table
from tagwatch.core.references import ImageRef

_STYLE = {
    "moved": "bold yellow",
    "repointed": "bold magenta",
    "deleted": "bold red",
    "restored": "bold cyan",
    "first_seen": "green",
    "unchanged": "dim",
    "error": "bold red",
}


async def _check(
    refs: list[ImageRef], db: str | None, config: str | None, on_progress: ProgressHook
) -> list[CheckResult]:
    settings = command_settings(config)  # a bad config fails before the database is touched
    judge = judge_for(settings.signing)
    with store_for(settings, db) as store:
        if not refs:
            with store.begin() as tx:
                refs = [w.ref for w in tx.watches()]
        if not refs:
            return []
        async with registry_client(settings.registry_settings()) as registry:
            return await run_check(
                refs, registry=registry, store=store, signatures=judge, on_progress=on_progress
            )


_COLUMNS = (
    Column("REF", identifies=True),
    Column("CHANGE", min_width=10),
    Column("DIGEST", min_width=DIGEST_WIDTH),
    Column("PREVIOUS", min_width=DIGEST_WIDTH, drop=1),
    Column("PLATFORMS"),
    Column("REVISION", drop=2),
    Column("SOURCE", wide=True),
    Column("DETECTED", wide=True),
)


def _print_table(results: list[CheckResult], *, headers: bool, wide: bool) -> None:
    rows = []
    for r in results:
        row = r.to_json()
        change = row["change"]
        platforms = row["platforms"]
        rows.append(
            [
                row["ref"],
                Text(change, style=_STYLE.get(change, "")),
                digest_cell(r.digest, wide=wide),
                digest_cell(r.move.from_digest if r.move else None, wide=wide),
                (",".join(platforms) if wide else str(len(platforms))) if platforms else "-",
                (row["revision"] or "-") if wide else (row["revision"] or "-")[:12],
                row["source"] or "-",
                table_time(r.move.detected_at if r.move else None),
            ]
        )
    print_table(_COLUMNS, rows, headers=headers, wide=wide)


@handle_errors
def check(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tags to check (default: every watched tag).", metavar="REF", show_default=False
        ),
    ] = None,
    output: OutputOption = Output.table,
    no_headers: NoHeadersOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Check tags now, record any move in the history, and print what changed.

    A signing policy in the configuration (`signing:`) is checked on every digest a tag moves
    to: a digest that is unsigned or wrongly signed is reported and fails the check.

    Exit code 0 when every check succeeded, 1 when any failed (or a new digest failed its
    signing policy), 2 for bad input.

    Example: tagwatch check nginx:1.27 ghcr.io/org/app:prod -o json
    """
    parsed = parse_refs(refs or [])
    with progress(f"checking {len(parsed) or 'the watched'} tags…") as status:
        results = asyncio.run(_check(parsed, db, config, status.count))
    if not results:
        print_nothing_to_do("check", output)
        return
    if output.structured:
        print_data([r.to_json() for r in results], output)
    else:
        _print_table(results, headers=not no_headers, wide=output.is_wide)
    for r in results:  # with -o json too: the JSON has the error, stderr says it for humans
        if r.error:
            err_console.print(f"error: {r.ref}: {r.error}", markup=False)
        if r.signature is not None and r.signature.failed and r.digest is not None:
            err_console.print(
                f"{r.signature.status.value}: {r.ref} now points to {r.digest.short}: "
                f"{r.signature.reason} (signing policy {r.signature.policy})",
                markup=False,
            )
    if any(r.error or (r.signature is not None and r.signature.failed) for r in results):
        raise typer.Exit(1)
