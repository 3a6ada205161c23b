"""Backfill: date a tag's first sighting from its vendor's API, for tags with no history yet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from tagwatch.app.progress import ProgressHook, gather_counted
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Observation, Source
from tagwatch.core.references import ImageRef
from tagwatch.core.times import iso_seconds, iso_utc, utcnow
from tagwatch.errors import TagwatchError
from tagwatch.registry.providers.records import TagProvider, TagRecord

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = [
    "BackfillResult",
    "BackfillStatus",
    "ProviderFor",
    "run_backfill",
]

log = logging.getLogger(__name__)

#: The vendor API that knows a registry host's tags (None: there is none).
ProviderFor = Callable[[str], TagProvider | None]
_T = TypeVar("_T")


class BackfillStatus(StrEnum):
    """What backfilling one tag did."""

    BACKFILLED = "backfilled"  # recorded: the API's digest since its push time
    ALREADY_RECORDED = "already_recorded"  # the tag has history; nothing rewritten
    MISMATCH = "mismatch"  # the registry points the tag elsewhere now; nothing recorded
    NOT_LISTED = "not_listed"  # the vendor API does not list the tag (or gives no time)
    NO_VENDOR_API = "no_vendor_api"  # no vendor API for this registry host
    ERROR = "error"  # the vendor API or the registry failed


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """The outcome for one tag. `since` is the first sighting (recorded now, or before)."""

    ref: ImageRef
    status: BackfillStatus
    message: str
    digest: Digest | None = None
    since: datetime | None = None
    certain: bool | None = None
    registry_digest: Digest | None = None

    @property
    def ok(self) -> bool:
        return self.status in (BackfillStatus.BACKFILLED, BackfillStatus.ALREADY_RECORDED)

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": str(self.ref),
            "status": self.status.value,
            "digest": _str(self.digest),
            "since": iso_utc(self.since),
            "certain": self.certain,
            "registry_digest": _str(self.registry_digest),
            "message": self.message,
        }


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


async def _guarded(what: str, call: Awaitable[_T]) -> _T | str:
    """`call`'s result, or its error as one line: one failing tag never sinks the others."""
    try:
        return await call
    except TagwatchError as exc:
        log.warning("backfill: %s failed: %s", what, exc)
        return str(exc)
    except Exception as exc:  # a bug or an untranslated library error: report it, go on
        log.exception("backfill: unexpected error for %s", what)
        return f"unexpected error: {type(exc).__name__}: {exc}"


async def _listings(
    refs: Sequence[ImageRef], providers: ProviderFor
) -> dict[tuple[str, str], list[TagRecord] | str | None]:
    """One vendor listing per repository (None: no vendor API for its host)."""
    repos = {(r.registry, r.repository): r for r in refs}
    chosen = {key: providers(key[0]) for key in repos}
    calls = {
        key: _guarded(repos[key].name, provider.tags(repos[key]))
        for key, provider in chosen.items()
        if provider is not None
    }
    answers = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    return {key: answers.get(key) for key in repos}


def _pick(ref: ImageRef, listing: list[TagRecord] | str | None) -> TagRecord | BackfillResult:
    """The vendor's record of `ref`'s tag, or the result explaining why there is none."""
    if listing is None:
        return BackfillResult(
            ref,
            BackfillStatus.NO_VENDOR_API,
            f"no vendor API for {ref.registry}; history starts at the first poll",
        )
    if isinstance(listing, str):
        return BackfillResult(ref, BackfillStatus.ERROR, listing)
    record = next((r for r in listing if r.tag == ref.tag), None)
    if record is None:
        return BackfillResult(
            ref, BackfillStatus.NOT_LISTED, f"the vendor API does not list tag {ref.tag!r}"
        )
    if record.pushed_at is None:
        return BackfillResult(
            ref,
            BackfillStatus.NOT_LISTED,
            f"the vendor API gives no push time for tag {ref.tag!r}",
            digest=record.digest,
        )
    return record


