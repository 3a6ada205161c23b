"""What images are built from, recorded once each since a digest never changes: the layer
lists of platform images, and the base an image's annotations or provenance name (queries of
`StoreTx`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tagwatch.core.digests import Digest
from tagwatch.core.drift import BaseFinding, FoundBy
from tagwatch.core.references import ImageRef
from tagwatch.store.models import ImageBaseRow, ImageLayersRow
from tagwatch.store.rows import stored_digest
from tagwatch.store.sql import aware, chunks, insert

__all__ = ["LayersMixin"]


class LayersMixin:
    """The layer-list and base queries of `StoreTx`."""

    _session: Session

    def record_layers(self, image: Digest, layers: Sequence[Digest], *, at: datetime) -> None:
        """Keep the layer list of the platform image `image` (a second record is a no-op)."""
        self._session.execute(
            insert(self._session, ImageLayersRow)
            .values(digest=str(image), layers=[str(d) for d in layers], recorded_at=aware(at))
            .on_conflict_do_nothing(index_elements=["digest"])
        )

    def layer_lists(self, images: Iterable[Digest]) -> dict[Digest, tuple[Digest, ...]]:
        """The recorded layer lists of `images` (those never recorded left out)."""
        wanted = sorted({str(d) for d in images})
        found: dict[Digest, tuple[Digest, ...]] = {}
        for chunk in chunks(wanted):
            query = select(ImageLayersRow.digest, ImageLayersRow.layers).where(
                ImageLayersRow.digest.in_(chunk)
            )
            for digest, layers in self._session.execute(query):
                found[stored_digest(digest)] = tuple(stored_digest(d) for d in layers)
        return found

    def record_base(self, image: Digest, finding: BaseFinding, *, at: datetime) -> None:
        """Keep the base `image`'s own metadata names (a second record is a no-op)."""
        self._session.execute(
            insert(self._session, ImageBaseRow)
            .values(
                digest=str(image),
                base=str(finding.base),
                base_digest=str(finding.base_digest),
                found_by=finding.found_by.value,
                recorded_at=aware(at),
            )
            .on_conflict_do_nothing(index_elements=["digest"])
        )

    def recorded_base(self, image: Digest) -> BaseFinding | None:
        """The base recorded for `image`, if any."""
        row = self._session.get(ImageBaseRow, str(image))
        if row is None:
            return None
        return BaseFinding(
            ImageRef.parse(row.base), stored_digest(row.base_digest), FoundBy(row.found_by)
        )
