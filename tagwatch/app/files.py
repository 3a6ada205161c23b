"""The user's files as `lint` and `pin` read and rewrite them: regular files only, bounded in
size, and rewritten all or nothing.

Reading opens without blocking and checks what was opened, so a FIFO, a device (`/dev/zero`)
or a directory named as a file is reported and skipped instead of hanging or filling memory;
a symlink loop is one line. Writing puts every new file next to its original first, and only
when all are written replaces the originals; a replace that fails restores those replaced.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tagwatch.errors import TagwatchError, UsageError

__all__ = ["MAX_FILE_BYTES", "Rewrite", "Skipped", "read_regular", "replace_all"]

#: Manifests and Dockerfiles are kilobytes; anything larger is not one.
MAX_FILE_BYTES = 8 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A named file that was not read, and why (it is not a regular file, or too large)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: skipped: {self.reason}"


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    kind = next((label for test, label in _KINDS if test(mode)), "not a regular file")
    return f"{kind}, not a regular file"


def read_regular(
    path: Path,
    name: str,
    *,
    limit: int = MAX_FILE_BYTES,
    unreadable: str = "{name}: cannot read: {reason}",
) -> tuple[bytes, tuple[int, int]] | Skipped:
    """The bytes of `path` and its (device, inode), or Skipped; UsageError worded by
    `unreadable` when it cannot be opened (missing, no permission, a symlink loop)."""
    try:
        reason = _not_regular(os.stat(path).st_mode)  # before opening: opening a device acts
        if reason is not None:
            return Skipped(name, reason)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(unreadable.format(name=name, reason=exc.strerror or exc)) from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        reason = _not_regular(info.st_mode)  # it may have been swapped since the stat
        if reason is not None:
            return Skipped(name, reason)
        too_large = Skipped(name, f"larger than {limit // (1024 * 1024)} MiB")
        if info.st_size > limit:
            return too_large
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UsageError(unreadable.format(name=name, reason=exc.strerror or exc)) from exc
    if len(data) > limit:
        return too_large
    return data, (info.st_dev, info.st_ino)


@dataclass(frozen=True, slots=True)
class Rewrite:
    """New contents for a file whose contents as read were `original`."""

    path: Path
    name: str
    original: bytes
    data: bytes


def replace_all(rewrites: Sequence[Rewrite]) -> None:
    """Write every file or none: all temporary files first, then the replaces.

    Raises TagwatchError naming the file that could not be written; by then every original
    is as it was (temporary files removed, replaced originals restored).
    """
    staged: list[tuple[Rewrite, Path, Path]] = []  # rewrite, target, temporary file
    try:
        for rewrite in rewrites:
            target = rewrite.path.resolve()
            staged.append((rewrite, target, _stage(target, rewrite.data, rewrite.name)))
    except BaseException:
        for _, _, temp in staged:
            temp.unlink(missing_ok=True)
        raise
    done: list[tuple[Rewrite, Path]] = []
    for index, (rewrite, target, temp) in enumerate(staged):
        try:
            os.replace(temp, target)
        except OSError as exc:
            for _, _, left in staged[index:]:
                left.unlink(missing_ok=True)
            unrestored = _restore(done)
            tail = f"; could not restore {', '.join(unrestored)}" if unrestored else ""
            raise TagwatchError(
                f"nothing written: {rewrite.name}: cannot replace: {exc.strerror or exc}{tail}"
            ) from exc
        done.append((rewrite, target))


def _stage(target: Path, data: bytes, name: str) -> Path:
    """A temporary file beside `target` holding `data`, with `target`'s permissions."""
    try:
        mode = target.stat().st_mode & 0o7777
        # The prefix is shortened so a long file name still leaves room for the suffix.
        fd, temp = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name[:64]}.", suffix=".tmp"
        )
    except OSError as exc:
        raise TagwatchError(f"nothing written: {name}: cannot write: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise TagwatchError(f"nothing written: {name}: cannot write: {exc.strerror}") from exc
    return Path(temp)


def _restore(done: Sequence[tuple[Rewrite, Path]]) -> list[str]:
    """Put back the originals already replaced; the names of those that could not be."""
    failed: list[str] = []
    for rewrite, target in reversed(done):
        try:
            os.replace(_stage(target, rewrite.original, rewrite.name), target)
        except (OSError, TagwatchError):
            failed.append(rewrite.name)
    return failed
