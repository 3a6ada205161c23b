"""The client's caches: digest-keyed and bounded (digests never change), and single flights."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tagwatch.core.digests import Digest

__all__ = ["Bounded", "Flight"]

_V = TypeVar("_V")


@dataclass
class Flight:
    """Callers describing one digest at once: the first fetches, the others wait for its cache."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Bounded(Generic[_V]):
    """A digest-keyed cache that forgets the least recently used entries beyond `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Digest, _V] = OrderedDict()

    def get(self, key: Digest) -> _V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def __setitem__(self, key: Digest, value: _V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
