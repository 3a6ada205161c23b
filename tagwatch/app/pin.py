"""Lint and pin: read manifests and Dockerfiles, resolve their tags, rewrite them to digests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagwatch.app.check import CheckResult, run_check
from tagwatch.app.files import Rewrite, Skipped, read_regular, replace_all
from tagwatch.app.progress import ProgressHook
from tagwatch.core.builds import same_build
from tagwatch.core.digests import Digest
from tagwatch.core.dockerfile_images import is_dockerfile
from tagwatch.core.drift import moves_since
from tagwatch.core.image_uses import ImageUse, UseState, consequence
from tagwatch.core.moves import BuildInfo
from tagwatch.core.pinning import Edit, apply_edits, edit_for, find_images, pinned_value
from tagwatch.core.references import ImageRef
from tagwatch.core.times import iso_utc, utcnow
from tagwatch.errors import TagwatchError, UsageError

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = [
    "LoadedFiles",
    "PinAction",
    "PinReport",
    "PinResult",
    "SourceFile",
    "lint_json",
    "load_files",
    "pin_files",
    "write_files",
]

_YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A manifest or Dockerfile as read: its exact bytes, its text, and the images it names."""

    path: Path
    name: str  # as the user named it, for messages
    data: bytes
    text: str
    uses: tuple[ImageUse, ...]


@dataclass(frozen=True, slots=True)
class LoadedFiles:
    """The files read, and those named but skipped (not regular files, or too large)."""

    files: list[SourceFile]
    skipped: list[Skipped]


def _expand(raw: str) -> list[Path]:
    path = Path(raw)
    if not path.is_dir():
        return [path]
    found = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and (p.suffix.lower() in _YAML_SUFFIXES or is_dockerfile(p.name, ""))
    ]
    return found


def load_files(paths: Sequence[str]) -> LoadedFiles:
    """Read and parse every file (a directory means its YAML files and Dockerfiles).

    Only regular files are read: others (FIFOs, devices) and files over the size cap are
    skipped and listed. Raises UsageError naming the file (and line, for YAML) when one
    cannot be read or parsed, or when nothing was left to read, before anything else happens.
    """
    if not paths:
        raise UsageError("name at least one file (Kubernetes YAML or Dockerfile) or directory")
    files: list[SourceFile] = []
    skipped: list[Skipped] = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        for path in _expand(raw):
            name = str(path)
            read = read_regular(path, name)
            if isinstance(read, Skipped):
                skipped.append(read)
                continue
            data, identity = read
            if identity in seen:
                continue
            seen.add(identity)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data.count(b"\n", 0, exc.start) + 1
                raise UsageError(f"{name}:{line}: not UTF-8 text") from exc
            files.append(SourceFile(path, name, data, text, tuple(find_images(text, name))))
    if skipped and not files:
        raise UsageError(f"nothing to read: {skipped[0]}" + (" (and more)" if skipped[1:] else ""))
    return LoadedFiles(files, skipped)


def lint_json(use: ImageUse) -> dict[str, Any]:
    """One found reference as JSON (what `tagwatch lint -o json` prints)."""
    policy = use.effective_pull_policy
    return {
        "file": use.path,
        "line": use.line,
        "column": use.column,
        "kind": use.kind.value,
        "where": use.where,
        "image": use.raw,
        "ref": str(use.ref) if use.ref else None,
        "state": use.state.value,
        "pull_policy": policy.value if policy else None,
        "consequence": consequence(use),
    }


class PinAction(StrEnum):
    """What `tagwatch pin` does (or would do) with one reference."""

    PIN = "pin"  # a tag, resolved: pin it to the digest it points to now
    OK = "ok"  # pinned, and the tag still points to the pinned digest
    DRIFT = "drift"  # pinned, but the tag has moved elsewhere since (left as is without --update)
    UPDATE = "update"  # pinned, the tag moved, and --update re-pins it
    PINNED = "pinned"  # pinned by digest only: no tag to verify
    SKIPPED = "skipped"  # a build argument or template: cannot be resolved here
    ERROR = "error"  # the tag could not be resolved


@dataclass(frozen=True, slots=True)
class PinResult:
    """One reference and what pinning it means: the tag's digest now and the new value."""

    use: ImageUse
    action: PinAction
    digest: Digest | None = None  # what the tag points to now
    replacement: str | None = None  # the new value written (pin, update)
    message: str | None = None
    moved_at: datetime | None = None  # drift: when the tag was seen moving off the pinned digest

    def to_json(self) -> dict[str, Any]:
        use = self.use
        return {
            "file": use.path,
            "line": use.line,
            "where": use.where,
            "image": use.raw,
            "action": self.action.value,
            "digest": str(self.digest) if self.digest else None,
            "pinned_digest": str(use.ref.digest) if use.ref and use.ref.digest else None,
            "replacement": self.replacement,
            "moved_at": iso_utc(self.moved_at),
            "message": self.message,
        }


@dataclass(slots=True)
class PinReport:
    """Every reference of every file, what was done, and which files were rewritten."""

    results: list[PinResult]
    written: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[PinResult]:
        return [r for r in self.results if r.action is PinAction.ERROR]

    @property
    def drifted(self) -> list[PinResult]:
        return [r for r in self.results if r.action is PinAction.DRIFT]


