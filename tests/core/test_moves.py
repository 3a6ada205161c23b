"""classify() names every kind of tag move from the history and a new observation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tagwatch.core.digests import Digest
from tagwatch.core.moves import (
    BuildInfo,
    Change,
    Observation,
    Sighting,
    TagHistory,
    classify,
    diff_platforms,
    moves_of,
)
from tagwatch.core.references import ImageRef

REF = ImageRef.parse("ghcr.io/org/app:prod")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
A, B, C = (Digest.of(x) for x in (b"a", b"b", b"c"))


def _history(*digests: Digest | None) -> TagHistory:
    sightings = tuple(
        Sighting(d, T0 + timedelta(hours=i), T0 + timedelta(hours=i, minutes=30))
        for i, d in enumerate(digests)
    )
    return TagHistory(REF, sightings)


def _seen(digest: Digest | None, hours: int = 10) -> Observation:
    return Observation(REF, digest, T0 + timedelta(hours=hours))


def test_a_tag_new_to_us_is_first_seen() -> None:
    assert classify(_history(), _seen(A)).change is Change.FIRST_SEEN


def test_same_digest_is_unchanged_and_not_a_move() -> None:
    move = classify(_history(A), _seen(A))
    assert move.change is Change.UNCHANGED
    assert not move.is_move


def test_repush_to_a_new_digest_is_a_move() -> None:
    move = classify(_history(A), _seen(B))
    assert (move.change, move.from_digest, move.to_digest) == (Change.MOVED, A, B)


def test_back_to_an_earlier_digest_is_a_repoint() -> None:
    assert classify(_history(A, B), _seen(A)).change is Change.REPOINTED


def test_tag_gone_is_deleted_and_its_return_is_restored() -> None:
    assert classify(_history(A), _seen(None)).change is Change.DELETED
    assert classify(_history(A, None), _seen(A)).change is Change.RESTORED
    assert classify(_history(A, None), _seen(B)).change is Change.RESTORED
    assert classify(_history(A, None), _seen(None)).change is Change.UNCHANGED


def test_a_tag_never_seen_and_absent_records_nothing() -> None:
    assert not classify(_history(), _seen(None)).is_move


def test_move_window_runs_from_old_last_seen_to_detection() -> None:
    history = _history(A)
    move = classify(history, _seen(B, hours=5))
    assert move.window_start == history.sightings[0].last_seen
    assert move.detected_at == T0 + timedelta(hours=5)


def test_index_move_names_the_platforms_that_changed() -> None:
    before = {"linux/amd64": A, "linux/arm64": B}
    after = BuildInfo(
        "application/vnd.oci.image.index.v1+json",
        {"linux/amd64": A, "linux/arm64": C, "linux/s390x": C},
    )
    move = classify(
        _history(A),
        Observation(REF, B, T0 + timedelta(hours=9), build=after),
        platforms_before=before,
    )
    assert move.platforms.changed == ("linux/arm64",)
    assert move.platforms.added == ("linux/s390x",)
    assert move.platforms.removed == ()


def test_index_pushed_again_with_the_same_platform_images_is_a_move_of_the_same_images() -> None:
    platforms = {"linux/amd64": A, "linux/arm64": B}
    again = BuildInfo("application/vnd.oci.image.index.v1+json", dict(platforms))
    move = classify(
        _history(C),
        Observation(REF, B, T0 + timedelta(hours=9), build=again),
        platforms_before=platforms,
    )
    assert move.change is Change.MOVED and move.same_images
    changed = BuildInfo("application/vnd.oci.image.index.v1+json", {"linux/amd64": C})
    other = classify(
        _history(C),
        Observation(REF, B, T0 + timedelta(hours=9), build=changed),
        platforms_before=platforms,
    )
    assert other.change is Change.MOVED and not other.same_images
    single = classify(
        _history(A),
        Observation(REF, B, T0 + timedelta(hours=9), build=BuildInfo("x")),
        platforms_before={},
    )
    assert not single.same_images


def test_platform_diff_of_identical_indexes_is_empty() -> None:
    assert not diff_platforms({"linux/amd64": A}, {"linux/amd64": A})


def test_audit_trail_agrees_with_classify_for_every_step() -> None:
    digests: list[Digest | None] = [A, B, A, None, C, C]
    history = _history()
    for i, digest in enumerate(digests):
        move = classify(history, _seen(digest, hours=i))
        if move.is_move:
            history = TagHistory(
                REF, (*history.sightings, Sighting(digest, move.detected_at, move.detected_at))
            )
    trail = [m.change for m in moves_of(history)]
    assert trail == [
        Change.FIRST_SEEN,
        Change.MOVED,
        Change.REPOINTED,
        Change.DELETED,
        Change.RESTORED,
    ]


def test_what_the_tag_pointed_to_at_a_time() -> None:
    history = _history(A, B)
    assert history.at(T0 - timedelta(minutes=1)) == ()
    assert [s.digest for s in history.at(T0 + timedelta(minutes=10))] == [A]
    # between A's last sighting and B's first, the move happened at some unknown moment
    assert [s.digest for s in history.at(T0 + timedelta(minutes=45))] == [A, B]
    assert [s.digest for s in history.at(T0 + timedelta(days=3))] == [B]
