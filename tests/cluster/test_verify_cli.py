"""`tagwatch verify`: the post-deploy gate against a fixture cluster and real registry histories."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.support import kube_fixtures as kf
from tests.support.cluster import Cli, Kube, ProdTag
from tests.support.kube_fixtures import C

M = timedelta(minutes=1)


def _web(
    image: str, image_ids: list[str], started: datetime, **deployment: Any
) -> list[dict[str, Any]]:
    lab = {"app": "web"}
    objs = [
        kf.deployment(
            "web",
            "shop",
            containers=[C("web", image)],
            replicas=len(image_ids),
            labels=lab,
            **deployment,
        ),
        kf.replicaset(
            "web-6c7d",
            "shop",
            deployment="web",
            template_hash="6c7d",
            containers=[C("web", image)],
            labels=lab,
        ),
    ]
    for i, image_id in enumerate(image_ids):
        objs.append(
            kf.pod(
                f"web-6c7d-{i}",
                "shop",
                owner=("ReplicaSet", "web-6c7d"),
                template_hash="6c7d",
                labels=lab,
                containers=[C("web", image, image_id, started)],
            )
        )
    return objs


def _verify(cli: Cli, k: Kube, *flags: str, code: int, target: str = "deployment/web") -> Any:
    """`tagwatch verify <target> -n shop <flags> -o json` against the cluster `k`."""
    return cli.json(
        "verify", target, "-n", "shop", *flags, "--kubeconfig", str(k.kubeconfig), code=code
    )


def test_verify_passes_when_every_ready_pod_runs_what_the_tag_points_to(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1 = prod.push("v1", at=t0)
    k = kube(
        _web(prod.ref, [prod.pod_image(v1), f"docker-pullable://{prod.pod_image(v1)}"], t0 + M)
    )
    out = _verify(cli, k, code=0)
    assert out["passed"] is True and out["timed_out"] is False
    assert out["ready_pods"] == 2
    [web] = out["containers"]
    assert web["expected"] == str(v1)
    assert web["digests"] == {str(v1): ["web-6c7d-0", "web-6c7d-1"]}
    table = cli(
        "verify", "deploy/web", "-n", "shop", "--offline", "--kubeconfig", str(k.kubeconfig), code=0
    )
    assert "PASS" in table.stdout


def test_verify_timeout_reads_days_like_every_other_duration(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    # `--timeout 1d` was a usage error while the config file read days.
    v1 = prod.push("v1", at=t0)
    k = kube(_web(prod.ref, [prod.pod_image(v1)], t0 + M))
    out = _verify(cli, k, "--offline", "--timeout", "1d", "--interval", "250ms", code=0)
    assert out["passed"] is True and out["timed_out"] is False


def test_verify_fails_when_the_tag_moved_after_the_pods_pulled_and_names_the_fix(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref = prod.ref
    v1 = prod.push("v1", at=t0)
    k = kube(_web(ref, [prod.pod_image(v1), prod.pod_image(v1)], t0 + M))
    v2 = prod.push("v2")  # verify refreshes the tag
    out = _verify(cli, k, code=1)
    [web] = out["containers"]
    assert out["passed"] is False
    assert web["expected"] == str(v2)
    assert str(v1) in web["problem"] and str(v2) in web["problem"]
    assert any("kubectl rollout restart deployment/web -n shop" in f for f in web["fix"])
    assert any(f"image: {ref}@{v2}" in f for f in web["fix"])
    table = cli(
        "verify",
        "deployment/web",
        "-n",
        "shop",
        "--offline",
        "--kubeconfig",
        str(k.kubeconfig),
        code=1,
    )
    assert (
        "FAIL" in table.stdout
        and "fix: kubectl rollout restart deployment/web -n shop" in table.stdout
    )


def test_verify_fails_when_ready_pods_run_two_digests(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1 = prod.push("v1", at=t0)
    v2 = prod.push("v2", at=t0 + 30 * M)
    k = kube(_web(prod.ref, [prod.pod_image(v1), prod.pod_image(v2)], t0 + 40 * M))
    out = _verify(cli, k, "--offline", code=1)
    [web] = out["containers"]
    assert "2 different digests" in web["problem"]


def test_verify_of_a_pinned_image_compares_with_the_pin(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1 = prod.push("v1")
    k = kube(_web(prod.pod_image(v1), [prod.pod_image(v1)], t0))
    out = _verify(cli, k, "--offline", code=0)
    assert out["containers"][0]["expected"] == str(v1)


def test_verify_times_out_on_a_stuck_rollout(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    v1 = prod.push("v1", at=t0)
    k = kube(_web(prod.ref, [prod.pod_image(v1)], t0 + M, updated=0))
    out = _verify(cli, k, "--offline", "--timeout", "1s", "--interval", "0.2s", code=1)
    assert out["timed_out"] is True and out["passed"] is False
    assert out["rollout"]["complete"] is False
    assert "updated" in out["rollout"]["reason"]


def test_verify_waits_for_a_rollout_that_completes(
    prod: ProdTag, kube: Callable[..., Kube], cli: Cli, t0: datetime
) -> None:
    ref = prod.ref
    v1 = prod.push("v1", at=t0)
    k = kube(_web(ref, [prod.pod_image(v1)], t0 + M, generation=2, observed_generation=1))
    done = kf.deployment(
        "web", "shop", containers=[C("web", ref)], replicas=1, labels={"app": "web"}, generation=2
    )
    # The rollout completes only after verify has seen it incomplete: ordered by the requests
    # the API server received, not by a wall-clock race between two timers.
    looks_before: list[int] = []

    def reads() -> int:
        return sum(1 for path, _ in k.api.requests if path.endswith("/deployments/web"))

    def complete_after_first_look() -> None:
        while reads() == 0 and not stop.is_set():
            stop.wait(0.01)
        looks_before.append(reads())
        k.api.put(done)

    stop = threading.Event()
    completer = threading.Thread(target=complete_after_first_look)
    completer.start()
    try:
        out = _verify(cli, k, "--offline", "--timeout", "20s", "--interval", "0.1s", code=0)
    finally:
        stop.set()
        completer.join()
    assert out["passed"] is True
    assert looks_before and looks_before[0] >= 1
    assert reads() > looks_before[0]  # it looked again after the rollout completed
    assert out["waited_seconds"] > 0


def test_verify_of_a_missing_workload_fails_and_bad_target_is_usage(
    kube: Callable[..., Kube], cli: Cli
) -> None:
    k = kube([])
    missing = cli(
        "verify",
        "deployment/nope",
        "-n",
        "shop",
        "--offline",
        "--kubeconfig",
        str(k.kubeconfig),
        code=1,
    )
    assert "does not exist" in missing.stderr
    bad = cli("verify", "pod/web", "--offline", "--kubeconfig", str(k.kubeconfig), code=2)
    assert "deployment, statefulset and daemonset" in bad.stderr
    slashless = cli("verify", "web", "--offline", "--kubeconfig", str(k.kubeconfig), code=2)
    assert "KIND/NAME" in slashless.stderr
    duration = cli(
        "verify", "deploy/web", "--timeout", "soon", "--kubeconfig", str(k.kubeconfig), code=2
    )
    assert "duration" in duration.stderr
