"""`tagwatch lint`, `pin` and `drift`: keep tags out of manifests, and bases fresh."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape
from rich.text import Text

from tagwatch.app.context import command_settings, store_and_registry, store_maybe_registry
from tagwatch.app.drift import DriftResult, find_drift
from tagwatch.app.pin import (
    PinAction,
    PinReport,
    PinResult,
    SourceFile,
    lint_json,
    load_files,
    pin_files,
    write_files,
)
from tagwatch.app.progress import ProgressHook
from tagwatch.cli.common import (
    ConfigOption,
    DbOption,
    ExitCode,
    LinesOutputOption,
    NoHeadersOption,
    Output,
    OutputOption,
    console,
    err_console,
    handle_errors,
    handle_gate_errors,
    parse_refs,
    print_data,
    print_nothing_to_do,
    print_yaml_documents,
    progress,
    table_time,
)
from tagwatch.cli.tables import (
    DIGEST_WIDTH,
    TIME_WIDTH,
    Cell,
    Column,
    digest_cell,
    print_table,
    ref_cell,
)
from tagwatch.core.admission import DEFAULT_EXCLUDED_NAMESPACES, PolicyEngine, policy_documents
from tagwatch.core.image_uses import RefKind, UseState, consequence
from tagwatch.core.references import ImageRef
from tagwatch.errors import UsageError

__all__ = ["drift", "lint", "pin"]

FilesArgument = Annotated[
    list[str],
    typer.Argument(
        help="Kubernetes YAML files, Dockerfiles, or directories holding them.",
        metavar="FILE",
        show_default=False,
    ),
]

_STATE_STYLE = {
    "pinned": "green",
    "unpinned": "bold yellow",
    "unresolvable": "magenta",
    "invalid": "bold red",
}
_ACTION_STYLE = {
    "pin": "yellow",
    "ok": "green",
    "drift": "bold red",
    "update": "bold yellow",
    "pinned": "green",
    "skipped": "magenta",
    "error": "bold red",
}
_DRIFT_STYLE = {"behind": "bold red", "current": "green", "unknown": "dim", "error": "bold red"}


@handle_gate_errors
def lint(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Kubernetes YAML files, Dockerfiles, or directories holding them.",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    output: LinesOutputOption = Output.table,
    policy: Annotated[
        PolicyEngine | None,
        typer.Option(
            "--policy",
            help="Print the admission policy that enforces digests in the cluster "
            "(kyverno or gatekeeper) instead of linting files.",
            show_default=False,
        ),
    ] = None,
    exclude_namespaces: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-namespace",
            metavar="NAME",
            help="With --policy: a namespace the policy leaves alone (repeatable; "
            "default kube-system).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Find every image reference in Kubernetes YAML and Dockerfiles, and flag unpinned tags.

    Reads Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs and any
    podSpec-shaped `containers`/`initContainers`/`ephemeralContainers` (multi-document YAML),
    Kustomize `images:`, and Dockerfile `FROM` (with `--platform`, stages, build args) and
    `COPY --from=`. Each tag-only reference is reported with file:line and what its pull
    policy means. No network.

    Exit code 0 when every reference is pinned to a digest, 1 when any is not (or is not a
    valid reference), 2 when a file cannot be read or parsed. Only regular files are read:
    FIFOs, devices and files over 8 MiB are reported and skipped.
    lint never asks a registry, so it never answers 3.

    With --policy, print instead the Kyverno ClusterPolicy or the Gatekeeper
    ConstraintTemplate and Constraint that refuse tag-only images in every container list
    (containers, initContainers, ephemeralContainers), ready for `kubectl apply -f -`.

    Example: tagwatch lint k8s/deployment.yaml Dockerfile -o json

    Example: tagwatch lint --policy kyverno --exclude-namespace kube-system | kubectl apply -f -
    """
    if policy is not None:
        if files:
            raise UsageError("--policy prints a policy and reads no files: drop the FILE arguments")
        excluded = DEFAULT_EXCLUDED_NAMESPACES if exclude_namespaces is None else exclude_namespaces
        print_yaml_documents(policy_documents(policy, excluded))
        return
    if exclude_namespaces is not None:
        raise UsageError("--exclude-namespace only applies with --policy")
    if not files:
        raise UsageError("give the files to lint (or --policy kyverno|gatekeeper)")
    sources = _load(files)
    uses = [u for f in sources for u in f.uses]
    unpinned = [u for u in uses if u.state is UseState.UNPINNED]
    invalid = [u for u in uses if u.state is UseState.INVALID]
    if output.structured:
        print_data([lint_json(u) for u in uses], output)
    else:
        # One line per problem, as compilers print them, so editors and CI can jump to it.
        for u in uses:
            if u.state is UseState.PINNED:
                continue
            state = u.state.value
            console.print(
                f"{escape(u.location)}:{u.column}: [{_STATE_STYLE[state]}]{state}[/] "
                f"{escape(u.raw)} ({escape(u.where)}): {escape(consequence(u))}"
            )
        summary = f"{len(uses)} image references in {len(sources)} files: {len(unpinned)} unpinned"
        err_console.print(summary + (f", {len(invalid)} invalid" if invalid else ""), markup=False)
    if unpinned or invalid:
        raise typer.Exit(ExitCode.FOUND)


