"""`tagwatch skew` and `tagwatch verify`: digest skew in the cluster, and the post-deploy gate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import msgspec
import typer
from rich.text import Text

from tagwatch.app.collector import pause_cycle_collector
from tagwatch.app.context import cluster_client, command_settings, store_maybe_registry
from tagwatch.app.skew import ScanResult, report_json, scan_skew
from tagwatch.app.verify import VerifyResult, parse_target, verify_workload
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
    handle_gate_errors,
    print_data,
    progress,
    table_time,
)
from tagwatch.cli.tables import DIGEST_WIDTH, Cell, Column, digest_cell, print_table, ref_cell
from tagwatch.cluster import ClusterSettings
from tagwatch.core.durations import parse_duration
from tagwatch.core.rollouts import RolloutStatus
from tagwatch.core.skew import PodState, WorkloadFinding
from tagwatch.core.workloads import ImageKey
from tagwatch.errors import UsageError

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from tagwatch.app.settings import ClusterEntry, Settings
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = ["skew", "verify"]

T = TypeVar("T")

NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        metavar="NAME",
        help="Namespace (default: the context's).",
        show_default=False,
    ),
]
ContextOption = Annotated[
    str | None,
    typer.Option(
        "--context", metavar="NAME", help="kubeconfig context to use.", show_default=False
    ),
]
KubeconfigOption = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config).",
        show_default=False,
    ),
]
OfflineOption = Annotated[
    bool,
    typer.Option(
        "--offline", metavar="", help="Use only the recorded history; do not ask the registries."
    ),
]


def _print_json(data: object) -> None:
    """Indented JSON, encoded natively: a 20,000-pod report prints in milliseconds."""
    raw = msgspec.json.format(msgspec.json.encode(data), indent=2)
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(raw.decode() + "\n")
        return
    sys.stdout.flush()
    buffer.write(raw)
    buffer.write(b"\n")
    buffer.flush()


ClusterOption = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="NAME",
        help="A cluster named in the configuration's `clusters` (its kubeconfig, context, "
        "namespace and selector; flags override them). Default: the only one configured.",
        show_default=False,
    ),
]


def _cluster_entry(settings: Settings, name: str | None, explicit: bool) -> ClusterEntry | None:
    """The configured cluster to use: the one named, else the only one (unless flags say where)."""
    if name is None:
        if explicit or len(settings.clusters) != 1:
            return None
        return settings.clusters[0]
    for entry in settings.clusters:
        if entry.name == name:
            return entry
    known = ", ".join(c.name for c in settings.clusters) or "none configured"
    raise UsageError(f"--cluster {name!r} is not in the configuration's clusters ({known})")


def _target(
    config: str | None, cluster: str | None, kubeconfig: str | None, context: str | None
) -> tuple[Settings, ClusterSettings, ClusterEntry | None]:
    """The configuration, where the cluster is (flags over the configured entry), the entry."""
    settings = command_settings(config)  # a bad config fails before anything is touched
    entry = _cluster_entry(settings, cluster, explicit=bool(kubeconfig or context))
    if entry is not None:
        kubeconfig = kubeconfig or entry.kubeconfig
        context = context or entry.context
    return settings, ClusterSettings(kubeconfig=kubeconfig, context=context), entry


async def _with_cluster(
    cluster: ClusterSettings,
    db: str | None,
    settings: Settings,
    offline: bool,
    work: Callable[..., Awaitable[T]],
) -> T:
    """Open the store, the cluster client and (unless offline) the registry client around `work`."""
    async with (
        cluster_client(cluster) as client,
        store_maybe_registry(settings, db, offline=offline) as (store, registry),
    ):
        return await work(client, store, registry)


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
    settings, where, entry = _target(config, cluster, kubeconfig, context)
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
            result: ScanResult = asyncio.run(_with_cluster(where, db, settings, offline, work))
        for message in result.refresh_errors:
            err_console.print(f"warning: could not refresh {message}", markup=False)
        if output is Output.yaml:
            print_data(report_json(result), output)
        elif output is Output.json:
            _print_json(report_json(result))
        else:
            _print_table(result, headers=not no_headers, wide=output.is_wide)
    if result.report.failed:
        raise typer.Exit(ExitCode.FOUND)
    if result.refresh_errors:
        raise typer.Exit(ExitCode.UNKNOWN)


def _print_verdict(result: VerifyResult) -> None:
    v = result.verdict
    name = f"{v.key.kind.lower()}/{v.key.name} -n {v.key.namespace}"
    if result.timed_out:
        console.print(
            f"[bold red]FAIL[/] {name}: rollout did not complete within the timeout "
            f"({v.rollout.reason})"
        )
    elif v.passed:
        console.print(f"[bold green]PASS[/] {name}: {v.ready_pods} ready pods")
    elif v.rollout.complete:
        console.print(f"[bold red]FAIL[/] {name}: rollout complete, but the pods do not match")
    else:
        console.print(f"[bold red]FAIL[/] {name}: {v.rollout.reason}")
    if v.ready_pods == 0:
        console.print("  no ready pods", markup=False)
    for c in v.containers:
        want = str(c.expected) if c.expected else "unknown"
        if c.passed:
            console.print(f"  {c.container} ({c.image}): runs {want}", markup=False)
            continue
        console.print(f"  {c.container} ({c.image}): {c.problem}", markup=False)
        for fix in c.fix:
            console.print(f"    fix: {fix}", markup=False)


@handle_gate_errors
def verify(
    target: Annotated[
        str,
        typer.Argument(help="The workload: deployment/web, sts/db, ds/agent.", metavar="KIND/NAME"),
    ],
    namespace: NamespaceOption = None,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout", metavar="DURATION", help="How long to wait for the rollout (90s, 5m, 1h)."
        ),
    ] = "5m",
    interval: Annotated[
        str, typer.Option("--interval", metavar="DURATION", help="How often to poll the rollout.")
    ] = "2s",
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    offline: OfflineOption = False,
    output: LinesOutputOption = Output.table,
    cluster: ClusterOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Gate a deploy: wait for the rollout, then pass only if every ready pod runs the tag's bytes.

    Passes (exit 0) when the rollout completed (kubectl's rule) and, for each container, every
    ready pod runs what its tag points to now (refreshed from the registry unless --offline)
    or the pinned digest, platform for platform: the target's image for the pod's node
    platform, so an index pushed again with only its attestations changed passes and one
    amd64 pod on an older amd64 image fails. Otherwise exit 1 with what differs and the fix;
    exit 2 for bad input or configuration (or a database that cannot be opened); exit 3 when
    it could not find out (the cluster unreachable or refusing, nodes included, or a tag that
    could not be refreshed from its registry). Run it right after kubectl apply.

    Example: tagwatch verify deployment/web -n shop --timeout 5m
    """
    kind, name = parse_target(target)
    wait_for = parse_duration(timeout, allow_zero=True)
    every = parse_duration(interval)
    settings, where, entry = _target(config, cluster, kubeconfig, context)
    if entry is not None:
        namespace = namespace or entry.namespace

    with progress(f"waiting for {kind.lower()}/{name} to roll out (up to {timeout})…") as status:

        def waiting(rollout: RolloutStatus) -> None:  # kubectl rollout status's own words
            status.line(
                f'Waiting for {kind.lower()} "{name}" rollout to finish: {rollout.reason}...'
            )

        async def work(
            client: AsyncClient, store: Store, registry: RegistryClient | None
        ) -> VerifyResult:
            return await verify_workload(
                cluster=client,
                store=store,
                registry=registry,
                kind=kind,
                name=name,
                namespace=namespace or client.namespace,
                wait_for=wait_for,
                interval=every,
                on_wait=waiting,
            )

        result: VerifyResult = asyncio.run(_with_cluster(where, db, settings, offline, work))
    for message in result.refresh_errors:
        err_console.print(f"warning: could not refresh {message}", markup=False)
    if output.structured:
        data = result.verdict.to_json()
        data["passed"] = result.passed
        data["timed_out"] = result.timed_out
        data["waited_seconds"] = round(result.waited, 3)
        data["refresh_errors"] = list(result.refresh_errors)
        _print_json(data) if output is Output.json else print_data(data, output)
    else:
        _print_verdict(result)
    if result.passed:
        return
    if result.refresh_errors and not result.timed_out:
        raise typer.Exit(ExitCode.UNKNOWN)  # judged against history the registry could not confirm
    raise typer.Exit(ExitCode.FOUND)