def _judge(
    use: ImageUse,
    result: CheckResult | None,
    *,
    update: bool,
    builds: Mapping[Digest, BuildInfo],
) -> PinResult:
    ref = use.ref
    if use.state is UseState.INVALID:
        return PinResult(use, PinAction.ERROR, message=consequence(use))
    if use.state is UseState.UNRESOLVABLE or ref is None:
        return PinResult(use, PinAction.SKIPPED, message=consequence(use))
    if ref.tag is None:
        return PinResult(use, PinAction.PINNED, message="pinned by digest only: no tag to verify")
    if result is None or result.error or result.digest is None:
        error = str(result.error) if result and result.error else "tag not found in the registry"
        return PinResult(use, PinAction.ERROR, message=error)
    now = result.digest
    if ref.digest is None:
        return PinResult(use, PinAction.PIN, now, pinned_value(use, now))
    if same_build(ref.digest, now, builds):
        return PinResult(use, PinAction.OK, now)
    if update:
        return PinResult(
            use,
            PinAction.UPDATE,
            now,
            pinned_value(use, now),
            message=f"tag moved from the pinned {ref.digest.short} to {now.short}",
        )
    return PinResult(
        use,
        PinAction.DRIFT,
        now,
        message=(
            f"tag now points to {now.short}, not the pinned {ref.digest.short}; "
            "re-pin with --update after review"
        ),
    )


async def pin_files(
    files: Sequence[SourceFile],
    *,
    registry: RegistryClient,
    store: Store,
    update: bool = False,
    now: Callable[[], datetime] = utcnow,
    on_progress: ProgressHook | None = None,
) -> PinReport:
    """Resolve every tag the files name (concurrently, recorded in the history) and judge each.

    Unpinned tags get the digest they point to now; pinned `repo:tag@digest` references are
    verified against the tag (drift when it moved; re-pinned only with `update`).
    `on_progress(done, total)` counts the tags resolved.
    """
    uses = [use for f in files for use in f.uses]
    tags = [u.ref.without_digest() for u in uses if u.ref is not None and u.ref.tag is not None]
    checked = (
        await run_check(tags, registry=registry, store=store, now=now, on_progress=on_progress)
        if tags
        else []
    )
    by_ref = {r.ref: r for r in checked}
    builds = {r.digest: r.build for r in checked if r.digest and r.build}
    results: list[PinResult] = []
    for use in uses:
        result = by_ref.get(use.ref.without_digest()) if use.ref is not None else None
        results.append(_judge(use, result, update=update, builds=builds))
    drifted = [r for r in results if r.action in (PinAction.DRIFT, PinAction.UPDATE)]
    if drifted:
        results = _with_move_times(results, store)
    return PinReport(results)


def _with_move_times(results: list[PinResult], store: Store) -> list[PinResult]:
    refs: list[ImageRef] = [
        r.use.ref.without_digest()
        for r in results
        if r.action in (PinAction.DRIFT, PinAction.UPDATE) and r.use.ref is not None
    ]
    with store.begin() as tx:
        histories = tx.histories(refs)
        digests = {s.digest for h in histories.values() for s in h.sightings if s.digest}
        builds = tx.builds(digests)
    out: list[PinResult] = []
    for r in results:
        ref = r.use.ref
        if r.action in (PinAction.DRIFT, PinAction.UPDATE) and ref is not None and ref.digest:
            since = moves_since(histories[ref.without_digest()], ref.digest, builds)
            if since.moved_at is not None:
                r = PinResult(r.use, r.action, r.digest, r.replacement, r.message, since.moved_at)
        out.append(r)
    return out


def _edits(file: SourceFile, results: Sequence[PinResult]) -> list[Edit]:
    edits: list[Edit] = []
    for r in results:
        if r.use.path != file.name or r.digest is None:
            continue
        if r.action in (PinAction.PIN, PinAction.UPDATE):
            edits.append(edit_for(r.use, r.digest, file.text))
    return edits


def write_files(files: Sequence[SourceFile], report: PinReport) -> list[str]:
    """Rewrite the files in place, pinning what `report` resolved; returns the files written.

    Writes nothing when any reference failed to resolve, when a value cannot be edited in
    place, or when a file changed since it was read. All or nothing across files: every new
    file is written beside its original first, then all are renamed over the originals (with
    their permissions kept); a rename that fails puts back the originals already replaced.
    """
    if report.failed:
        names = ", ".join(f"{r.use.location} {r.use.raw}" for r in report.failed[:3])
        more = f" and {len(report.failed) - 3} more" if len(report.failed) > 3 else ""
        raise TagwatchError(f"nothing written: could not resolve {names}{more}")
    planned: list[tuple[SourceFile, bytes]] = []
    for file in files:
        edits = _edits(file, report.results)
        if not edits:
            continue
        new_text = apply_edits(file.text, edits)
        # Re-parse: the edit must leave exactly the same references, now pinned.
        after = find_images(new_text, file.name)
        if len(after) != len(file.uses):
            raise UsageError(f"{file.name}: pinning would change its structure; nothing written")
        planned.append((file, new_text.encode("utf-8")))
    for file, _ in planned:
        current = read_regular(file.path, file.name)
        if isinstance(current, Skipped) or current[0] != file.data:
            raise UsageError(f"{file.name} changed while pinning; nothing written, run again")
    replace_all([Rewrite(file.path, file.name, file.data, data) for file, data in planned])
    report.written = [file.name for file, _ in planned]
    return report.written
