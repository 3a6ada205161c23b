"""`tagwatch skew`: digest skew in the cluster, as a table, JSON or lines."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from tagwatch.app.collector import pause_cycle_collector
from tagwatch.app.skew import ScanResult, report_json, scan_skew
from tagwatch.cli.cluster_target import (
    ClusterOption,
    ContextOption,
    KubeconfigOption,
    NamespaceOption,
    OfflineOption,
    cluster_target,
    print_json,
    with_cluster,
)
from tagwatch.cli.common import (
    ConfigOption,
    DbOption,
    ExitCode,
    NoHeadersOption,
    Output,
    OutputOption,
    console,
    err_console,
    handle_gate_errors,
    print_data,
    progress,
    table_time,
)
from tagwatch.cli.tables import DIGEST_WIDTH, Cell, Column, digest_cell, print_table, ref_cell
from tagwatch.core.skew import PodState, WorkloadFinding
from tagwatch.core.workloads import ImageKey
from tagwatch.errors import UsageError

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = ["skew"]


def _status(f: WorkloadFinding) -> str:
    if f.skewed:
        return "[bold red]SKEWED[/]"
    if f.stuck_rollout:
        return "[bold red]STUCK[/]"
    if f.at_risk:
        return "[bold yellow]AT RISK[/]"
    if any(p.state is PodState.STALE for p in f.pods):
        return "[yellow]stale[/]"
    if not f.rollout.complete:
        return "[cyan]rolling out[/]"
    if f.pods and all(p.state is PodState.UNKNOWN for p in f.pods):
        return "[dim]unknown[/]"
    return "[green]ok[/]"


_COLUMNS = (
    Column("NAMESPACE", identifies=True),
    Column("WORKLOAD", identifies=True),
    Column("CONTAINER", identifies=True),
    # On a narrow screen the verdict stays longest; the digests and the image go first.
    Column("IMAGE", min_width=12, drop=2),
    Column("STATUS", min_width=11),
    Column("RUNNING", min_width=DIGEST_WIDTH, drop=1),
    Column("TAG NOW", min_width=DIGEST_WIDTH, drop=3),
    Column("PODS", wide=True),
    Column("NODES", wide=True),
    Column("PLATFORMS", wide=True),
)


def _row(f: WorkloadFinding, *, wide: bool) -> list[Cell]:
    def digest(key: ImageKey) -> str:
        return str(key) if wide else f"{key.short}…"

    running = ", ".join(f"{digest(d)} x{len(p)}" for d, p in f.digests.items()) or "-"
    nodes = sorted({p.node for p in f.pods if p.node})
    platforms = sorted({str(p.platform) for p in f.pods if p.platform})
    ready = sum(1 for p in f.pods if p.ready)
    return [
        f.key.namespace,
        f"{f.key.kind.lower()}/{f.key.name}",
        f.container,
        ref_cell(f.image, wide=wide),
        Text.from_markup(_status(f)),
        running,
        digest_cell(f.tag_digest_now, wide=wide),
        f"{ready}/{len(f.pods)} ready",
        ",".join(nodes) or "-",
        ",".join(platforms) or "-",
    ]


def _print_table(result: ScanResult, *, headers: bool = True, wide: bool = False) -> None:
    report = result.report
    rows = [_row(f, wide=wide) for f in report.findings]
    print_table(_COLUMNS, rows, headers=headers, wide=wide)
    for f in report.findings:
        if not (f.skewed or f.at_risk or f.stuck_rollout):
            continue
        title = "skewed" if f.skewed else "rollout stuck" if f.stuck_rollout else "at risk"
        console.print(
            f"\n[bold]{f.key.kind.lower()}/{f.key.name} -n {f.key.namespace}[/] "
            f"container {f.container} ({f.image}): {title}",
        )
        for reason in f.reasons:
            console.print(f"  {reason}", markup=False)
        if f.risk:
            console.print(f"  {f.risk}", markup=False)
        for p in f.pods:
            digest = p.digest.short if p.digest else "unknown"
            console.print(
                f"  {p.name} on {p.node or '?'}: {digest} [{p.state.value}] {p.explanation}",
                markup=False,
            )
        rollout = "complete" if f.rollout.complete else "NOT complete"
        console.print(f"  rollout: {rollout} ({f.rollout.reason})", markup=False)
        for template, keys in f.templates.items():
            runs = ", ".join(k.short for k in keys)
            console.print(f"  template {template} runs {runs}", markup=False)
        if f.last_move_at:
            recent = " (re-pushed within 24h)" if f.repushed_recently else ""
            console.print(f"  tag last moved: {table_time(f.last_move_at)}{recent}", markup=False)
        for fix in f.remediation:
            console.print(f"  fix: {fix}", markup=False)
    skewed = sum(1 for f in report.findings if f.skewed)
    risky = sum(1 for f in report.findings if f.at_risk)
    stuck = sum(1 for f in report.findings if f.stuck_rollout)
    console.print(
        f"\n{len(report.findings)} workload containers, {skewed} skewed, {risky} at risk, "
        f"{stuck} in a stuck rollout",
        markup=False,
    )
    blind = sum(1 for f in report.findings if f.pods and _no_history(f))
    if blind:
        console.print(
            f"{blind} without recorded history for their tag: run without --offline, or "
            "`tagwatch check REF`",
            markup=False,
        )


def _no_history(f: WorkloadFinding) -> bool:
    return f.tag_digest_now is None and "@" not in f.image


@handle_gate_errors
def skew(
    namespace: NamespaceOption = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", metavar="", help="Scan every namespace.")
    ] = False,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    selector: Annotated[
        str | None,
        typer.Option(
            "--selector",
            "-l",
            metavar="SELECTOR",
            help="Label selector for pods, e.g. app=web,tier!=db.",
        ),
    ] = None,
    offline: OfflineOption = False,
    output: OutputOption = Output.table,
    no_headers: NoHeadersOption = False,
    cluster: ClusterOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Find replicas of one workload running different bytes under the same tag.

    Groups pods by their owner (Deployment, StatefulSet, DaemonSet, Job, CronJob, bare pod),
    refreshes the tags they run from the registry (unless --offline), and cross-references
    each container with its tag's history: current, stale, ahead or unknown, with the move that
    explains it, the nodes a new pod would pull different bytes on, and the fix.

    A rollout that gave up (a Deployment past its progress deadline or paused mid-rollout, a
    StatefulSet or DaemonSet update with no new pod for 10 minutes) is a finding too; a
    partitioned StatefulSet or a rollout within its deadline is not.

    Exit code 0 when no workload is skewed or stuck, 1 when any is, 2 for bad input or
    configuration (or a database that cannot be opened), 3 when it could not find out: the
    cluster is unreachable or refuses, or a tag could not be refreshed from its registry.

    Example: tagwatch skew -A --context prod -o json
    """
    if namespace and all_namespaces:
        raise UsageError("use either --namespace or --all-namespaces, not both")
    settings, where, entry = cluster_target(config, cluster, kubeconfig, context)
    if entry is not None:
        selector = selector or entry.selector
        if not namespace and not all_namespaces:
            namespace, all_namespaces = entry.namespace, entry.namespace is None

    async def work(
        client: AsyncClient, store: Store, registry: RegistryClient | None
    ) -> ScanResult:
        ns = None if all_namespaces else (namespace or client.namespace)
        return await scan_skew(
            cluster=client, store=store, registry=registry, namespace=ns, selector=selector
        )

    # Paused for the whole command, the output too: it builds as many objects as the scan.
    with pause_cycle_collector():
        with progress("reading pods and refreshing their tags…"):
            result: ScanResult = asyncio.run(with_cluster(where, db, settings, offline, work))
        for message in result.refresh_errors:
            err_console.print(f"warning: could not refresh {message}", markup=False)
        if output is Output.yaml:
            print_data(report_json(result), output)
        elif output is Output.json:
            print_json(report_json(result))
        else:
            _print_table(result, headers=not no_headers, wide=output.is_wide)
    if result.report.failed:
        raise typer.Exit(ExitCode.FOUND)
    if result.refresh_errors:
        raise typer.Exit(ExitCode.UNKNOWN)