def _load(files: list[str]) -> list[SourceFile]:
    """The files to read; those skipped (FIFOs, devices, too large) are said on stderr."""
    loaded = load_files(files)
    for skipped in loaded.skipped:
        err_console.print(f"warning: {skipped}", markup=False)
    return loaded.files


async def _pin(
    sources: list[SourceFile],
    db: str | None,
    config: str | None,
    update: bool,
    on_progress: ProgressHook,
) -> PinReport:
    settings = command_settings(config)  # a bad config fails before the database is touched
    async with store_and_registry(settings, db) as (store, registry):
        return await pin_files(
            sources, registry=registry, store=store, update=update, on_progress=on_progress
        )


@handle_errors
def pin(
    files: FilesArgument,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            metavar="",
            help="Rewrite the files in place (only the image values; all or nothing).",
        ),
    ] = False,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            metavar="",
            help="Re-pin references whose tag has moved away from their pinned digest.",
        ),
    ] = False,
    output: LinesOutputOption = Output.table,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Resolve each unpinned tag to the digest it points to now, and pin it.

    Every tag is resolved concurrently and recorded in the history (like `tagwatch check`).
    Prints the `repo:tag@sha256:…` replacement of each reference; `--write` rewrites the files
    atomically, changing nothing but the image values, and only when every reference
    resolved. Pinned `repo:tag@digest` references are verified: a tag that now points
    elsewhere is drift, re-pinned only with `--update`.

    Exit code 0 when all resolved (and nothing drifted), 1 when any reference failed to
    resolve or drifted, 2 for unreadable files or bad YAML.

    Example: tagwatch pin k8s/ Dockerfile --write
    """
    sources = _load(files)
    count = sum(len(f.uses) for f in sources)
    with progress(f"resolving {count} image references in {len(sources)} files…") as status:
        report = asyncio.run(_pin(sources, db, config, update, status.count))
    if write and not report.failed:
        write_files(sources, report)
    if output.structured:
        data = {"results": [r.to_json() for r in report.results], "written": report.written}
        print_data(data, output)
    else:
        # One line per reference; a pin shows the replacement value as it goes in the file.
        for r in report.results:
            action = r.action.value
            where = f"{escape(r.use.location)}: [{_ACTION_STYLE[action]}]{action}[/]"
            if r.replacement is not None:
                line = f"{where} {_field(r)}: {escape(r.replacement)}"
            else:
                line = f"{where} {escape(r.use.raw)}"
            if r.message:
                line += f": {escape(r.message)}"
            if r.moved_at is not None:
                line += f" (tag moved {table_time(r.moved_at)})"
            console.print(line)
        for name in report.written:
            err_console.print(f"wrote {name}", markup=False)
    if report.failed:
        if write:
            err_console.print("error: nothing written: some references did not resolve")
        raise typer.Exit(1)
    if any(r.action is PinAction.DRIFT for r in report.results):
        raise typer.Exit(1)


def _field(result: PinResult) -> str:
    kind = result.use.kind
    if kind is RefKind.KUSTOMIZE:
        return "kustomize"
    return (
        "FROM" if kind is RefKind.FROM else "COPY --from" if kind is RefKind.COPY_FROM else "image"
    )


async def _drift(
    refs: list[ImageRef], db: str | None, config: str | None, offline: bool
) -> list[DriftResult]:
    settings = command_settings(config)  # a bad config fails before the database is touched
    async with store_maybe_registry(settings, db, offline=offline) as (store, registry):
        return await find_drift(refs, store=store, registry=registry)


@handle_gate_errors
def drift(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Images to review (default: every watched tag).",
            metavar="REF",
            show_default=False,
        ),
    ] = None,
    output: OutputOption = Output.table,
    no_headers: NoHeadersOption = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            metavar="",
            help="Use only the recorded history; do not ask the registries.",
        ),
    ] = False,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Find images built on a base the base tag has since moved away from (security review).

    Finds each image's base by the first rule that names one: the
    `org.opencontainers.image.base.name`/`.base.digest` annotations; BuildKit's provenance
    attestation (the base image among the build's materials); or its layers (its first layers
    are the whole layer list of a recorded build of a watched tag, the longest such). Then it
    checks the base tag now (unless `--offline`; provenance needs the registry) and reports
    images still built on an old base: since when the base moved, and how many base moves
    behind they are. Rebuild those. Watch base tags with `tagwatch watch add BASE` or
    `tagwatch watch add --from-dockerfile Dockerfile`.

    Exit code 0 when no image is behind, 1 when any is, 2 for bad input or configuration (or
    a database that cannot be opened), 3 when it could not find out for some image (its
    registry unreachable or refusing, or never checked with --offline).

    Example: tagwatch drift ghcr.io/org/app:prod -o json
    """
    with progress("reviewing base images…"):
        results = asyncio.run(_drift(parse_refs(refs or []), db, config, offline))
    if not results:
        print_nothing_to_do("review", output)
        return
    if output.structured:
        print_data([r.to_json() for r in results], output)
    else:
        _print_drift(results, headers=not no_headers, wide=output.is_wide)
        for r in results:
            reason = r.error or (r.drift.reason if r.drift else "")
            if reason and (r.error or r.behind):
                err_console.print(
                    f"{'error' if r.error else 'note'}: {r.ref}: {reason}", markup=False
                )
    if any(r.behind for r in results):
        raise typer.Exit(ExitCode.FOUND)
    if any(r.error for r in results):
        raise typer.Exit(ExitCode.UNKNOWN)


