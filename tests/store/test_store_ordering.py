"""Out-of-date observations: a writer that saw the registry earlier never rewinds a tag."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Change, Observation, Source, TagHistory, classify
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tests.store.helpers import at, counting, digest, observe

REF = ImageRef.parse("registry.example.com/team/app:stable")
A, B, C = digest("a"), digest("b"), digest("c")
INDEX = "application/vnd.oci.image.index.v1+json"


def _record_late(store: Store, stale: TagHistory, observation: Observation) -> None:
    """What the check cycle does: classify against the history it read before the network phase."""
    with store.begin() as tx:
        tx.record(observation, classify(stale, observation))


def _digests(store: Store) -> list[tuple[Digest | None, datetime, datetime]]:
    with store.begin() as tx:
        return [(s.digest, s.first_seen, s.last_seen) for s in tx.history(REF).sightings]


def test_an_observation_older_than_the_latest_sighting_does_not_rewind_the_tag(
    store: Store,
) -> None:
    observe(store, REF, A, at(0))
    with store.begin() as tx:
        stale = tx.history(REF)  # a poll reads the history, then waits on the registry
    observe(store, REF, B, at(10), source=Source.WEBHOOK)  # meanwhile a webhook records a push
    # The poll's answer was made before the push: A, with its build, seen at 5.
    _record_late(store, stale, Observation(REF, A, at(5), build=BuildInfo(INDEX)))
    assert _digests(store) == [(A, at(0), at(0)), (B, at(10), at(10))]
    # The next poll sees B: nothing moved, so no false "repointed" alert.
    assert observe(store, REF, B, at(20)).change is Change.UNCHANGED
    assert _digests(store) == [(A, at(0), at(0)), (B, at(10), at(20))]


def test_a_late_deletion_or_move_seen_before_the_latest_sighting_is_not_appended(
    store: Store,
) -> None:
    observe(store, REF, A, at(0))
    with store.begin() as tx:
        stale = tx.history(REF)
    observe(store, REF, B, at(10))
    observe(store, REF, B, at(12))
    _record_late(store, stale, Observation(REF, None, at(11)))
    _record_late(store, stale, Observation(REF, C, at(11)))
    assert _digests(store) == [(A, at(0), at(0)), (B, at(10), at(12))]


def test_an_observation_newer_than_the_latest_sighting_is_still_appended(store: Store) -> None:
    observe(store, REF, A, at(0))
    with store.begin() as tx:
        stale = tx.history(REF)
    observe(store, REF, B, at(10))
    _record_late(store, stale, Observation(REF, A, at(15)))  # really rolled back after B
    assert _digests(store) == [(A, at(0), at(0)), (B, at(10), at(10)), (A, at(15), at(15))]


def test_writers_racing_with_out_of_order_times_keep_the_history_in_time_order(
    store_url: str,
) -> None:
    stores = [Store.open(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores), timeout=20)
    errors: list[BaseException] = []

    def writer(store: Store, offset: int) -> None:
        try:
            barrier.wait()
            for step in range(6):
                when = at(step * 10 + offset)  # the writers' clocks interleave
                observation = Observation(REF, digest(f"push-{step}"), when)
                with store.begin() as tx:
                    tx.record(observation, classify(tx.history(REF), observation))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in stores:
        store.close()
    assert errors == []
    with Store.open(store_url) as store, store.begin() as tx:
        sightings = tx.history(REF).sightings
    assert len(sightings) <= 6
    for earlier, later in itertools.pairwise(sightings):
        assert earlier.digest != later.digest
        assert earlier.first_seen <= earlier.last_seen <= later.first_seen


def test_mark_seen_with_the_digest_seen_does_not_credit_a_move_recorded_meanwhile(
    store: Store,
) -> None:
    other = REF.with_tag("other")
    observe(store, REF, A, at(0))
    observe(store, other, A, at(0))
    observe(store, REF, B, at(10), source=Source.WEBHOOK)  # recorded while a poll saw A
    with counting(store.engine) as counter, store.begin() as tx:
        tx.mark_seen([REF.with_digest(A), other.with_digest(A)], at(20))
    assert counter.count("UPDATE") == 1
    assert _digests(store) == [(A, at(0), at(0)), (B, at(10), at(10))]
    with store.begin() as tx:
        assert tx.history(other).sightings[-1].last_seen == at(20)
        tx.mark_seen([REF.with_digest(B)], at(21))
    assert _digests(store)[-1] == (B, at(10), at(21))
    with store.begin() as tx:
        tx.mark_seen([REF], at(22))  # without a digest: the latest sighting, whatever it is
    assert _digests(store)[-1] == (B, at(10), at(22))
