"""Which episodes a successful scan opens, changes and closes."""

from __future__ import annotations

from tagwatch.core.alerts import episode_key, fingerprint
from tagwatch.core.episodes import OpenEpisode, plan_episodes
from tagwatch.core.routes import Condition
from tests.notify.factories import skew_finding


def test_a_new_finding_opens_a_seen_one_stays_and_a_gone_one_closes() -> None:
    skewed = skew_finding(name="api")
    risky = skew_finding(name="web", digests=1, skewed=False, at_risk=True)
    first = plan_episodes([skewed, risky], [], cluster="c")
    assert sorted(f.condition for f in first.opened) == [Condition.AT_RISK, Condition.SKEWED]
    open_now = [OpenEpisode(i, f.key, f.fingerprint) for i, f in enumerate(first.opened)]
    again = plan_episodes([skewed, risky], open_now, cluster="c")
    assert (again.opened, again.changed, again.closed) == ((), (), ())
    fixed = plan_episodes([risky], open_now, cluster="c")
    assert [e.key for e in fixed.closed] == [
        episode_key(skewed, cluster="c", condition=Condition.SKEWED)
    ]


def test_other_digests_change_an_open_episode_instead_of_opening_another() -> None:
    two, three = skew_finding(digests=2), skew_finding(digests=3)
    key = episode_key(two, cluster="c", condition=Condition.SKEWED)
    plan = plan_episodes(
        [three], [OpenEpisode(7, key, fingerprint(two, Condition.SKEWED))], cluster="c"
    )
    assert plan.opened == () and plan.closed == ()
    [(episode_id, found)] = plan.changed
    assert episode_id == 7 and found.fingerprint == fingerprint(three, Condition.SKEWED)


def test_the_same_workload_in_another_cluster_is_another_episode() -> None:
    finding = skew_finding()
    here = plan_episodes([finding], [], cluster="eu")
    there = plan_episodes([finding], [], cluster="us")
    assert here.opened[0].key != there.opened[0].key