_DRIFT_COLUMNS = (
    Column("IMAGE", identifies=True),
    Column("STATE", min_width=7),
    Column("BASE", min_width=12),
    Column("BUILT ON", min_width=DIGEST_WIDTH),
    Column("BASE NOW", min_width=DIGEST_WIDTH, drop=1),
    Column("BEHIND", min_width=6),
    Column("BASE MOVED", min_width=TIME_WIDTH, drop=2),
    Column("FOUND BY", min_width=6),
    Column("REBUILD", min_width=3),
    Column("BUILD CURRENT FROM", wide=True),
    Column("BASE LAST MOVED", wide=True),
    Column("DIGEST", wide=True),
    Column("REASON", wide=True),
)


def _print_drift(results: list[DriftResult], *, headers: bool, wide: bool) -> None:
    rows: list[list[Cell]] = []
    for r in results:
        d = r.drift
        behind = f"{d.moves_behind}{'' if d.exact else '+'}" if r.behind and d is not None else "-"
        rows.append(
            [
                str(r.ref),
                Text(r.state, style=_DRIFT_STYLE[r.state]),
                ref_cell(str(d.base), wide=wide) if d and d.base else "-",
                digest_cell(d.base_digest if d else None, wide=wide),
                digest_cell(d.base_now if d else None, wide=wide),
                behind,
                table_time(d.moved_at) if d else "-",
                d.found_by.value if d and d.found_by else "-",
                "yes" if r.behind else "no" if r.state == "current" else "-",
                table_time(d.current_from) if d else "-",
                table_time(d.last_moved_at) if d else "-",
                digest_cell(d.digest if d else None, wide=wide),
                r.error or (d.reason if d else None) or "-",
            ]
        )
    print_table(_DRIFT_COLUMNS, rows, headers=headers, wide=wide)
