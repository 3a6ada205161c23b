"""`tagwatch watch add|list|remove`: which tags tagwatch keeps a history for."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer
from rich.table import Table

from tagwatch.app.context import open_store
from tagwatch.cli.common import DbOption, Output, console, err_console, handle_errors, parse_refs
from tagwatch.errors import UsageError

watch_app = typer.Typer(help="Manage the watched tags.", no_args_is_help=True)


def _labels(raw: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"label {item!r} must be KEY=VALUE")
        labels[key] = value
    return labels


def _interval(raw: str | None) -> int | None:
    if raw is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = raw[:-1], raw[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise UsageError(f"interval {raw!r} must be a positive duration like 30s, 5m or 1h")
    return int(number) * units[unit]


@watch_app.command("add")
@handle_errors
def add(
    refs: Annotated[
        list[str], typer.Argument(help="Image references, e.g. nginx:1.27 ghcr.io/org/app:prod")
    ],
    interval: Annotated[
        str | None, typer.Option(help="Poll interval for `tagwatch run`, e.g. 5m.")
    ] = None,
    label: Annotated[list[str], typer.Option("--label", "-l", help="KEY=VALUE, repeatable.")] = [],  # noqa: B006
    db: DbOption = None,
) -> None:
    """Watch tags: record their digest history from now on.

    Example: tagwatch watch add nginx:1.27 ghcr.io/org/app:prod --label team=payments
    """
    parsed = parse_refs(refs)
    labels = _labels(label)
    seconds = _interval(interval)
    with closing(open_store(db)) as store, store.begin() as tx:
        added = [
            tx.add_watch(ref.untagged(), interval_seconds=seconds, labels=labels) for ref in parsed
        ]
    for ref, new in zip(parsed, added, strict=True):
        console.print(f"{'watching' if new else 'updated'} {ref.untagged()}", markup=False)


@watch_app.command("list")
@handle_errors
def list_(
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.table,
    db: DbOption = None,
) -> None:
    """List the watched tags.

    Example: tagwatch watch list -o json
    """
    with closing(open_store(db)) as store, store.begin() as tx:
        watches = tx.watches()
    if output is Output.json:
        from tagwatch.cli.common import print_json

        print_json(
            [
                {
                    "ref": str(w.ref),
                    "interval_seconds": w.interval_seconds,
                    "labels": dict(w.labels),
                    "added_at": w.added_at.isoformat(),
                }
                for w in watches
            ]
        )
        return
    table = Table("REF", "INTERVAL", "LABELS", "ADDED", box=None)
    for w in watches:
        table.add_row(
            str(w.ref),
            f"{w.interval_seconds}s" if w.interval_seconds else "default",
            ",".join(f"{k}={v}" for k, v in w.labels.items()),
            w.added_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@watch_app.command("remove")
@handle_errors
def remove(
    refs: Annotated[list[str], typer.Argument(help="Watched references to stop watching.")],
    db: DbOption = None,
) -> None:
    """Stop watching tags. Their recorded history is kept.

    Example: tagwatch watch remove nginx:1.27
    """
    parsed = parse_refs(refs)
    with closing(open_store(db)) as store, store.begin() as tx:
        removed = [tx.remove_watch(ref.untagged()) for ref in parsed]
    missing = [ref for ref, ok in zip(parsed, removed, strict=True) if not ok]
    for ref, ok in zip(parsed, removed, strict=True):
        if ok:
            console.print(f"removed {ref.untagged()}", markup=False)
    for ref in missing:
        err_console.print(f"error: {ref.untagged()} is not watched", markup=False)
    if missing:
        raise typer.Exit(1)
