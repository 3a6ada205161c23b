"""Which watch covers a tag, and its labels: what routes match besides the tag itself."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence

from tagwatch.app.settings import WatchEntry
from tagwatch.core.references import ImageRef

__all__ = ["WatchLabels"]


class WatchLabels:
    """The configured watches (tags and tag patterns) and the stored ones (`watch add`).

    Any replica can answer, not only the one polling: routing happens wherever an event is
    delivered and wherever a cluster is scanned.
    """

    def __init__(
        self,
        configured: Sequence[WatchEntry],
        stored: Iterable[tuple[ImageRef, Mapping[str, str]]] = (),
    ) -> None:
        self._exact: dict[ImageRef, Mapping[str, str]] = {}
        self._patterns: list[tuple[ImageRef, str, Mapping[str, str]]] = []
        for watch in configured:
            if watch.is_pattern:
                self._patterns.append((watch.repository, watch.tag_pattern, watch.labels))
            else:
                self._exact.setdefault(watch.image().without_digest(), watch.labels)
        for ref, labels in stored:
            self._exact.setdefault(ref.without_digest(), labels)

    def _find(self, ref: ImageRef) -> Mapping[str, str] | None:
        tag = ref.without_digest()
        exact = self._exact.get(tag)
        if exact is not None:
            return exact
        for repo, pattern, labels in self._patterns:
            if (
                repo.registry == tag.registry
                and repo.repository == tag.repository
                and fnmatch.fnmatchcase(tag.tag or "", pattern)
            ):
                return labels
        return None

    def covers(self, ref: ImageRef) -> bool:
        """Whether a watch names this tag, exactly or by a pattern."""
        return self._find(ref) is not None

    def labels_of(self, ref: ImageRef) -> Mapping[str, str]:
        """The labels of the watch covering `ref`; `{}` for a tag no watch names."""
        return self._find(ref) or {}
