"""A move's alert names the workloads that run the old bytes now and the ones at risk."""

from __future__ import annotations

from tagwatch.app.routing import workloads_of
from tagwatch.store.episodes import ClusterScan
from tests.notify.factories import REF, T0, A, B, move


def _workload(name: str, digests: dict[str, list[str]], *, at_risk: bool = False) -> dict:  # type: ignore[type-arg]
    return {
        "kind": "Deployment",
        "namespace": "shop",
        "name": name,
        "container": "app",
        "image": str(REF),
        "digests": digests,
        "at_risk": at_risk,
    }


def test_the_latest_scans_say_who_runs_the_old_bytes_and_who_is_at_risk() -> None:
    scans = {
        "eu": ClusterScan(
            "eu",
            T0,
            {
                "workloads": [
                    _workload("web", {str(A): ["web-1", "web-2"], str(B): ["web-3"]}),
                    _workload("api", {str(B): ["api-1"]}, at_risk=True),
                    _workload("done", {str(B): ["done-1"]}),
                    {**_workload("other", {str(A): ["o-1"]}), "image": "ghcr.io/org/other:prod"},
                ]
            },
        ),
        "us": ClusterScan("us", None, {}),
    }
    found = workloads_of(move(old=A, new=B), scans)
    assert found["running_old"] == [
        {
            "cluster": "eu",
            "namespace": "shop",
            "kind": "Deployment",
            "name": "web",
            "container": "app",
            "pods": ["web-1", "web-2"],
        }
    ]
    assert [(w["name"], w["pods"]) for w in found["at_risk"]] == [("api", 1)]
