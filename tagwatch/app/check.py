"""The check cycle: ask registries what each tag points to, classify, record in one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Change, Observation, Source, TagMove, classify
from tagwatch.core.references import ImageRef
from tagwatch.core.times import iso_utc
from tagwatch.errors import InternalError, TagNotFound, TagwatchError

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store, StoreTx

__all__ = ["CheckResult", "OnMove", "run_check", "utcnow"]

log = logging.getLogger(__name__)

#: Called inside the transaction that records a move, so what it writes (alerts) commits with it.
OnMove = Callable[["StoreTx", TagMove, BuildInfo | None], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of checking one tag: its move (maybe `unchanged`) or the error that stopped.

    `error` is the error object itself (a `RateLimited` has `.retry_after`, a `RegistryError`
    `.registry` and `.status`); callers that show it make the text, `str(error)`.
    """

    ref: ImageRef
    move: TagMove | None = None
    build: BuildInfo | None = None
    error: TagwatchError | None = None

    @property
    def digest(self) -> Digest | None:
        return self.move.to_digest if self.move else None

    @property
    def change(self) -> str:
        return self.move.change.value if self.move else "error"

    def to_json(self) -> dict[str, Any]:
        build = self.build
        return {
            "ref": str(self.ref),
            "digest": _str(self.digest),
            "previous_digest": _str(self.move.from_digest if self.move else None),
            "change": self.change,
            "media_type": build.media_type if build else None,
            "platforms": {p: str(d) for p, d in build.platforms.items()} if build else {},
            "revision": build.revision if build else None,
            "source": build.source if build else None,
            "window_start": iso_utc(self.move.window_start if self.move else None),
            "detected_at": iso_utc(self.move.detected_at if self.move else None),
            "error": None if self.error is None else str(self.error),
        }


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


async def _observe(
    ref: ImageRef,
    *,
    registry: RegistryClient,
    known: set[Digest],
    now: Callable[[], datetime],
    source: Source,
    limit: asyncio.Semaphore,
) -> Observation | TagwatchError:
    """Observe one tag; a failure becomes its error, so one bad tag never sinks the cycle."""
    async with limit:
        try:
            observation = await registry.observe(
                ref, known=known.__contains__, now=now, source=source
            )
        except TagwatchError as exc:
            log.warning("check failed for %s: %s", ref, exc)
            return exc
        except Exception as exc:  # a bug or an untranslated library error: count it, go on
            log.exception("unexpected error checking %s", ref)
            internal = InternalError(exc)
            internal.__cause__ = exc
            return internal
    if observation.build is not None and observation.digest is not None:
        known.add(observation.digest)
    return observation


def _unique(refs: Iterable[ImageRef]) -> list[ImageRef]:
    return list(dict.fromkeys(ref.untagged() for ref in refs))


async def run_check(
    refs: Sequence[ImageRef],
    *,
    registry: RegistryClient,
    store: Store,
    now: Callable[[], datetime] = utcnow,
    source: Source = Source.POLL,
    on_move: OnMove | None = None,
    concurrency: int = 128,
) -> list[CheckResult]:
    """Check `refs` now (concurrently), record what moved, and return one result per ref.

    Reading history and writing results are two short transactions around the network
    phase, so no database transaction stays open while registries answer.
    """
    tags = _unique(refs)
    with store.begin() as tx:
        histories = tx.histories(tags)
        ever = {s.digest for h in histories.values() for s in h.sightings if s.digest}
        known = tx.known_digests(ever)

    limit = asyncio.Semaphore(concurrency)
    outcomes = await asyncio.gather(
        *(
            _observe(ref, registry=registry, known=known, now=now, source=source, limit=limit)
            for ref in tags
        )
    )

    with store.begin() as tx:
        current = {h.current.digest for h in histories.values() if h.current and h.current.digest}
        seen = {o.digest for o in outcomes if isinstance(o, Observation) and o.digest}
        builds: Mapping[Digest, BuildInfo] = tx.builds(current | seen)
        unchanged: list[Observation] = []
        # Record in a stable order: two transactions appending to the same tags in opposite
        # orders (two replicas, or a poll and a webhook) would deadlock on PostgreSQL.
        ordered = sorted(zip(tags, outcomes, strict=True), key=lambda pair: str(pair[0]))
        by_ref: dict[ImageRef, CheckResult] = {}
        for ref, outcome in ordered:
            if isinstance(outcome, TagwatchError):
                by_ref[ref] = CheckResult(ref, error=outcome)
                continue
            history = histories[ref]
            before = history.current.digest if history.current else None
            previous_build = builds.get(before) if before else None
            move = classify(
                history,
                outcome,
                platforms_before=previous_build.platforms if previous_build else None,
            )
            build = outcome.build or (builds.get(outcome.digest) if outcome.digest else None)
            if move.change is Change.UNCHANGED and outcome.digest is None:
                by_ref[ref] = CheckResult(ref, error=TagNotFound(ref.registry))
                continue
            recorded = False
            if move.is_move or outcome.build is not None:
                recorded = tx.record(outcome, move)
            else:
                unchanged.append(outcome)
            # Only the writer that appended the move alerts on it: a concurrent check that saw
            # the same re-push (or an older answer) must not alert a second time.
            if recorded and move.is_move and on_move is not None:
                on_move(tx, move, build)
            by_ref[ref] = CheckResult(ref, move=move, build=build)
        if unchanged:
            # One UPDATE for every unchanged tag, guarded by the digest seen (a move recorded
            # meanwhile is not credited with it); the earliest time keeps last_seen honest.
            tx.mark_seen(
                [o.ref.with_digest(o.digest) for o in unchanged if o.digest is not None],
                min(o.seen_at for o in unchanged),
            )
    return [by_ref[ref] for ref in tags]
