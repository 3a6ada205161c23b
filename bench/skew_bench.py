"""Benchmark `tagwatch skew -A --offline -o json` over fixture clusters of 2k, 20k and 50k pods.

Run: uv run python bench/skew_bench.py --runs 3 --phases    (2k, 20k, 50k pods; ~3 minutes)
     uv run python bench/skew_bench.py --pods 20000 --runs 1 --no-kubectl

Each cluster has one workload per 10 pods (2,000 workloads at 20k pods: 90% Deployments with their
ReplicaSet, 10% StatefulSets; a quarter of them with a proxy sidecar on a shared tag), one node
per 100 pods listing up to 50 cached images, and is served by the project's fake read-only API
server (tests/support/kubeapi.py) from a child process on loopback. The history is 5,000 recorded
moves spread over the workloads' tags, recorded in SQLite through Store/classify as `tagwatch
check` would; a fifth of the tags are multi-arch indexes whose pods report the index digest
(containerd) or their node's platform child (docker-pullable), on amd64 and arm64 nodes (a quarter
arm64), so each pod resolves to its platform image. 5% of workloads are skewed (one pod on the
previous digest), 10% are uniform on a stale digest with imagePullPolicy Always (at risk). Wall
time, CPU time and peak RSS come from /usr/bin/time around a fresh `python -m tagwatch` process,
run with bytecode as an install has it (one untimed run writes it first);
`kubectl get pods -A -o json | jq` (the manual audit) is timed on the same server for comparison;
`--phases` splits one scan into open/read/join/JSON, wall and CPU seconds of the scanning process
(CPU is the figure a loaded machine inflates least). Prints Markdown tables for bench/RESULTS.md.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagwatch.app.context import open_store
from tagwatch.app.skew import report_json, scan_skew
from tagwatch.cluster import ClusterSettings, connect, read_snapshot
from tagwatch.core.digests import OCI_INDEX, OCI_MANIFEST, Digest
from tagwatch.core.moves import BuildInfo, Change, Observation, Sighting, TagHistory, classify
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tests.support import kube_fixtures as kf
from tests.support.kube_fixtures import C
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig

HOST = "registry.bench.example"
PODS_PER_WORKLOAD = 10
PODS_PER_NODE = 100
MOVES = 5_000
NOW = datetime.now(UTC).replace(microsecond=0)
EPOCH = NOW - timedelta(days=30)
PROXY = f"{HOST}/infra/proxy:1.30"

# The manual audit the incident write-ups do: per app label, the distinct imageIDs it runs.
JQ = (
    "[.items[] | {app: (.metadata.labels.app // .metadata.name), "
    "ids: [.status.containerStatuses[]?.imageID]}] "
    "| group_by(.app) | map({app: .[0].app, ids: ([.[].ids[]] | unique)}) "
    "| map(select(.ids | length > 1)) | length"
)


def digest(*parts: object) -> Digest:
    return Digest("sha256", hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest())


@dataclass
class Tag:
    """One workload's tag: its digests oldest first, and when each was first seen."""

    ref: ImageRef
    digests: list[Digest]
    seen: list[datetime]
    index: bool  # multi-arch: pods report the index (containerd) or their platform's child

    def child(self, d: Digest, arch: str = "amd64") -> Digest:
        return digest("child", d, f"linux/{arch}")

    def running_id(self, d: Digest, arch: str, by_child: bool) -> Digest:
        """What the runtime reports: the index under containerd, else the node's child."""
        return self.child(d, arch) if self.index and by_child else d

    def build(self, k: int) -> BuildInfo:
        d = self.digests[k]
        labels = {"org.opencontainers.image.revision": hashlib.sha1(str(d).encode()).hexdigest()}
        if self.index:
            platforms = {"linux/amd64": self.child(d), "linux/arm64": self.child(d, "arm64")}
            return BuildInfo(OCI_INDEX, platforms=platforms, labels=labels)
        return BuildInfo(OCI_MANIFEST, labels=labels)


def make_tags(workloads: int) -> list[Tag]:
    """`MOVES` moves spread over one tag per workload, at increasing times within 30 days."""
    per, extra = divmod(MOVES, workloads)
    span = (NOW - EPOCH) - timedelta(hours=2)
    tags: list[Tag] = []
    for i in range(workloads):
        moves = per + (1 if i < extra else 0)
        ref = ImageRef.parse(f"{HOST}/team{i % 40}/svc{i}:prod")
        step = span / (moves + 1)
        seen = [EPOCH + step * k + timedelta(seconds=i % 600) for k in range(moves + 1)]
        tags.append(Tag(ref, [digest(ref, k) for k in range(moves + 1)], seen, index=i % 5 == 0))
    return tags


