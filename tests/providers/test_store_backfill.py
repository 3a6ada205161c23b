"""StoreTx.record_backfill: one first sighting for a tag with no history, never a rewrite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Change, Observation, Source, classify
from tagwatch.core.references import ImageRef
from tagwatch.store import Store

REF = ImageRef.parse("docker.io/org/app:prod")
OLD = Digest.of(b"old")
NEW = Digest.of(b"new")
PUSHED = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_backfill_of_a_tag_with_no_history_is_its_first_sighting(store_url: str) -> None:
    with Store.open(store_url) as store:
        build = BuildInfo("application/vnd.oci.image.index.v1+json", {"linux/amd64": NEW})
        with store.begin() as tx:
            assert tx.record_backfill(REF, OLD, first_seen=PUSHED, last_seen=NOW, build=build)
        with store.begin() as tx:
            history = tx.history(REF)
            assert tx.builds([OLD])[OLD].platforms == {"linux/amd64": NEW}
        assert [(s.digest, s.source) for s in history.sightings] == [(OLD, Source.BACKFILL)]
        assert history.at(PUSHED + timedelta(days=3))[0].digest == OLD
        assert history.at(PUSHED - timedelta(seconds=1)) == ()


def test_backfill_is_refused_when_the_tag_has_any_sighting(store_url: str) -> None:
    with Store.open(store_url) as store:
        seen = Observation(REF, NEW, NOW)
        with store.begin() as tx:
            tx.record(seen, classify(tx.history(REF), seen))
        with store.begin() as tx:
            assert not tx.record_backfill(REF, OLD, first_seen=PUSHED, last_seen=NOW)
            assert not tx.record_backfill(REF, NEW, first_seen=PUSHED, last_seen=NOW)
        with store.begin() as tx:
            history = tx.history(REF)
        assert [(s.digest, s.first_seen, s.source) for s in history.sightings] == [
            (NEW, NOW, Source.POLL)
        ]


def test_a_poll_after_a_backfill_continues_the_same_sighting(store_url: str) -> None:
    with Store.open(store_url) as store:
        with store.begin() as tx:
            assert tx.record_backfill(REF, OLD, first_seen=PUSHED, last_seen=NOW)
        later = NOW + timedelta(minutes=5)
        with store.begin() as tx:
            move = classify(tx.history(REF), Observation(REF, OLD, later))
            assert move.change is Change.UNCHANGED
            tx.mark_seen([REF], later)
        with store.begin() as tx:
            (only,) = tx.history(REF).sightings
        assert (only.first_seen, only.last_seen) == (PUSHED, later)


def test_backfill_refuses_a_span_that_ends_before_it_starts(store_url: str) -> None:
    with Store.open(store_url) as store, store.begin() as tx, pytest.raises(ValueError):
        tx.record_backfill(REF, OLD, first_seen=NOW, last_seen=PUSHED)
