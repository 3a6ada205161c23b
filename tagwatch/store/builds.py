"""The builds behind digests, recorded once each, and the platform children of indexes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo
from tagwatch.store.models import BuildPlatformRow, BuildRow
from tagwatch.store.rows import stored_digest
from tagwatch.store.sql import chunks, insert, returned

__all__ = ["BuildsMixin"]


class BuildsMixin:
    """The build queries of `StoreTx` (kept apart from the history: one job per module)."""

    _session: Session

    def _save_build(self, digest: Digest, build: BuildInfo, at: datetime) -> None:
        inserted = returned(
            self._session,
            insert(self._session, BuildRow)
            .values(
                digest=str(digest),
                media_type=build.media_type,
                labels=dict(build.labels),
                recorded_at=at,
            )
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(BuildRow.digest),
        )
        if inserted is None or not build.platforms:
            return
        self._session.execute(
            insert(self._session, BuildPlatformRow)
            .values(
                [
                    {"index_digest": str(digest), "platform": platform, "child_digest": str(child)}
                    for platform, child in build.platforms.items()
                ]
            )
            .on_conflict_do_nothing(index_elements=["index_digest", "platform"])
        )

    def record_build(self, digest: Digest, build: BuildInfo, *, at: datetime) -> None:
        """Record what a digest is (an index with its children) outside any tag's history."""
        self._save_build(digest, build, at)

    def known_digests(self, digests: Iterable[Digest]) -> set[Digest]:
        """Which of `digests` have their build recorded."""
        wanted = sorted({str(d) for d in digests})
        found: set[Digest] = set()
        for chunk in chunks(wanted):
            rows = self._session.execute(select(BuildRow.digest).where(BuildRow.digest.in_(chunk)))
            found.update(stored_digest(d) for d in rows.scalars())
        return found

    def builds(self, digests: Iterable[Digest]) -> dict[Digest, BuildInfo]:
        """The recorded builds of `digests` (unknown ones left out), with platforms for indexes."""
        wanted = sorted({str(d) for d in digests})
        rows: list[Any] = []
        platforms: dict[str, dict[str, Digest]] = {}
        # Plain column rows, not ORM entities: several times faster for thousands of builds.
        for chunk in chunks(wanted):
            rows += self._session.execute(
                select(BuildRow.digest, BuildRow.media_type, BuildRow.labels).where(
                    BuildRow.digest.in_(chunk)
                )
            )
            for index, platform, child in self._session.execute(
                select(
                    BuildPlatformRow.index_digest,
                    BuildPlatformRow.platform,
                    BuildPlatformRow.child_digest,
                ).where(BuildPlatformRow.index_digest.in_(chunk))
            ):
                platforms.setdefault(index, {})[platform] = stored_digest(child)
        return {
            stored_digest(r.digest): BuildInfo(
                media_type=r.media_type,
                platforms=dict(sorted(platforms.get(r.digest, {}).items())),
                labels={str(k): str(v) for k, v in r.labels.items()},
            )
            for r in rows
        }

    def index_of(self, children: Iterable[Digest]) -> dict[Digest, Digest]:
        """For each child digest listed by a recorded index, an index listing it (the lowest)."""
        wanted = sorted({str(d) for d in children})
        found: dict[Digest, Digest] = {}
        for chunk in chunks(wanted):
            rows = self._session.execute(
                select(BuildPlatformRow.child_digest, func.min(BuildPlatformRow.index_digest))
                .where(BuildPlatformRow.child_digest.in_(chunk))
                .group_by(BuildPlatformRow.child_digest)
            )
            found.update((stored_digest(child), stored_digest(index)) for child, index in rows)
        return found