def record(db: str, tags: list[Tag]) -> int:
    """Record every sighting through the store, as checks at each move (and one just now) would.

    Each digest is seen twice, 5 minutes apart, so every move has a real window.
    """
    store = Store.open(db)
    moves = 0
    proxy = ImageRef.parse(PROXY)
    try:
        with store.begin() as tx:
            for tag in [*tags, Tag(proxy, [digest(proxy, 0)], [EPOCH], index=False)]:
                sightings: list[Sighting] = []
                for k, (d, at) in enumerate(zip(tag.digests, tag.seen, strict=True)):
                    history = TagHistory(tag.ref, tuple(sightings))
                    first = Observation(tag.ref, d, at, build=tag.build(k))
                    move = classify(history, first)
                    tx.record(first, move)
                    moves += move.change is Change.MOVED
                    again = Observation(tag.ref, d, at + timedelta(minutes=5))
                    sightings.append(Sighting(d, at, again.seen_at))
                    tx.record(again, classify(TagHistory(tag.ref, tuple(sightings)), again))
                last = Observation(tag.ref, tag.digests[-1], NOW - timedelta(minutes=5))
                tx.record(last, classify(TagHistory(tag.ref, tuple(sightings)), last))
    finally:
        store.close()
    return moves


def make_cluster(pods: int, tags: list[Tag]) -> list[dict[str, Any]]:
    """Deployments (with a ReplicaSet) and StatefulSets, their pods, and nodes with image lists."""
    nodes = max(2, pods // PODS_PER_NODE)
    node_images: list[list[list[str]]] = [[] for _ in range(nodes)]
    objs: list[dict[str, Any]] = []
    n = 0
    for i, tag in enumerate(tags):
        name, ns = f"svc{i}", f"team{i % 40}"
        image = str(tag.ref)
        repo = tag.ref.name
        now_d, old_d = tag.digests[-1], tag.digests[-2] if len(tag.digests) > 1 else tag.digests[-1]
        last_move = tag.seen[-1]
        skewed, at_risk = i % 20 == 7, i % 10 == 3
        policy = "Always" if at_risk else "IfNotPresent"
        sidecar = i % 4 == 1
        specs = [C(name, image, pull_policy=policy)]
        if sidecar:
            specs.append(C("proxy", PROXY, pull_policy="IfNotPresent"))
        lab = {"app": name, "team": ns}
        sts = i % 10 == 9
        if sts:
            objs.append(kf.statefulset(name, ns, containers=specs, replicas=PODS_PER_WORKLOAD))
            owner = ("StatefulSet", name)
        else:
            rs = f"{name}-5d8f7b"
            objs.append(
                kf.deployment(name, ns, containers=specs, replicas=PODS_PER_WORKLOAD, labels=lab)
            )
            objs.append(
                kf.replicaset(
                    rs,
                    ns,
                    deployment=name,
                    template_hash="5d8f7b",
                    containers=specs,
                    replicas=PODS_PER_WORKLOAD,
                    labels=lab,
                )
            )
            owner = ("ReplicaSet", rs)
        for p in range(PODS_PER_WORKLOAD):
            stale = at_risk or (skewed and p == 0)
            d = old_d if stale else now_d
            started = last_move - timedelta(hours=1) if stale else last_move + timedelta(hours=1)
            node = n % nodes
            form: kf.ImageIdForm = "docker-pullable" if p % 3 == 0 else "containerd"
            running = tag.running_id(d, _arch(node), by_child=form == "docker-pullable")
            containers = [
                C(name, image, kf.image_id(repo, str(running), form), started, "running", policy)
            ]
            if sidecar:
                proxy_d = digest(ImageRef.parse(PROXY), 0)
                containers.append(
                    C(
                        "proxy",
                        PROXY,
                        kf.image_id(f"{HOST}/infra/proxy", str(proxy_d)),
                        started,
                        pull_policy="IfNotPresent",
                    )
                )
            pod_name = f"{name}-{'5d8f7b-' if not sts else ''}{p:05d}"
            objs.append(
                kf.pod(
                    pod_name,
                    ns,
                    owner=owner,
                    labels=lab,
                    node=f"node-{node:04d}",
                    containers=containers,
                    template_hash=None if sts else "5d8f7b",
                    revision_hash=f"{name}-7c9d" if sts else None,
                )
            )
            if len(node_images[node]) < 50:
                node_images[node].append([f"{repo}@{d}", image])
            n += 1
            if n >= pods:
                break
        if n >= pods:
            break
    for k, images in enumerate(node_images):
        objs.append(kf.node(f"node-{k:04d}", images=images, arch=_arch(k)))
    return objs


def _arch(node: int) -> str:
    """A quarter of the nodes are arm64, so multi-arch pods resolve to two platforms."""
    return "arm64" if node % 4 == 3 else "amd64"


@dataclass
class Measure:
    """One command: wall seconds, CPU seconds (user + sys, children included), peak RSS (KiB)."""

    wall: float
    cpu: float
    rss_kib: int
    stdout: str


def timed(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Measure:
    """Run `cmd` under /usr/bin/time. Peak RSS is the largest single process, not a sum."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%U %S %M", *cmd],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-800:]}")
    user, system, rss = proc.stderr.strip().splitlines()[-1].split()
    return Measure(wall, float(user) + float(system), int(rss), proc.stdout)


def summary(measures: list[Measure]) -> Measure:
    """Median wall and CPU, largest RSS."""
    return Measure(
        statistics.median(m.wall for m in measures),
        statistics.median(m.cpu for m in measures),
        max(m.rss_kib for m in measures),
        measures[-1].stdout,
    )


def _serve(objects: list[dict[str, Any]], urls: Any, stop: Any) -> None:
    with FakeKubeAPI(objects) as api:
        urls.put(api.url)
        stop.wait()


@contextmanager
def served(objects: list[dict[str, Any]]) -> Iterator[str]:
    """The fake API server in a child process, so it shares no GIL with the client it serves."""
    ctx = multiprocessing.get_context("fork")
    urls, stop = ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_serve, args=(objects, urls, stop), daemon=True)
    process.start()
    try:
        yield str(urls.get(timeout=60))
    finally:
        stop.set()
        process.join(timeout=10)


def phases(kubeconfig: Path, db: str) -> dict[str, float]:
    """Seconds per phase of one scan, in a fresh process as the CLI runs it: read, join, JSON."""
    proc = subprocess.run(
        [sys.executable, __file__, "--phases-of", str(kubeconfig), db],
        capture_output=True,
        text=True,
        check=True,
    )
    times: dict[str, float] = json.loads(proc.stdout)
    return times


def _phases_here(kubeconfig: str, db: str) -> dict[str, float]:
    """One scan as `tagwatch skew` runs it, with the cluster read timed inside scan_skew."""
    import msgspec

    import tagwatch.app.skew as app_skew

    read_s = read_cpu = 0.0
    reader = read_snapshot

    async def timed_read(*args: Any, **kwargs: Any) -> Any:
        nonlocal read_s, read_cpu
        t, c = time.perf_counter(), time.process_time()
        try:
            return await reader(*args, **kwargs)
        finally:
            read_s += time.perf_counter() - t
            read_cpu += time.process_time() - c

    app_skew.read_snapshot = timed_read  # type: ignore[attr-defined]

    async def go() -> dict[str, float]:
        start = time.perf_counter()
        client = connect(ClusterSettings(kubeconfig=kubeconfig))
        store = open_store(db)
        try:
            opened = time.perf_counter() - start
            t, c = time.perf_counter(), time.process_time()
            result = await scan_skew(cluster=client, store=store, registry=None, namespace=None)
            scan, scan_cpu = time.perf_counter() - t, time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            msgspec.json.format(msgspec.json.encode(report_json(result)), indent=2)
            out, out_cpu = time.perf_counter() - t, time.process_time() - c
        finally:
            store.close()
            await client.close()
        return {
            "open": opened,
            "read": read_s,
            "join": scan - read_s,
            "json": out,
            "read_cpu": read_cpu,
            "join_cpu": scan_cpu - read_cpu,
            "json_cpu": out_cpu,
        }

    return asyncio.run(go())


@dataclass
class Row:
    pods: int
    workloads: int
    nodes: int
    moves: int
    tagwatch: Measure
    findings: int
    skewed: int
    at_risk: int
    kubectl: Measure | None
    phases: dict[str, float]
    load: float


def run_size(pods: int, runs: int, tmp: Path, split: bool, kubectl: bool) -> Row:
    workloads = pods // PODS_PER_WORKLOAD
    tags = make_tags(workloads)
    db = f"sqlite:///{tmp / f'skew-{pods}.db'}"
    t = time.perf_counter()
    moves = record(db, tags)
    print(f"  recorded {moves} moves in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    objects = make_cluster(pods, tags)
    node_count = sum(1 for o in objects if o["kind"] == "Node")
    with served(objects) as url:
        kubeconfig = write_kubeconfig(tmp / f"kubeconfig-{pods}", [KubeContext("bench", url)])
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        # This sandbox sets PYTHONDONTWRITEBYTECODE, which makes every start compile the
        # package and its dependencies from source (~1.5 s); installs have bytecode, so
        # measure with it: one untimed run first writes it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmd = [
            sys.executable,
            "-m",
            "tagwatch",
            "skew",
            "-A",
            "--offline",
            "-o",
            "json",
            "--db",
            db,
        ]
        timed(cmd, env, ok=(0, 1))  # writes the bytecode; not counted
        load = os.getloadavg()[0]
        tagwatch = summary([timed(cmd, env, ok=(0, 1)) for _ in range(runs)])
        report = json.loads(tagwatch.stdout)
        split_s = phases(kubeconfig, db) if split else {}
        manual: Measure | None = None
        if kubectl and shutil.which("kubectl") and shutil.which("jq"):
            pipeline = f"kubectl get pods -A -o json --chunk-size=500 | jq '{JQ}'"
            bash = ["bash", "-o", "pipefail", "-c", pipeline]
            manual = summary([timed(bash, env) for _ in range(runs)])
    pods_seen = sum(
        len({p["name"] for p in w["pods"]})
        for w in report["workloads"]
        if w["container"] != "proxy"
    )
    assert pods_seen == pods, (pods_seen, pods)
    return Row(
        pods=pods,
        workloads=workloads,
        nodes=node_count,
        moves=moves,
        tagwatch=tagwatch,
        findings=len(report["workloads"]),
        skewed=report["skewed"],
        at_risk=report["at_risk"],
        kubectl=manual,
        phases=split_s,
        load=load,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, nargs="+", default=[2_000, 20_000, 50_000])
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median wall time)")
    parser.add_argument(
        "--no-kubectl", action="store_true", help="skip the kubectl | jq comparison"
    )
    parser.add_argument(
        "--phases", action="store_true", help="also time open / read / join / JSON of one scan"
    )
    parser.add_argument(
        "--phases-of", nargs=2, metavar=("KUBECONFIG", "DB"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.phases_of:
        print(json.dumps(_phases_here(*args.phases_of)))
        return
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for pods in args.pods:
            print(f"{pods} pods ...", file=sys.stderr)
            rows.append(run_size(pods, args.runs, Path(tmp), args.phases, not args.no_kubectl))
            r = rows[-1]
            t = r.tagwatch
            print(
                f"  tagwatch {t.wall:.2f} s wall, {t.cpu:.2f} s CPU, {t.rss_kib / 1024:.0f} MiB",
                file=sys.stderr,
            )
            if r.phases:
                split = ", ".join(f"{k} {v:.2f} s" for k, v in r.phases.items())
                print(f"  in-process phases: {split}", file=sys.stderr)
    print(
        f"| pods | workloads | nodes | moves | `tagwatch skew -A --offline -o json`: wall "
        f"(median of {args.runs}) | its CPU | its peak RSS | findings (skewed, at risk) | JSON "
        "| `kubectl get pods -A -o json \\| jq`: wall | its CPU | its peak RSS | load avg |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        t, k = r.tagwatch, r.kubectl
        manual = (
            f"{k.wall:.2f} s | {k.cpu:.2f} s | {k.rss_kib / 1024:.0f} MiB"
            if k is not None
            else "n/a | n/a | n/a"
        )
        print(
            f"| {r.pods:,} | {r.workloads:,} | {r.nodes} | {r.moves:,} | {t.wall:.2f} s | "
            f"{t.cpu:.2f} s | {t.rss_kib / 1024:.0f} MiB | {r.findings:,} ({r.skewed}, "
            f"{r.at_risk}) | {len(t.stdout.encode()) / 2**20:.0f} MiB | {manual} | {r.load:.1f} |"
        )
    if any(r.phases for r in rows):
        print(
            "\n| pods | open store + client | read cluster (lightkube, paged) "
            "| join (group, history, find_skew) | JSON | CPU of read / join / JSON |"
        )
        print("|---:|---:|---:|---:|---:|---|")
        for r in rows:
            p = r.phases
            print(
                f"| {r.pods:,} | {p['open']:.2f} s | {p['read']:.2f} s | {p['join']:.2f} s "
                f"| {p['json']:.2f} s | {p['read_cpu']:.2f} / {p['join_cpu']:.2f} / "
                f"{p['json_cpu']:.2f} s |"
            )


if __name__ == "__main__":
    main()
