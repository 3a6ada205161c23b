"""Reading the audit trail in pages and as a stream: the same trail as `moves_of`, bounded."""

from __future__ import annotations

from sqlalchemy import event

from tagwatch.core.moves import Change, Source, moves_of
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tagwatch.store.audit import MAX_LIMIT, MoveFilter, RecordedMove, tag_key
from tests.store.helpers import at, digest, observe

PROD = ImageRef.parse("ghcr.io/org/app:prod")
DEV = ImageRef.parse("ghcr.io/org/app:dev")
OTHER = ImageRef.parse("quay.io/team/tool:1")
A, B, C = digest("a"), digest("b"), digest("c")


def _every_kind(store: Store) -> None:
    observe(store, PROD, A, at(0))
    observe(store, DEV, A, at(1))
    observe(store, PROD, B, at(10), source=Source.WEBHOOK)
    observe(store, OTHER, C, at(11))
    observe(store, PROD, A, at(20))
    observe(store, PROD, None, at(30))
    observe(store, PROD, C, at(40))
    observe(store, DEV, B, at(41))


def _all_pages(
    store: Store, wanted: MoveFilter, *, limit: int, newest_first: bool = False
) -> list[RecordedMove]:
    moves: list[RecordedMove] = []
    after = None
    while True:
        with store.begin() as tx:
            page, after = tx.audit.moves_page(
                wanted, after=after, limit=limit, newest_first=newest_first
            )
        moves += page
        if after is None:
            return moves


def test_pages_of_moves_are_the_trail_moves_of_derives_from_the_history(store: Store) -> None:
    _every_kind(store)
    with store.begin() as tx:
        expected = sorted(
            (m for h in tx.histories(None).values() for m in moves_of(h)),
            key=lambda m: m.detected_at,
        )
    paged = _all_pages(store, MoveFilter(), limit=3)
    assert [r.move for r in paged] == expected
    assert [m.change for m in expected if m.ref == PROD] == [
        Change.FIRST_SEEN,
        Change.MOVED,
        Change.REPOINTED,
        Change.DELETED,
        Change.RESTORED,
    ]
    newest = _all_pages(store, MoveFilter(), limit=2, newest_first=True)
    assert [r.move for r in newest] == expected[::-1]


def test_a_page_cursor_is_stable_when_moves_are_appended_meanwhile(store: Store) -> None:
    _every_kind(store)
    with store.begin() as tx:
        first, after = tx.audit.moves_page(limit=4)
    # Appended between two page requests: one later than every row, one backfilled long ago.
    observe(store, OTHER, A, at(50))
    with store.begin() as tx:
        tx.record_backfill(
            ImageRef.parse("quay.io/team/old:1"), B, first_seen=at(-99), last_seen=at(-98)
        )
    rest = _all_pages_from(store, after)
    seen = [r.key for r in first + rest]
    assert len(seen) == len(set(seen)) == 9  # 8 before, the later one; none repeated
    assert rest[-1].move.ref == OTHER and rest[-1].move.to_digest == A


def _all_pages_from(store: Store, after: object) -> list[RecordedMove]:
    moves: list[RecordedMove] = []
    while after is not None:
        with store.begin() as tx:
            page, after = tx.audit.moves_page(after=after, limit=2)  # type: ignore[arg-type]
        moves += page
    return moves


def test_filters_narrow_the_moves(store: Store) -> None:
    _every_kind(store)
    with store.begin() as tx:
        tx.add_watch(PROD, labels={"team": "payments"})
        tx.add_watch(DEV, labels={"team": "search"})

    def refs(wanted: MoveFilter) -> list[tuple[str, str]]:
        return [(str(r.move.ref), r.move.change.value) for r in _all_pages(store, wanted, limit=50)]

    assert {ref for ref, _ in refs(MoveFilter(registry="quay.io"))} == {str(OTHER)}
    assert {ref for ref, _ in refs(MoveFilter(repository="org/app"))} == {str(PROD), str(DEV)}
    assert {ref for ref, _ in refs(MoveFilter(label=("team", "payments")))} == {str(PROD)}
    assert refs(MoveFilter(changes=frozenset({Change.REPOINTED, Change.DELETED}))) == [
        (str(PROD), "repointed"),
        (str(PROD), "deleted"),
    ]
    assert [c for _, c in refs(MoveFilter(since=at(30), until=at(40)))] == ["deleted", "restored"]
    assert {ref for ref, _ in refs(MoveFilter(search="APP:D"))} == {str(DEV)}
    assert refs(MoveFilter(search="%")) == []  # a LIKE wildcard is only a character
    assert len(refs(MoveFilter(ref=PROD))) == 5


def test_streamed_moves_are_the_whole_trail_oldest_first(store: Store) -> None:
    _every_kind(store)
    with store.begin() as tx:
        streamed = list(tx.audit.stream_moves())
    paged = [r.move for r in _all_pages(store, MoveFilter(), limit=MAX_LIMIT)]
    assert streamed == paged
    assert [m.detected_at for m in streamed] == sorted(m.detected_at for m in streamed)


def test_stream_reads_in_batches_through_a_server_side_cursor(store: Store) -> None:
    _every_kind(store)
    options: list[dict[str, object]] = []

    def capture(
        _conn: object,
        _cursor: object,
        _statement: str,
        _params: object,
        context: object,
        _many: bool,
    ) -> None:
        options.append(dict(context.execution_options))  # type: ignore[attr-defined]

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.begin() as tx:
            assert len(list(tx.audit.stream_moves())) == 8
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert any(o.get("yield_per") and o.get("stream_results") for o in options)


def test_tags_page_through_every_tag_with_its_current_sighting(store: Store) -> None:
    _every_kind(store)
    with store.begin() as tx:
        first, after = tx.audit.tags_page(limit=2)
        assert after is not None
        rest, end = tx.audit.tags_page(after=after, limit=2)
    assert end is None
    assert [str(ref) for ref, _ in first + rest] == sorted(str(r) for r in (PROD, DEV, OTHER))
    current = dict(first + rest)
    assert current[PROD].digest == C and current[DEV].digest == B
    assert after == tag_key(first[-1][0])


def test_a_tags_sightings_come_in_bounded_pages(store: Store) -> None:
    _every_kind(store)
    with store.begin() as tx:
        first, after = tx.audit.sightings_page(PROD, limit=3)
        assert after == 3
        rest, end = tx.audit.sightings_page(PROD, after_seq=after, limit=3)
        assert end is None
        assert tuple(first + rest) == tx.history(PROD).sightings
