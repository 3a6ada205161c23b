"""Opaque page cursors: a store position (keyset) written as URL-safe text, and read back.

A cursor is base64url of a small versioned JSON list. Clients must treat it as opaque; it is
only ever produced by a previous answer, so one that does not read is a client error.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from tagwatch.store.audit import MoveKey, TagKey
from tagwatch.store.episodes import EpisodeKey

__all__ = [
    "BadCursor",
    "decode_episode",
    "decode_finding",
    "decode_move",
    "decode_seq",
    "decode_tag",
    "encode",
    "encode_finding",
]


class BadCursor(ValueError):
    """The cursor was not one this API handed out."""


def _pack(kind: str, *parts: Any) -> str:
    raw = json.dumps([kind, *parts], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(kind: str, cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except ValueError:
        raise BadCursor("cursor is not one this API handed out: use next_cursor as given") from None
    if not isinstance(parts, list) or not parts or parts[0] != kind:
        raise BadCursor(f"cursor is not a {kind} cursor: use the one from the same list")
    return parts[1:]


def encode(position: MoveKey | TagKey | EpisodeKey | int) -> str:
    """The cursor of a page that starts after `position`."""
    if isinstance(position, MoveKey):
        return _pack("m", position.detected_at.isoformat(), position.id)
    if isinstance(position, EpisodeKey):
        return _pack("e", position.opened_at.isoformat(), position.id)
    if isinstance(position, TagKey):
        return _pack("t", position.registry, position.repository, position.tag)
    return _pack("n", position)


def _time_and_id(kind: str, cursor: str) -> tuple[datetime, int]:
    try:
        when, row = _unpack(kind, cursor)
        at, number = datetime.fromisoformat(when), int(row)
    except (TypeError, ValueError) as exc:
        raise BadCursor(str(exc) if isinstance(exc, BadCursor) else "malformed cursor") from None
    if at.tzinfo is None:
        raise BadCursor("malformed cursor")
    return at, number


def decode_move(cursor: str) -> MoveKey:
    return MoveKey(*_time_and_id("m", cursor))


def decode_episode(cursor: str) -> EpisodeKey:
    return EpisodeKey(*_time_and_id("e", cursor))


def decode_tag(cursor: str) -> TagKey:
    try:
        registry, repository, tag = _unpack("t", cursor)
    except (TypeError, ValueError) as exc:
        raise BadCursor(str(exc) if isinstance(exc, BadCursor) else "malformed cursor") from None
    if not all(isinstance(p, str) for p in (registry, repository, tag)):
        raise BadCursor("malformed cursor")
    return TagKey(registry, repository, tag)


def decode_seq(cursor: str) -> int:
    try:
        (number,) = _unpack("n", cursor)
    except (TypeError, ValueError) as exc:
        raise BadCursor(str(exc) if isinstance(exc, BadCursor) else "malformed cursor") from None
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        raise BadCursor("malformed cursor")
    return number


def encode_finding(scanned_at: datetime | None, offset: int) -> str:
    """The cursor of the next page of one scan's findings (a new scan starts a new list)."""
    return _pack("f", scanned_at.isoformat() if scanned_at else None, offset)


def decode_finding(cursor: str) -> tuple[datetime | None, int]:
    try:
        when, offset = _unpack("f", cursor)
        scanned_at = datetime.fromisoformat(when) if when is not None else None
    except (TypeError, ValueError) as exc:
        raise BadCursor(str(exc) if isinstance(exc, BadCursor) else "malformed cursor") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise BadCursor("malformed cursor")
    return scanned_at, offset
