"""What every command shares: options, output formats, time parsing, errors into exit codes."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from tagwatch.cli.progress import Progress, progress_on
from tagwatch.core import times
from tagwatch.core.references import ImageRef
from tagwatch.errors import (
    ClusterAccessDenied,
    ClusterUnreachable,
    RegistryError,
    StoreError,
    StoreUnusable,
    TagwatchError,
    UsageError,
)

__all__ = [
    "ConfigOption",
    "DbOption",
    "ExitCode",
    "LinesOutputOption",
    "NoHeadersOption",
    "Output",
    "OutputOption",
    "TabularOutput",
    "console",
    "err_console",
    "handle_errors",
    "handle_gate_errors",
    "parse_refs",
    "parse_tag",
    "parse_when",
    "print_data",
    "print_json",
    "print_nothing_to_do",
    "print_yaml_documents",
    "progress",
    "table_time",
]

# The check cycle logs each tag that failed, for the service's log. Every command prints those
# failures itself, so a CLI user (no logging configured: Python's last-resort handler) saw each
# one two or three times. A NullHandler stops the last resort; records still propagate to any
# handler that is configured (tagwatch run's, pytest's).
for _name in ("tagwatch.app.check", "tagwatch.app.skew"):
    logging.getLogger(_name).addHandler(logging.NullHandler())

# Piped output keeps whole references and digests instead of folding them to 80 columns.
_WIDTH = None if sys.stdout.isatty() else 250
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="URL",
        envvar="TAGWATCH_DATABASE_URL",
        help="Database URL (default: sqlite:///tagwatch.db; postgresql://… for production).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        metavar="FILE",
        envvar="TAGWATCH_CONFIG",
        help="tagwatch YAML configuration (registries, credentials, watches).",
        show_default=False,
    ),
]


class _OutputKinds:
    """What an `--output` choice asks for; shared by the enums of choices below."""

    value: str

    @property
    def structured(self) -> bool:
        """JSON or YAML: the same data, for scripts (`print_data`)."""
        return self.value in ("json", "yaml")

    @property
    def is_wide(self) -> bool:
        """`-o wide`: the table with every column and whole values (tagwatch.cli.tables)."""
        return self.value == "wide"


class Output(_OutputKinds, StrEnum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


class TabularOutput(_OutputKinds, StrEnum):
    """For listings that also make sense as CSV (the audit trail)."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    csv = "csv"


OutputOption = Annotated[
    Output,
    typer.Option(
        "--output", "-o", help="wide: more columns, whole values; json, yaml: for scripts."
    ),
]
#: For commands that print lines, not a table: `wide` prints them as `table` does.
LinesOutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="json, yaml: for scripts (wide: as table).")
]
NoHeadersOption = Annotated[
    bool,
    typer.Option(
        "--no-headers", metavar="", help="Print tables without their header row (for scripts)."
    ),
]


def table_time(when: datetime | None) -> str:
    """A time in a table: ISO 8601 UTC to the second, `2026-11-29T10:00:00Z` (JSON has it all)."""
    return times.iso_seconds(when) if when else "-"


class ExitCode(IntEnum):
    """What the gates (`skew`, `verify`, `drift`, `lint`, `report`) answer, for CI to branch on."""

    CLEAN = 0  # nothing found
    FOUND = 1  # skew, a failed rollout, drift, an unpinned image
    USAGE = 2  # bad input or configuration, a database that cannot be opened
    UNKNOWN = 3  # could not find out: a cluster or registry unreachable, access denied


# What a gate could not find out: not a finding (1), not bad input (2). A workload that does
# not exist is a ClusterError too, but a definite answer, so it stays 1. A database that
# opened and then failed (gone mid-read, permission denied) is an outage too; one that cannot
# be opened at all (StoreUnusable) is configuration: 2.
_OUTAGES = (RegistryError, ClusterUnreachable, ClusterAccessDenied, StoreError)


def _is_outage(exc: TagwatchError) -> bool:
    return isinstance(exc, _OUTAGES) and not isinstance(exc, StoreUnusable)


P = ParamSpec("P")
R = TypeVar("R")


def _handler(outage: ExitCode | None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except TagwatchError as exc:
                err_console.print(f"error: {exc}", markup=False)
                code = exc.exit_code
                if outage is not None and _is_outage(exc):
                    code = outage
                raise typer.Exit(code) from None
            except KeyboardInterrupt:
                err_console.print("interrupted")
                raise typer.Exit(130) from None

        return wrapper

    return decorate


#: A TagwatchError becomes one line on stderr and its exit code (2 usage, 1 failure).
handle_errors = _handler(None)
#: For the deploy gates: as handle_errors, but an unreachable or refusing registry, cluster or
#: database is exit 3 (could not find out), never 1 (found something).
handle_gate_errors = _handler(ExitCode.UNKNOWN)


@contextmanager
def progress(message: str) -> Iterator[Progress]:
    """A status line on stderr while long work runs, like `kubectl rollout status`; only when
    stderr is a terminal, so nothing extra reaches a pipe or a CI log. The block gets a
    `Progress` to update it (`.count(done, total)`, or lines that stay with `.line`)."""
    with progress_on(err_console, message) as status:
        yield status


def parse_refs(raw: Sequence[str]) -> list[ImageRef]:
    """Parse every tag reference before anything is written, so one bad one changes nothing.

    Every command taking these works on tags (history is kept per tag), so a reference
    pinned to a digest alone (`repo@sha256:…`) is refused here, as bad input.
    """
    return [parse_tag(r) for r in raw]


def parse_tag(raw: str) -> ImageRef:
    """One tag reference (`repo:tag`, or `repo:tag@sha256:…`); UsageError for a bare digest."""
    ref = ImageRef.parse(raw)
    if ref.tag is None:
        raise UsageError(
            f"{raw} is pinned to a digest and has no tag: name the tag (REPO:TAG) instead"
        )
    return ref


def parse_when(raw: str, *, now: datetime) -> datetime:
    """An ISO 8601 time (UTC when no zone is given) or a span ago: `90m`, `2h`, `7d`."""
    try:
        return times.parse_when(raw, now=now)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def print_data(data: Any, output: Output | TabularOutput) -> None:
    """`-o json` or `-o yaml`: the same data either way."""
    if output.value == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        print_json(data)


def print_nothing_to_do(what: str, output: Output | TabularOutput) -> None:
    """Say on stderr there is nothing to `what` and how to add tags; structured output gets an
    empty array (scripts piping into jq get `[]`, not empty input)."""
    err_console.print(f"nothing to {what}: add tags with `tagwatch watch add REF` or name them")
    if output.structured:
        print_data([], output)


def print_yaml_documents(documents: Sequence[Any]) -> None:
    """Documents as one multi-document YAML stream, key order kept (for `kubectl apply -f -`)."""
    import yaml  # only the commands that print YAML pay for the import

    class _Dumper(yaml.SafeDumper):
        pass

    def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # Multi-line text (a Rego module) as a literal block, readable as it will be applied.
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _text)
    sys.stdout.write(
        yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)
    )
