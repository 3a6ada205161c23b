"""`tagwatch verify`: the post-deploy gate, a rollout waited for and every ready pod judged."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from tagwatch.app.verify import VerifyResult, parse_target, verify_workload
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
    LinesOutputOption,
    Output,
    console,
    err_console,
    handle_gate_errors,
    print_data,
    progress,
)
from tagwatch.core.durations import parse_duration
from tagwatch.core.rollouts import RolloutStatus

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = ["verify"]


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
    settings, where, entry = cluster_target(config, cluster, kubeconfig, context)
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

        result: VerifyResult = asyncio.run(with_cluster(where, db, settings, offline, work))
    for message in result.refresh_errors:
        err_console.print(f"warning: could not refresh {message}", markup=False)
    if output.structured:
        data = result.verdict.to_json()
        data["passed"] = result.passed
        data["timed_out"] = result.timed_out
        data["waited_seconds"] = round(result.waited, 3)
        data["refresh_errors"] = list(result.refresh_errors)
        print_json(data) if output is Output.json else print_data(data, output)
    else:
        _print_verdict(result)
    if result.passed:
        return
    if result.refresh_errors and not result.timed_out:
        raise typer.Exit(ExitCode.UNKNOWN)  # judged against history the registry could not confirm
    raise typer.Exit(ExitCode.FOUND)
