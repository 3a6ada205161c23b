"""Which episodes a cluster scan opens, changes and closes: pure, from its findings and the
episodes still open in that cluster."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tagwatch.core.alerts import conditions_of, episode_key, fingerprint
from tagwatch.core.routes import Condition
from tagwatch.core.skew_findings import WorkloadFinding

__all__ = ["EpisodePlan", "Found", "OpenEpisode", "plan_episodes"]


@dataclass(frozen=True, slots=True)
class OpenEpisode:
    """What the decision needs of an open episode."""

    id: int
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Found:
    """A finding's condition as this scan sees it."""

    key: str
    condition: Condition
    fingerprint: str
    finding: WorkloadFinding


@dataclass(frozen=True, slots=True)
class EpisodePlan:
    """`opened`: new episodes (alert); `changed`: open ones in a new state (alert again, the
    key differs); `closed`: open ones this scan no longer finds (a short resolved reply)."""

    opened: tuple[Found, ...] = ()
    changed: tuple[tuple[int, Found], ...] = ()
    closed: tuple[OpenEpisode, ...] = ()
    same: tuple[int, ...] = field(default=())


def plan_episodes(
    findings: Sequence[WorkloadFinding],
    open_episodes: Sequence[OpenEpisode],
    *,
    cluster: str,
) -> EpisodePlan:
    """Compare one successful scan of `cluster` with its open episodes.

    A container is found again while any scan sees its condition; it is closed by the first
    scan that does not (uniform on the tag's digest again, or gone). Call this only for a
    scan that succeeded: a failed scan proves nothing and changes nothing.
    """
    found: dict[str, Found] = {}
    for finding in findings:
        for condition in conditions_of(finding):
            key = episode_key(finding, cluster=cluster, condition=condition)
            found.setdefault(key, Found(key, condition, fingerprint(finding, condition), finding))
    by_key: Mapping[str, OpenEpisode] = {e.key: e for e in open_episodes}
    opened = tuple(f for key, f in found.items() if key not in by_key)
    changed = tuple(
        (by_key[key].id, f)
        for key, f in found.items()
        if key in by_key and by_key[key].fingerprint != f.fingerprint
    )
    same = tuple(
        by_key[key].id
        for key, f in found.items()
        if key in by_key and by_key[key].fingerprint == f.fingerprint
    )
    closed = tuple(e for e in open_episodes if e.key not in found)
    return EpisodePlan(opened=opened, changed=changed, closed=closed, same=same)