async def run_backfill(
    refs: Sequence[ImageRef],
    *,
    providers: ProviderFor,
    registry: RegistryClient,
    store: Store,
    now: Callable[[], datetime] = utcnow,
    concurrency: int = 16,
    on_progress: ProgressHook | None = None,
) -> list[BackfillResult]:
    """Backfill each tag that has no history from its vendor API, one result per ref.

    `on_progress(done, total)` is called as each tag to backfill is checked in its registry.

    A tag with history is left alone (`already_recorded`). For the others the vendor's
    digest is checked against the registry now (a HEAD); when they agree, one sighting is
    recorded from the push time to now with source `backfill`; when they differ, nothing.
    """
    tags = list(dict.fromkeys(r.without_digest() for r in refs))
    results: dict[ImageRef, BackfillResult] = {}
    for ref in tags:
        if ref.tag is None:
            results[ref] = BackfillResult(ref, BackfillStatus.ERROR, "a backfill needs a tag")
    tags = [r for r in tags if r.tag is not None]
    with store.begin() as tx:
        histories = tx.histories(tags)
    for ref in tags:
        if histories[ref].sightings:
            results[ref] = _already(ref, histories[ref].sightings[0].first_seen)
    todo = [r for r in tags if r not in results]

    listings = await _listings(todo, providers)
    records: dict[ImageRef, TagRecord] = {}
    for ref in todo:
        picked = _pick(ref, listings[(ref.registry, ref.repository)])
        if isinstance(picked, BackfillResult):
            results[ref] = picked
        else:
            records[ref] = picked

    with store.begin() as tx:
        known = tx.known_digests({r.digest for r in records.values()})
    limit = asyncio.Semaphore(concurrency)

    async def observe(ref: ImageRef) -> Observation:
        async with limit:
            return await registry.observe(
                ref, known=known.__contains__, now=now, source=Source.BACKFILL
            )

    seen = await gather_counted([_guarded(str(r), observe(r)) for r in records], on_progress)
    with store.begin() as tx:
        for (ref, record), observation in zip(records.items(), seen, strict=True):
            if isinstance(observation, str):
                results[ref] = BackfillResult(ref, BackfillStatus.ERROR, observation)
            elif observation.digest != record.digest:
                results[ref] = _mismatch(ref, record, observation.digest)
            else:
                assert record.pushed_at is not None  # _pick keeps only dated records
                since = min(record.pushed_at, observation.seen_at)
                if tx.record_backfill(
                    ref,
                    record.digest,
                    first_seen=since,
                    last_seen=observation.seen_at,
                    build=observation.build,
                ):
                    results[ref] = _backfilled(ref, record, since)
                else:  # a poll recorded the tag meanwhile
                    first = tx.history(ref).sightings[0].first_seen
                    results[ref] = _already(ref, first)
    return [results[r] for r in dict.fromkeys(r.without_digest() for r in refs)]


def _already(ref: ImageRef, since: datetime) -> BackfillResult:
    return BackfillResult(
        ref,
        BackfillStatus.ALREADY_RECORDED,
        f"already recorded since {iso_seconds(since)} (unchanged)",
        since=since,
    )


def _backfilled(ref: ImageRef, record: TagRecord, since: datetime) -> BackfillResult:
    how = "pushed" if record.certain else "approximately pushed"
    return BackfillResult(
        ref,
        BackfillStatus.BACKFILLED,
        f"recorded {record.digest.short} since {iso_seconds(since)} "
        f"({how}; checked against the registry)",
        digest=record.digest,
        since=since,
        certain=record.certain,
        registry_digest=record.digest,
    )


def _mismatch(ref: ImageRef, record: TagRecord, current: Digest | None) -> BackfillResult:
    now = f"points to {current.short}" if current else "is gone"
    return BackfillResult(
        ref,
        BackfillStatus.MISMATCH,
        f"the vendor API says {record.digest.short} but the tag {now} in the registry; nothing "
        "recorded (the next poll records the truth)",
        digest=record.digest,
        certain=record.certain,
        registry_digest=current,
    )
