"""Episodes and the latest findings of each cluster, as the service writes and the web reads."""

from __future__ import annotations

from tagwatch.core.routes import Condition
from tagwatch.store import Store
from tests.store.helpers import at


def test_an_episode_opens_changes_and_closes(store: Store) -> None:
    with store.begin() as tx:
        episode_id = tx.episodes.open(
            key="episode:1",
            cluster="eu",
            condition=Condition.SKEWED,
            workload=("Deployment", "shop", "web"),
            container="app",
            fingerprint="a,b",
            payload={"cluster": "eu"},
            now=at(0),
        )
        tx.episodes.changed(episode_id, fingerprint="a,b,c", payload={"cluster": "eu", "n": 3})
    with store.begin() as tx:
        [episode] = tx.episodes.open_in("eu")
        assert tx.episodes.open_in("us") == []
        assert (episode.fingerprint, episode.payload["n"]) == ("a,b,c", 3)
        assert (episode.kind, episode.namespace, episode.name) == ("Deployment", "shop", "web")
        tx.episodes.close(episode_id, now=at(2))
    with store.begin() as tx:
        assert tx.episodes.open_in("eu") == []
        [closed] = tx.episodes.recent(cluster="eu")
        assert closed.closed_at == at(2) and closed.opened_at == at(0)


def test_the_latest_findings_survive_a_failed_scan(store: Store) -> None:
    with store.begin() as tx:
        tx.findings.replace("eu", {"workloads": [{"name": "web"}]}, at=at(0))
        tx.findings.failed("eu", "cluster unreachable", at=at(1))
        tx.findings.failed("us", "cluster unreachable", at=at(1))
    with store.begin() as tx:
        latest = tx.findings.latest()
    assert latest["eu"].report == {"workloads": [{"name": "web"}]}
    assert (latest["eu"].scanned_at, latest["eu"].error) == (at(0), "cluster unreachable")
    assert latest["us"].scanned_at is None and latest["us"].report == {}
    with store.begin() as tx:
        tx.findings.replace("eu", {"workloads": []}, at=at(2))
        assert tx.findings.latest()["eu"].error is None
