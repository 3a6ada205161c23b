"""The check cycle: ask registries what each tag points to, classify, record in one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tagwatch.app.progress import ProgressHook, gather_counted
from tagwatch.core.digests import Digest
from tagwatch.core.moves import (
    BuildInfo,
    Change,
    MoveHook,
    Observation,
    Source,
    TagHistory,
    TagMove,
    classify,
)
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import SignatureVerdict
from tagwatch.core.times import iso_utc, utcnow
from tagwatch.errors import InternalError, TagNotFound, TagwatchError

if TYPE_CHECKING:
    from tagwatch.app.signatures import SignatureJudge
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store, StoreTx

__all__ = ["CheckResult", "Checker", "run_check"]

log = logging.getLogger(__name__)


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
    #: The signing policy's verdict on the digest this check moved the tag to (if a policy
    #: covers the tag).
    signature: SignatureVerdict | None = None

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
            "signature": signature_json(self.signature),
            "same_images": self.move.same_images if self.move else False,
            "error": None if self.error is None else str(self.error),
        }


def signature_json(verdict: SignatureVerdict | None) -> dict[str, Any] | None:
    """A verdict as the JSON outputs (check, history, the API) show it."""
    if verdict is None:
        return None
    return {
        "policy": verdict.policy,
        "status": verdict.status.value,
        "signed_by": verdict.signed_by,
        "reason": verdict.reason,
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


async def _judge_new_digests(
    tags: Sequence[ImageRef],
    outcomes: Sequence[Observation | TagwatchError],
    histories: Mapping[ImageRef, TagHistory],
    judge: SignatureJudge | None,
    registry: RegistryClient,
    limit: asyncio.Semaphore,
) -> dict[ImageRef, SignatureVerdict]:
    """Each digest a tag is moving to, judged by its signing policy (in the network phase, so
    no transaction waits on the registry). A tag staying where it was is not judged again."""
    if not judge:
        return {}

    async def one(ref: ImageRef, observation: Observation) -> SignatureVerdict | None:
        assert observation.digest is not None
        async with limit:
            return await judge.judge(ref, observation.digest, observation.build, registry=registry)

    pending = {}
    for ref, outcome in zip(tags, outcomes, strict=True):
        current = histories[ref].current
        if not isinstance(outcome, Observation) or outcome.digest is None:
            continue
        if current is not None and current.digest == outcome.digest:
            continue
        pending[ref] = outcome
    found = await asyncio.gather(*(one(ref, o) for ref, o in pending.items()))
    return {ref: v for ref, v in zip(pending, found, strict=True) if v is not None}


def _unique(refs: Iterable[ImageRef]) -> list[ImageRef]:
    return list(dict.fromkeys(ref.without_digest() for ref in refs))


async def run_check(
    refs: Sequence[ImageRef],
    *,
    registry: RegistryClient,
    store: Store,
    now: Callable[[], datetime] = utcnow,
    source: Source = Source.POLL,
    on_move: MoveHook[StoreTx] | None = None,
    concurrency: int = 128,
    signatures: SignatureJudge | None = None,
    pushed_by: Mapping[ImageRef, str] | None = None,
    on_progress: ProgressHook | None = None,
) -> list[CheckResult]:
    """Check `refs` now (concurrently), record what moved, and return one result per ref.

    `on_progress(done, total)` is called as each tag's registry answer comes in.

    Reading history and writing results are two short transactions around the network
    phase, so no database transaction stays open while registries answer.
    """
    tags = _unique(refs)
    with store.begin() as tx:
        histories = tx.histories(tags)
        ever = {s.digest for h in histories.values() for s in h.sightings if s.digest}
        known = tx.known_digests(ever)

    limit = asyncio.Semaphore(concurrency)
    outcomes = await gather_counted(
        [
            _observe(ref, registry=registry, known=known, now=now, source=source, limit=limit)
            for ref in tags
        ],
        on_progress,
    )
    if pushed_by:  # who pushed, per the webhook that asked for this check
        outcomes = [
            replace(o, pushed_by=pushed_by[ref])
            if isinstance(o, Observation) and ref in pushed_by
            else o
            for ref, o in zip(tags, outcomes, strict=True)
        ]
    verdicts = await _judge_new_digests(tags, outcomes, histories, signatures, registry, limit)

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
            verdict = verdicts.get(ref) if recorded and move.is_move else None
            if verdict is not None and outcome.digest is not None:
                tx.record_signature(ref, outcome.digest, verdict, at=outcome.seen_at)
            if recorded and move.is_move and on_move is not None:
                on_move(tx, move, build)
            by_ref[ref] = CheckResult(ref, move=move, build=build, signature=verdict)
        if unchanged:
            # One UPDATE for every unchanged tag, guarded by the digest seen (a move recorded
            # meanwhile is not credited with it); the earliest time keeps last_seen honest.
            tx.mark_seen(
                [o.ref.with_digest(o.digest) for o in unchanged if o.digest is not None],
                min(o.seen_at for o in unchanged),
            )
    return [by_ref[ref] for ref in tags]


@dataclass(frozen=True, slots=True)
class Checker:
    """`run_check` bound to what the service checks with: the registry, the store, the clock
    and the signing judge (polling and webhook checks share one)."""

    registry: RegistryClient
    store: Store
    now: Callable[[], datetime] = utcnow
    signatures: SignatureJudge | None = None

    async def check(
        self,
        refs: Sequence[ImageRef],
        *,
        source: Source,
        concurrency: int = 128,
        pushed_by: Mapping[ImageRef, str] | None = None,
    ) -> list[CheckResult]:
        return await run_check(
            refs,
            registry=self.registry,
            store=self.store,
            now=self.now,
            source=source,
            concurrency=concurrency,
            signatures=self.signatures,
            pushed_by=pushed_by,
        )
