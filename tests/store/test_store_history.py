"""Tag histories: every kind of move recorded and read back, batching, builds, concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tagwatch.core.digests import Digest
from tagwatch.core.moves import (
    BuildInfo,
    Change,
    Observation,
    Sighting,
    Source,
    TagHistory,
    classify,
)
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tagwatch.store.models import SightingRow
from tests.store.helpers import T0, at, counting, digest, observe

REF = ImageRef.parse("ghcr.io/org/app:prod")
A, B, C = digest("a"), digest("b"), digest("c")
INDEX = "application/vnd.oci.image.index.v1+json"


def _rows(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(SightingRow)).scalar_one())


def test_every_kind_of_move_is_recorded_and_read_back_as_history(store: Store) -> None:
    changes = [
        observe(store, REF, A, at(0)).change,
        observe(store, REF, A, at(5)).change,
        observe(store, REF, B, at(10), source=Source.WEBHOOK).change,
        observe(store, REF, A, at(20)).change,
        observe(store, REF, None, at(30)).change,
        observe(store, REF, C, at(40)).change,
    ]
    assert changes == [
        Change.FIRST_SEEN,
        Change.UNCHANGED,
        Change.MOVED,
        Change.REPOINTED,
        Change.DELETED,
        Change.RESTORED,
    ]
    with store.begin() as tx:
        history = tx.history(REF)
    assert history == TagHistory(
        REF,
        (
            Sighting(A, at(0), at(5)),
            Sighting(B, at(10), at(10), Source.WEBHOOK),
            Sighting(A, at(20), at(20)),
            Sighting(None, at(30), at(30)),
            Sighting(C, at(40), at(40)),
        ),
    )


def test_times_come_back_timezone_aware_utc(store: Store) -> None:
    from datetime import timezone

    paris = timezone(timedelta(hours=1))
    observe(store, REF, A, T0.astimezone(paris))
    with store.begin() as tx:
        sighting = tx.history(REF).sightings[0]
    assert sighting.first_seen == T0
    assert sighting.first_seen.utcoffset() == timedelta(0)


def test_an_unchanged_observation_adds_no_row_and_advances_last_seen(store: Store) -> None:
    observe(store, REF, A, at(0))
    observe(store, REF, A, at(7))
    assert _rows(store) == 1
    observe(store, REF, A, at(3))  # late and out of order: never moves last_seen backwards
    with store.begin() as tx:
        assert tx.history(REF).sightings == (Sighting(A, at(0), at(7)),)


def test_an_absent_tag_never_seen_records_nothing(store: Store) -> None:
    observe(store, REF, None, at(0))
    assert _rows(store) == 0


def test_mark_seen_advances_many_tags_in_one_update_and_never_backwards(store: Store) -> None:
    refs = [REF.with_tag(f"v{i}") for i in range(300)]
    for ref in refs:
        observe(store, ref, A, at(0))
    observe(store, refs[0], B, at(20))  # its latest row is B; only that one advances
    with store.begin() as tx:
        tx.mark_seen(refs[:1], at(50))  # refs[0] is at 50 already
    with counting(store.engine) as counter, store.begin() as tx:
        tx.mark_seen(refs, at(30))
    assert counter.count("UPDATE") == 1
    with store.begin() as tx:
        histories = tx.histories(refs)
    assert histories[refs[0]].sightings == (Sighting(A, at(0), at(0)), Sighting(B, at(20), at(50)))
    assert all(histories[r].sightings == (Sighting(A, at(0), at(30)),) for r in refs[1:])


def test_build_info_is_stored_once_and_platforms_read_back(store: Store) -> None:
    amd, arm = digest("amd64"), digest("arm64")
    build = BuildInfo(
        INDEX,
        platforms={"linux/amd64": amd, "linux/arm64/v8": arm},
        labels={"org.opencontainers.image.revision": "abc123"},
    )
    observe(store, REF, A, at(0), build=build)
    other = BuildInfo(INDEX, platforms={"linux/amd64": digest("other")})
    observe(store, REF.with_tag("also"), A, at(5), build=other)  # same digest: kept as first
    with store.begin() as tx:
        assert tx.known_digests([A, B]) == {A}
        builds = tx.builds([A, B])
    assert builds == {A: build}
    assert builds[A].revision == "abc123"
    assert builds[A].is_index


def test_a_build_recorded_for_an_unchanged_tag_is_kept(store: Store) -> None:
    observe(store, REF, A, at(0))
    build = BuildInfo("application/vnd.oci.image.manifest.v1+json")
    move = observe(store, REF, A, at(1), build=build)
    assert move.change is Change.UNCHANGED
    assert _rows(store) == 1
    with store.begin() as tx:
        assert tx.builds([A]) == {A: build}


def test_index_of_maps_a_platform_child_to_its_index(store: Store) -> None:
    amd, arm = digest("amd64"), digest("arm64")
    observe(
        store,
        REF,
        A,
        at(0),
        build=BuildInfo(INDEX, platforms={"linux/amd64": amd, "linux/arm64": arm}),
    )
    with store.begin() as tx:
        assert tx.index_of([amd, arm, C]) == {amd: A, arm: A}


def test_moves_since_gives_the_audit_trail_oldest_first(store: Store) -> None:
    other = REF.with_tag("staging")
    observe(store, REF, A, at(0))
    observe(store, other, A, at(1))
    observe(store, REF, B, at(10))
    observe(store, other, C, at(15))
    observe(store, REF, None, at(20))
    with store.begin() as tx:
        everything = tx.moves()
        recent = tx.moves(since=at(10))
        mine = tx.moves(REF, since=at(5))
    assert [(m.ref, m.change) for m in everything] == [
        (REF, Change.FIRST_SEEN),
        (other, Change.FIRST_SEEN),
        (REF, Change.MOVED),
        (other, Change.MOVED),
        (REF, Change.DELETED),
    ]
    assert [m.detected_at for m in recent] == [at(10), at(15), at(20)]
    assert [(m.from_digest, m.to_digest, m.window_start) for m in mine] == [
        (A, B, at(0)),
        (B, None, at(10)),
    ]


def test_tags_lists_every_tag_ever_seen_with_its_current_sighting(store: Store) -> None:
    observe(store, REF, A, at(0))
    observe(store, REF, B, at(1))
    observe(store, REF.with_tag("old"), A, at(2))
    observe(store, REF.with_tag("old"), None, at(3))
    with store.begin() as tx:
        assert tx.tags() == [
            (REF.with_tag("old"), Sighting(None, at(3), at(3))),
            (REF, Sighting(B, at(1), at(1))),
        ]


def test_histories_for_1000_refs_take_a_handful_of_queries(store: Store) -> None:
    refs = [ImageRef("registry.example", f"team/app{i % 10}", f"v{i}") for i in range(1000)]
    with store.begin() as tx:
        for i, ref in enumerate(refs[:500]):
            observation = Observation(ref, digest(str(i)), at(0))
            tx.record(observation, classify(TagHistory(ref), observation))
    with counting(store.engine) as counter, store.begin() as tx:
        histories = tx.histories(refs)
    assert counter.count("SELECT") <= 3
    assert set(histories) == set(refs)
    assert histories[refs[7]].sightings == (Sighting(digest("7"), at(0), at(0)),)
    assert histories[refs[700]] == TagHistory(refs[700])


def test_histories_without_refs_gives_every_tag_ever_seen(store: Store) -> None:
    observe(store, REF, A, at(0))
    observe(store, REF.with_tag("b"), B, at(0))
    with store.begin() as tx:
        assert set(tx.histories()) == {REF, REF.with_tag("b")}


def test_an_exception_inside_begin_leaves_nothing_written(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.begin() as tx:
        tx.add_watch(REF)
        observation = Observation(
            REF, A, at(0), build=BuildInfo(INDEX, platforms={"linux/amd64": B})
        )
        tx.record(observation, classify(TagHistory(REF), observation))
        tx.outbox.enqueue(key="k", destination="d", kind="move", payload={}, now=at(0))
        raise Boom
    with store.begin() as tx:
        assert tx.watches() == []
        assert tx.history(REF) == TagHistory(REF)
        assert tx.known_digests([A]) == set()
        assert tx.outbox.depth() == 0


def test_the_same_move_recorded_by_two_connections_makes_one_row(store_url: str) -> None:
    first, second = Store.open(store_url), Store.open(store_url)
    observe(first, REF, A, at(0))
    barrier = threading.Barrier(2, timeout=20)
    sqlite = first.engine.dialect.name == "sqlite"
    errors: list[BaseException] = []

    def writer(store: Store, when: int) -> None:
        try:
            observation = Observation(REF, B, at(when))
            if sqlite:  # BEGIN IMMEDIATE: the second writer waits for the first to commit
                barrier.wait()
            with store.begin() as tx:
                move = classify(tx.history(REF), observation)
                if not sqlite:  # both have read the old history before either writes
                    barrier.wait()
                tx.record(observation, move)
            assert move.change in (Change.MOVED, Change.UNCHANGED)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, w)) for s, w in ((first, 10), (second, 11))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    first.close()
    second.close()
    assert errors == []
    with Store.open(store_url) as store, store.begin() as tx:
        history = tx.history(REF)
    assert [s.digest for s in history.sightings] == [A, B]
    assert history.sightings[1].last_seen == at(11)


def test_a_move_classified_against_a_stale_history_only_advances_last_seen(store: Store) -> None:
    observe(store, REF, A, at(0))
    with store.begin() as tx:
        stale = tx.history(REF)
    observe(store, REF, B, at(10))
    late = Observation(REF, B, at(12))
    with store.begin() as tx:
        tx.record(late, classify(stale, late))  # says MOVED, but B is already current
    with store.begin() as tx:
        assert [(s.digest, s.last_seen) for s in tx.history(REF).sightings] == [
            (A, at(0)),
            (B, at(12)),
        ]


def test_watches_are_added_updated_listed_and_removed(store: Store) -> None:
    nginx = ImageRef.parse("nginx:1.27")
    with store.begin() as tx:
        assert tx.add_watch(REF, interval_seconds=300, labels={"team": "pay"}, now=at(0))
        assert tx.add_watch(nginx, now=at(1))
        assert not tx.add_watch(REF, interval_seconds=60, labels={"team": "ops"}, now=at(2))
    with store.begin() as tx:
        watches = tx.watches()
    assert [(w.ref, w.interval_seconds, dict(w.labels), w.added_at) for w in watches] == [
        (nginx, None, {}, at(1)),
        (REF, 60, {"team": "ops"}, at(0)),
    ]
    with store.begin() as tx:
        assert tx.remove_watch(nginx)
        assert not tx.remove_watch(nginx)
        assert [w.ref for w in tx.watches()] == [REF]


def test_a_pinned_reference_without_tag_is_refused(store: Store) -> None:
    with store.begin() as tx, pytest.raises(ValueError, match="has no tag"):
        tx.history(ImageRef("docker.io", "library/nginx", None, Digest.of(b"x")))
