"""`tagwatch watch add|list|remove`: which tags tagwatch keeps a history for."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tagwatch.app.context import command_settings, store_for, stored_watches
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
    table_time,
)
from tagwatch.cli.flags import FlagCommand, FlagGroup
from tagwatch.cli.tables import TIME_WIDTH, Column, print_table
from tagwatch.core.durations import parse_duration
from tagwatch.core.times import iso_utc
from tagwatch.errors import UsageError

watch_app = typer.Typer(help="Manage the watched tags.", no_args_is_help=True, cls=FlagGroup)


def _labels(raw: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"label {item!r} must be KEY=VALUE")
        labels[key] = value
    return labels


def _interval(raw: str | None) -> int | None:
    # The store keeps whole seconds; anything under one second polls every second.
    return None if raw is None else max(1, round(parse_duration(raw)))


@watch_app.command("add", cls=FlagCommand)
@handle_errors
def add(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tags to watch, e.g. nginx:1.27 ghcr.io/org/app:prod",
            metavar="REF",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            metavar="DURATION", help="Poll interval for `tagwatch run`, e.g. 5m or 1h30m."
        ),
    ] = None,
    label: Annotated[
        list[str], typer.Option("--label", "-l", metavar="KEY=VALUE", help="A label, repeatable.")
    ] = [],  # noqa: B006
    from_dockerfile: Annotated[
        list[Path] | None,
        typer.Option(
            "--from-dockerfile",
            metavar="FILE",
            help="Also watch the FROM images of this Dockerfile (repeatable): build stages "
            "and scratch skipped, ARGs taken at their defaults; labelled purpose=base-image "
            "unless --label purpose=... says otherwise.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Watch tags: record their digest history from now on.

    With `--from-dockerfile`, the base images a Dockerfile builds on are watched, so that
    `tagwatch drift` can match images against their builds and routes can send base moves
    to their own channel (label `purpose: base-image`). A FROM whose build argument has no
    default is reported, not watched.

    Example: tagwatch watch add nginx:1.27 ghcr.io/org/app:prod --label team=payments

    Example: tagwatch watch add --from-dockerfile Dockerfile
    """
    from tagwatch.app.base_tags import dockerfile_bases
    from tagwatch.app.bases import BASE_IMAGE_LABEL

    parsed = [(ref, _labels(label)) for ref in parse_refs(refs or [])]
    for path in from_dockerfile or []:
        found = dockerfile_bases(path)
        for problem in found.skipped:
            err_console.print(f"skipped {problem}", markup=False)
        base_labels = dict([BASE_IMAGE_LABEL]) | _labels(label)
        parsed += [(ref, base_labels) for ref in found.tags]
    if not parsed:
        raise UsageError("name images to watch, or a Dockerfile with --from-dockerfile")
    seconds = _interval(interval)
    with store_for(command_settings(config), db) as store, store.begin() as tx:
        added = [
            tx.add_watch(ref.without_digest(), interval_seconds=seconds, labels=labels)
            for ref, labels in parsed
        ]
    for (ref, _), new in zip(parsed, added, strict=True):
        console.print(f"{'watching' if new else 'updated'} {ref.without_digest()}", markup=False)


@watch_app.command("list", cls=FlagCommand)
@handle_errors
def list_(
    output: OutputOption = Output.table,
    no_headers: NoHeadersOption = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """List the watched tags: those of the configuration's `watches` and those added here.

    SOURCE says where each comes from: `config` (the file `tagwatch run` polls; a pattern like
    `repo:release-*` is listed as written) or `database` (`tagwatch watch add`).

    Example: tagwatch watch list --config tagwatch.yaml -o json
    """
    settings = command_settings(config)
    stored = stored_watches(settings, db)
    rows: list[dict[str, Any]] = [
        {
            "ref": w.ref,
            "source": "config",
            "interval_seconds": int(w.interval) if w.interval else None,
            "labels": dict(w.labels),
            "added_at": None,
        }
        for w in settings.watches
    ] + [
        {
            "ref": str(w.ref),
            "source": "database",
            "interval_seconds": w.interval_seconds,
            "labels": dict(w.labels),
            "added_at": iso_utc(w.added_at),
        }
        for w in stored
    ]
    if output.structured:
        print_data(rows, output)
        return
    added = {str(w.ref): table_time(w.added_at) for w in stored}
    print_table(
        _COLUMNS,
        [
            [
                str(row["ref"]),
                str(row["source"]),
                f"{row['interval_seconds']}s" if row["interval_seconds"] else "default",
                ",".join(f"{k}={v}" for k, v in row["labels"].items()) or "-",
                added[str(row["ref"])] if row["source"] == "database" else "-",
            ]
            for row in rows
        ],
        headers=not no_headers,
        wide=output.is_wide,
    )


_COLUMNS = (
    Column("REF", identifies=True),
    Column("SOURCE", min_width=8),
    Column("INTERVAL", min_width=8),
    Column("LABELS", drop=1),
    Column("ADDED", min_width=TIME_WIDTH),
)


@watch_app.command("remove", cls=FlagCommand)
@handle_errors
def remove(
    refs: Annotated[
        list[str], typer.Argument(help="Watched tags to stop watching.", metavar="REF")
    ],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Stop watching tags. Their recorded history is kept.

    Example: tagwatch watch remove nginx:1.27
    """
    parsed = parse_refs(refs)
    with store_for(command_settings(config), db) as store, store.begin() as tx:
        removed = [tx.remove_watch(ref.without_digest()) for ref in parsed]
    missing = [ref for ref, ok in zip(parsed, removed, strict=True) if not ok]
    for ref, ok in zip(parsed, removed, strict=True):
        if ok:
            console.print(f"removed {ref.without_digest()}", markup=False)
    for ref in missing:
        err_console.print(f"error: {ref.without_digest()} is not watched", markup=False)
    if missing:
        raise typer.Exit(1)
