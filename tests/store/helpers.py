"""Small builders shared by the store tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, event

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Observation, Source, TagMove, classify
from tagwatch.core.references import ImageRef
from tagwatch.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def digest(name: str) -> Digest:
    return Digest.of(name.encode())


def observe(
    store: Store,
    ref: ImageRef,
    found: Digest | None,
    when: datetime,
    *,
    build: BuildInfo | None = None,
    source: Source = Source.POLL,
) -> TagMove:
    """What the check cycle does for one tag: read history, classify, record."""
    observation = Observation(ref, found, when, source, build)
    with store.begin() as tx:
        move = classify(tx.history(ref), observation)
        tx.record(observation, move)
    return move


class StatementCounter:
    """Counts the SQL statements an engine sends while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.statements.append(statement)

    def count(self, prefix: str = "") -> int:
        return sum(1 for s in self.statements if s.lstrip().upper().startswith(prefix.upper()))


@contextmanager
def counting(engine: Engine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter)
