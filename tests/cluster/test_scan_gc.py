"""A scan pauses Python's cyclic garbage collector while it builds records, and only then."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator

import pytest

from tagwatch.app.context import open_store
from tagwatch.app.skew import ScanResult, scan_skew
from tagwatch.cluster import ClusterSettings, connect
from tagwatch.errors import ClusterAccessDenied
from tests.support import kube_fixtures as kf
from tests.support.cluster import Kube
from tests.support.kube_fixtures import C

D1 = "sha256:" + "1" * 64
OBJECTS = [
    kf.pod("solo", "shop", containers=[C("web", "nginx:1.27", f"nginx@{D1}")]),
    kf.node("node-a"),
]


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Whatever a test does to the collector, the next test finds it on."""
    yield
    gc.enable()


def _scan(k: Kube, db: str) -> ScanResult:
    async def go() -> ScanResult:
        store = open_store(db)
        cluster = connect(ClusterSettings(kubeconfig=str(k.kubeconfig)))
        try:
            return await scan_skew(cluster=cluster, store=store, registry=None, namespace=None)
        finally:
            await cluster.close()
            store.close()

    return asyncio.run(go())


def test_a_scan_leaves_the_collector_on(
    kube: Callable[..., Kube], db: str, collector_state: None
) -> None:
    gc.enable()
    result = _scan(kube(OBJECTS), db)
    assert [f.key.name for f in result.report.findings] == ["solo"]
    assert gc.isenabled()


def test_a_scan_that_fails_leaves_the_collector_on(
    kube: Callable[..., Kube], db: str, collector_state: None
) -> None:
    gc.enable()
    with pytest.raises(ClusterAccessDenied):
        _scan(kube(OBJECTS, forbidden=("pods",)), db)
    assert gc.isenabled()


def test_a_scan_does_not_turn_on_a_collector_that_was_off(
    kube: Callable[..., Kube], db: str, collector_state: None
) -> None:
    gc.disable()
    _scan(kube(OBJECTS), db)
    assert not gc.isenabled()
