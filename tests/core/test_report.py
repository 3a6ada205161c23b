"""The security review: which tags count as releases, and which moves make the report fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Source, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.report import EpisodeRow, build_report, is_release_tag
from tagwatch.core.signing import SignatureStatus, SignatureVerdict

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
A = Digest.parse("sha256:" + "a" * 64)
B = Digest.parse("sha256:" + "b" * 64)


@pytest.mark.parametrize(
    ("tag", "release"),
    [
        ("1.4.2", True),
        ("v2.0.0-rc.1", True),
        ("3.1.4+build.7", True),
        ("prod", True),
        ("stable", True),
        ("1.27", False),  # MAJOR.MINOR moves on every patch release, on purpose
        ("1", False),
        ("main", False),
        ("01.2.3", False),
        ("latest", False),
        (None, False),
    ],
)
def test_release_tags_are_full_semver_prod_and_stable(tag: str | None, release: bool) -> None:
    assert is_release_tag(tag) is release


def test_latest_counts_as_a_release_only_when_asked() -> None:
    assert is_release_tag("latest", include_latest=True)


def _move(tag: str, change: Change, *, hours_ago: float, to: Digest = B) -> TagMove:
    at = NOW - timedelta(hours=hours_ago)
    return TagMove(
        ref=ImageRef.parse(f"ghcr.io/acme/app:{tag}"),
        change=change,
        from_digest=A if change is not Change.FIRST_SEEN else None,
        to_digest=to,
        detected_at=at,
        window_start=at - timedelta(minutes=5),
        source=Source.POLL,
    )


def test_the_report_sorts_moves_into_the_sections_a_reviewer_reads() -> None:
    moves = [
        _move("1.4.2", Change.MOVED, hours_ago=3),
        _move("prod", Change.REPOINTED, hours_ago=2, to=A),
        _move("main", Change.MOVED, hours_ago=1),
        _move("1.0.0", Change.FIRST_SEEN, hours_ago=4),  # a new release is not a re-push
        _move("old", Change.MOVED, hours_ago=24 * 40),  # before the period
    ]
    unsigned = SignatureVerdict("releases", SignatureStatus.UNSIGNED, None, "no signature found")
    report = build_report(
        moves,
        since=NOW - timedelta(days=30),
        now=NOW,
        signatures={("ghcr.io", "acme/app", str(B)): unsigned},
        revisions={A: "aaa", B: "bbb"},
    )
    assert [r.ref.tag for r in report.moves] == ["1.0.0", "1.4.2", "prod", "main"]
    assert [r.ref.tag for r in report.release_repushes] == ["1.4.2", "prod"]
    assert [r.ref.tag for r in report.rollbacks] == ["prod"]
    assert [r.ref.tag for r in report.signature_failures] == ["1.0.0", "1.4.2", "main"]
    assert (report.moves[1].revision_before, report.moves[1].revision_after) == ("aaa", "bbb")
    assert report.failed


def test_a_period_of_ordinary_moves_passes() -> None:
    signed = SignatureVerdict("releases", SignatureStatus.SIGNED, "key 1 (.sig tag)")
    unknown = SignatureVerdict("releases", SignatureStatus.UNKNOWN, None, "registry down")
    report = build_report(
        [_move("main", Change.MOVED, hours_ago=1), _move("dev", Change.MOVED, hours_ago=2, to=A)],
        since=NOW - timedelta(days=1),
        now=NOW,
        signatures={
            ("ghcr.io", "acme/app", str(B)): signed,
            ("ghcr.io", "acme/app", str(A)): unknown,
        },
        revisions={},
    )
    assert not report.failed  # an unknown verdict is an outage, not a policy failure
    assert report.signature_failures == ()


def test_episodes_that_ended_before_the_period_are_left_out() -> None:
    def episode(opened: float, closed: float | None) -> EpisodeRow:
        return EpisodeRow(
            "prod",
            "shop",
            "api",
            "app",
            "skewed",
            NOW - timedelta(hours=opened),
            None if closed is None else NOW - timedelta(hours=closed),
        )

    report = build_report(
        [],
        since=NOW - timedelta(hours=10),
        now=NOW,
        signatures={},
        revisions={},
        episodes=[episode(30, 20), episode(12, 8), episode(2, None)],
    )
    assert [e.lasted(NOW) for e in report.episodes] == [timedelta(hours=4), timedelta(hours=2)]
    assert not report.failed
