"""`tagwatch report`: the security review of a period, to attach to an audit."""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from typing import Annotated

import typer

from tagwatch.app.context import command_settings, store_for
from tagwatch.app.report import audit_report
from tagwatch.cli.common import (
    ConfigOption,
    DbOption,
    handle_gate_errors,
    parse_refs,
    parse_when,
    print_json,
)
from tagwatch.cli.report_formats import report_html, report_json, report_markdown
from tagwatch.core.times import utcnow

__all__ = ["report"]


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"
    html = "html"


@handle_gate_errors
def report(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tags to review (default: every recorded tag).",
            metavar="REF",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(metavar="WHEN", help="The period: ISO 8601 or a span ago (30d, 2w).")
    ] = "30d",
    output: Annotated[
        ReportFormat, typer.Option("--output", "-o", help="markdown, json or html.")
    ] = ReportFormat.markdown,
    include_latest: Annotated[
        bool,
        typer.Option(
            "--include-latest",
            metavar="",
            help="Count `latest` as a release tag that must not move.",
        ),
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Review a period for security: what moved, what should never have, what was unsigned.

    From the recorded history alone (no registry is asked): the tag moves in the period;
    re-pushes of release tags (full semver, prod, stable; latest with --include-latest);
    rollbacks; moves to digests that failed their signing policy; images behind their base;
    skew episodes. Every row carries its evidence: digests, times, how it was seen.

    Exit code 0 when the period has no policy failure, 1 when a release tag was re-pushed or
    a new digest failed its signing policy, 2 for bad input or configuration (or a database
    that cannot be opened), 3 when it could not find out (the database failed while being
    read, or refused this role a table).

    Example: tagwatch report --since 30d -o markdown > audit-2026-11.md

    Example: tagwatch report ghcr.io/org/app:1.4.2 --since 2026-11-01 -o json
    """
    now = utcnow()
    parsed = [r.without_digest() for r in parse_refs(refs or [])]
    start = parse_when(since, now=now)
    settings = command_settings(config)
    with store_for(settings, db) as store:
        review = asyncio.run(
            audit_report(
                store=store,
                since=start,
                refs=parsed,
                include_latest=include_latest,
                now=lambda: now,
            )
        )
    if output is ReportFormat.json:
        print_json(report_json(review))
    elif output is ReportFormat.html:
        sys.stdout.write(report_html(review))
    else:
        sys.stdout.write(report_markdown(review))
    if review.failed:
        raise typer.Exit(1)
