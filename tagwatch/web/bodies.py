"""Bounded request bodies: a declared or streamed body over its cap is refused with 413.

A webhook is reachable by anyone who can reach the service, so a body is never read whole
before its size is known to be sane: a declared `Content-Length` over the cap is refused
before one byte is read, and a streamed (chunked) body stops being read at the cap.
"""

from __future__ import annotations

import hmac
import tempfile
from typing import IO

from fastapi import HTTPException, Request

__all__ = ["MiB", "TooLarge", "read_capped", "spool_signed"]

MiB = 1024 * 1024
#: Above this a spooled body moves from memory to a temporary file.
_SPOOL_IN_MEMORY = 256 * 1024


class TooLarge(HTTPException):
    """413: the body is over the endpoint's cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(status_code=413, detail=f"the body is over the {_size(cap)} limit")


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n // 1024} KiB"


def _declared(request: Request, cap: int) -> None:
    raw = request.headers.get("content-length")
    if raw is None:
        return
    if not raw.strip().isdigit():
        raise HTTPException(status_code=400, detail="Content-Length is not a number")
    if int(raw) > cap:
        raise TooLarge(cap)


async def read_capped(request: Request, cap: int) -> bytes:
    """The body, at most `cap` bytes; TooLarge when declared or sent larger."""
    _declared(request, cap)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise TooLarge(cap)
        chunks.append(chunk)
    return b"".join(chunks)


async def spool_signed(request: Request, cap: int, key: bytes) -> tuple[IO[bytes], str]:
    """The body spooled (to disk past a small size) with its HMAC-SHA256 hex digest under `key`.

    For a scheme that signs the body, which therefore must be read before it is authenticated:
    memory stays small however many such bodies arrive at once. The caller closes the file.
    """
    _declared(request, cap)
    mac = hmac.new(key, digestmod="sha256")
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise TooLarge(cap)
            mac.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, mac.hexdigest()
