"""Image references in manifests and Dockerfiles: where each is, whether pinned, and pin edits.

Pure: every function takes the text of a file (and its name, for messages) and returns what it
found or the edited text. Reading and writing files, and asking registries, happen in the app.

- `find_images(text, path)` finds every image reference in Kubernetes YAML (any podSpec-shaped
  `containers`/`initContainers`/`ephemeralContainers`, Kustomize `images:`) or a Dockerfile
  (`FROM`, `COPY --from=`), with its line, column and exact span in the text.
- `pinned_value(use, digest)` is the text that pins a use to a digest; `apply_edits(text, edits)`
  replaces exactly those spans and nothing else.
- `base_drift(...)` judges an image built on a base digest against the base tag's history.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import yaml

from tagwatch.core.builds import same_build
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef, split_reference
from tagwatch.core.workloads import PullPolicy, default_pull_policy
from tagwatch.core.yaml_errors import YamlProblem
from tagwatch.errors import InvalidReference, UsageError

__all__ = [
    "BaseDrift",
    "DriftState",
    "Edit",
    "ImageUse",
    "MovesSince",
    "RefKind",
    "UseState",
    "apply_edits",
    "base_drift",
    "consequence",
    "edit_for",
    "find_images",
    "is_dockerfile",
    "moves_since",
    "pinned_value",
    "same_build",
]

#: libyaml's parser when PyYAML was built with it (about 10x faster); its marks count
#: characters too, so spans index the same text.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)

_POD_LISTS = {
    "containers": "container",
    "initContainers": "initContainer",
    "ephemeralContainers": "ephemeralContainer",
}
_TEMPLATED = re.compile(r"\$\{?[A-Za-z_]|\{\{")
_DOCKERFILE_NAME = re.compile(
    r"(?i)^(?:docker|container)file(?:\..+)?$|.+\.(?:docker|container)file$"
)
_FIRST_INSTRUCTION = re.compile(r"(?i)^\s*(from|arg)\s+\S")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


class RefKind(StrEnum):
    """Where an image reference was written."""

    CONTAINER = "container"
    INIT_CONTAINER = "initContainer"
    EPHEMERAL_CONTAINER = "ephemeralContainer"
    KUSTOMIZE = "kustomize"
    FROM = "from"  # a Dockerfile FROM line
    COPY_FROM = "copy_from"  # a Dockerfile COPY --from=<image>


class UseState(StrEnum):
    """Whether a reference names fixed bytes."""

    PINNED = "pinned"  # carries a digest: the bytes cannot change
    UNPINNED = "unpinned"  # a tag only: the bytes are whatever the tag points to at pull time
    UNRESOLVABLE = "unresolvable"  # a build arg or template: cannot be checked here
    INVALID = "invalid"  # not a reference at all (a malformed digest, a list): a finding


@dataclass(frozen=True, slots=True)
class ImageUse:
    """One image reference in a file: where it is, what it says, and how to rewrite it.

    `line`/`column` are 1-based. `span` is the (start, end) character offsets of the value
    in the text (inside quotes for a quoted YAML scalar), or None when it cannot be edited
    in place. For Kustomize entries `span` is the insertion point for a `digest:` line.
    """

    path: str
    line: int
    column: int
    kind: RefKind
    raw: str
    ref: ImageRef | None
    where: str
    span: tuple[int, int] | None = None
    pull_policy: PullPolicy | None = None  # the explicit imagePullPolicy, if any
    problem: str | None = None
    indent: str = ""  # Kustomize: the indentation of the entry's keys
    invalid: bool = False  # the value is no valid reference (`problem` says why)

    @property
    def state(self) -> UseState:
        if self.ref is None:
            return UseState.INVALID if self.invalid else UseState.UNRESOLVABLE
        return UseState.PINNED if self.ref.digest is not None else UseState.UNPINNED

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def effective_pull_policy(self) -> PullPolicy | None:
        """The pull policy Kubernetes applies (explicit, or its default); None for builds."""
        if self.kind in (RefKind.FROM, RefKind.COPY_FROM, RefKind.KUSTOMIZE):
            return self.pull_policy
        return self.pull_policy or default_pull_policy(self.ref)


def consequence(use: ImageUse) -> str:
    """What running or building from this reference means, in one sentence."""
    state = use.state
    if state is UseState.UNRESOLVABLE:
        return use.problem or "cannot be checked statically"
    if state is UseState.INVALID:
        return f"not a valid image reference: {use.problem}"
    if state is UseState.PINNED:
        return "pinned: every node and build gets the same bytes"
    if use.kind in (RefKind.FROM, RefKind.COPY_FROM):
        return (
            "each build resolves the tag anew (or reuses a cached copy): rebuilds of the same "
            "commit can ship a different base"
        )
    if use.kind is RefKind.KUSTOMIZE:
        return "kustomize renders a tag: the pull policy of the rendered container decides"
    policy = use.effective_pull_policy
    if policy is PullPolicy.ALWAYS:
        return (
            "pull policy Always: every container start re-resolves the tag, so a restart alone "
            "can run different bytes"
        )
    if policy is PullPolicy.NEVER:
        return "pull policy Never: each node runs whatever it has under that tag"
    return (
        "pull policy IfNotPresent: nodes keep the bytes they pulled first, so replicas can run "
        "different bytes after the tag moves"
    )


def is_dockerfile(path: str, text: str) -> bool:
    """A Dockerfile by name (Dockerfile, Containerfile, *.Dockerfile, Dockerfile.*) or content."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if name.lower().endswith((".yaml", ".yml", ".json")):
        return False
    if _DOCKERFILE_NAME.match(name):
        return True
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        return bool(_FIRST_INSTRUCTION.match(stripped)) and ": " not in stripped
    return False


def find_images(text: str, path: str) -> list[ImageUse]:
    """Every image reference in `text` (a Dockerfile or Kubernetes YAML), in file order.

    Raises UsageError naming the file and line when YAML does not parse.
    """
    if is_dockerfile(path, text):
        return _dockerfile_images(text, path)
    return _yaml_images(text, path)


# -- references --------------------------------------------------------------------------


def _parse(raw: str, *, kind: str) -> tuple[ImageRef | None, str | None, bool]:
    """The reference, or why there is none, and whether that is because `raw` is invalid."""
    if _TEMPLATED.search(raw):
        return None, f"{kind} is templated ({raw}): resolve it before it can be checked", False
    try:
        return ImageRef.parse(raw), None, False
    except InvalidReference as exc:
        return None, exc.problem, True


def pinned_value(use: ImageUse, digest: Digest) -> str:
    """The text that pins `use` to `digest`, keeping the reference as the user wrote it.

    `nginx:1.27` -> `nginx:1.27@sha256:…`; `nginx` -> `nginx:latest@sha256:…` (the tag stays
    visible so the pin can be verified later); `repo:tag@old` -> `repo:tag@new`.
    For a Kustomize entry, the `digest:` line to insert.
    """
    if use.kind is RefKind.KUSTOMIZE:
        return f"digest: {digest}" if use.indent else str(digest)
    name, tag, _ = split_reference(use.raw)
    return f"{name}:{tag or 'latest'}@{digest}"


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace `text[start:end]` with `new` (start == end inserts)."""

    start: int
    end: int
    new: str


def edit_for(use: ImageUse, digest: Digest, text: str) -> Edit:
    """The edit pinning `use` to `digest` in `text`; UsageError when it cannot be done in place."""
    if use.span is None:
        raise UsageError(f"{use.location}: {use.raw} cannot be rewritten in place; pin it by hand")
    start, end = use.span
    if use.kind is RefKind.KUSTOMIZE and use.indent:
        newline = "\r\n" if "\r\n" in text else "\n"
        prefix = "" if start == 0 or text[start - 1] in "\r\n" else newline
        return Edit(start, start, f"{prefix}{use.indent}{pinned_value(use, digest)}{newline}")
    return Edit(start, end, pinned_value(use, digest))


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` with every edit applied; everything outside the edited spans stays as it was."""
    ordered = sorted(set(edits), key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise UsageError(f"overlapping edits at characters {before.start} and {after.start}")
    out: list[str] = []
    position = 0
    for edit in ordered:
        out.append(text[position : edit.start])
        out.append(edit.new)
        position = edit.end
    out.append(text[position:])
    return "".join(out)


# -- YAML ----------------------------------------------------------------------------------


def _yaml_problem(exc: yaml.YAMLError, path: str) -> UsageError:
    problem = YamlProblem.of(exc)
    line = f":{problem.line}" if problem.line is not None else ""
    return UsageError(f"{path}{line}: not valid YAML: {problem.reason}")


def _scalar(node: yaml.Node | None) -> str | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
        return str(node.value)
    return None


def _get(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _value_span(node: yaml.ScalarNode, text: str) -> tuple[int, int] | None:
    """The span of the scalar's characters in `text`, when they spell its value exactly."""
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("'", '"'):
        start, end = start + 1, end - 1
    elif node.style:  # block scalars (| >) cannot take a plain edit; plain is None or ""
        return None
    if text[start:end] != node.value:
        return None
    return start, end


def _doc_name(doc: yaml.Node) -> str:
    if not isinstance(doc, yaml.MappingNode):
        return ""
    kind = _scalar(_get(doc, "kind")) or ""
    metadata = _get(doc, "metadata")
    name = _scalar(_get(metadata, "name")) if isinstance(metadata, yaml.MappingNode) else None
    return f"{kind}/{name}" if kind and name else kind


def _yaml_images(text: str, path: str) -> list[ImageUse]:
    try:
        documents = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, path) from None
    uses: list[ImageUse] = []
    for doc in documents:
        if doc is None:
            continue
        owner = _doc_name(doc)
        uses.extend(_walk(doc, text, path, owner, set()))
        if isinstance(doc, yaml.MappingNode) and _is_kustomization(doc):
            uses.extend(_kustomize_images(doc, text, path))
    return sorted(uses, key=lambda u: (u.line, u.column))


def _is_kustomization(doc: yaml.MappingNode) -> bool:
    kind = _scalar(_get(doc, "kind"))
    if kind == "Kustomization":
        return True
    return (
        kind is None
        and _get(doc, "images") is not None
        and any(
            _get(doc, key) is not None for key in ("resources", "bases", "components", "namePrefix")
        )
    )


def _walk(node: yaml.Node, text: str, path: str, owner: str, seen: set[int]) -> Iterator[ImageUse]:
    if id(node) in seen:  # an alias: the anchored node was (or will be) reported once
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield from _walk(child, text, path, owner, seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    owner = _doc_name(node) if _get(node, "kind") is not None else owner  # List items
    for key, value in node.value:
        field = key.value if isinstance(key, yaml.ScalarNode) else None
        if field in _POD_LISTS and isinstance(value, yaml.SequenceNode):
            for container in value.value:
                if isinstance(container, yaml.MappingNode) and id(container) not in seen:
                    seen.add(id(container))
                    use = _container(container, RefKind(_POD_LISTS[field]), text, path, owner)
                    if use is not None:
                        yield use
        yield from _walk(value, text, path, owner, seen)


def _container(
    node: yaml.MappingNode, kind: RefKind, text: str, path: str, owner: str
) -> ImageUse | None:
    image = _get(node, "image")
    if image is None:
        return None
    name = _scalar(_get(node, "name")) or "?"
    where = f"{owner} {kind.value} {name}".strip()
    policy_raw = _scalar(_get(node, "imagePullPolicy"))
    policy = next((p for p in PullPolicy if p.value == policy_raw), None)
    line, column = image.start_mark.line + 1, image.start_mark.column + 1
    raw = _scalar(image)
    if raw is None or not isinstance(image, yaml.ScalarNode):
        return ImageUse(
            path,
            line,
            column,
            kind,
            # A list or mapping is shown by its kind, never as PyYAML's dump of the node.
            image.value
            if isinstance(image, yaml.ScalarNode)
            else "<sequence>"
            if isinstance(image, yaml.SequenceNode)
            else "<mapping>",
            None,
            where,
            pull_policy=policy,
            problem="image is not a string",
            invalid=True,
        )
    ref, problem, invalid = _parse(raw, kind="image")
    return ImageUse(
        path,
        line,
        column,
        kind,
        raw,
        ref,
        where,
        span=_value_span(image, text),
        pull_policy=policy,
        problem=problem,
        invalid=invalid,
    )


def _kustomize_images(doc: yaml.MappingNode, text: str, path: str) -> Iterator[ImageUse]:
    images = _get(doc, "images")
    if not isinstance(images, yaml.SequenceNode):
        return
    for entry in images.value:
        if not isinstance(entry, yaml.MappingNode):
            continue
        name = _scalar(_get(entry, "name"))
        if name is None:
            continue
        new_name = _scalar(_get(entry, "newName")) or name
        tag_node = _get(entry, "newTag")
        tag = tag_node.value if isinstance(tag_node, yaml.ScalarNode) else None
        digest = _scalar(_get(entry, "digest"))
        raw = new_name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
        anchor = tag_node if tag_node is not None else _get(entry, "newName") or _get(entry, "name")
        assert anchor is not None
        line, column = anchor.start_mark.line + 1, anchor.start_mark.column + 1
        ref, problem, invalid = _parse(raw, kind="kustomize image")
        span: tuple[int, int] | None = None
        indent = ""
        digest_node = _get(entry, "digest")
        if isinstance(digest_node, yaml.ScalarNode):
            span = _value_span(digest_node, text)  # --update replaces the digest in place
        elif not entry.flow_style:
            # Block style: a `digest:` line goes right after the entry's last line.
            end = entry.value[-1][1].end_mark.index
            newline = text.find("\n", end)
            insert_at = len(text) if newline < 0 else newline + 1
            rest = text[end:insert_at].strip()
            if not rest or rest.startswith("#"):
                span = (insert_at, insert_at)
                indent = " " * entry.value[0][0].start_mark.column
        yield ImageUse(
            path,
            line,
            column,
            RefKind.KUSTOMIZE,
            raw,
            ref,
            f"kustomization images {name}",
            span=span,
            problem=problem,
            indent=indent,
            invalid=invalid,
        )


# -- Dockerfile ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Instruction:
    """A logical Dockerfile line: its text and the offset in the file of each of its characters."""

    text: str
    offsets: tuple[int, ...]
    line: int  # 1-based line of its first character

    def tokens(self) -> Iterator[tuple[str, int]]:
        for match in re.finditer(r"\S+", self.text):
            yield match.group(), match.start()


def _escape_char(text: str) -> str:
    for line in text.splitlines():
        directive = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", line, re.IGNORECASE)
        if directive:
            return directive.group(1)
        if not re.match(r"^#\s*\w+\s*=", line):
            break
    return "\\"


def _instructions(text: str) -> Iterator[_Instruction]:
    escape = _escape_char(text)
    lines = text.splitlines(keepends=True)
    starts: list[int] = []
    position = 0
    for line in lines:
        starts.append(position)
        position += len(line)
    index = 0
    heredoc: tuple[str, bool] | None = None
    while index < len(lines):
        if heredoc is not None:
            word, strip = heredoc
            body = lines[index].rstrip("\r\n")
            if (body.lstrip("\t") if strip else body) == word:
                heredoc = None
            index += 1
            continue
        chars: list[str] = []
        offsets: list[int] = []
        first_line = index + 1
        while index < len(lines):
            raw = lines[index]
            content = raw.rstrip("\r\n")
            stripped = content.strip()
            if chars and (not stripped or stripped.startswith("#")):
                index += 1  # comments and blank lines inside a continuation are dropped
                continue
            if not chars and (not stripped or stripped.startswith("#")):
                index += 1
                first_line = index + 1
                break
            body = content.rstrip()
            continued = body.endswith(escape)
            if continued:
                body = body[: -len(escape)]
            for column, char in enumerate(body):
                chars.append(char)
                offsets.append(starts[index] + column)
            index += 1
            if not continued:
                break
            chars.append(" ")
            offsets.append(-1)
        if chars:
            instruction = _Instruction("".join(chars), tuple(offsets), first_line)
            yield instruction
            marker = _HEREDOC.search(instruction.text)
            if marker and instruction.text.split(None, 1)[0].upper() in ("RUN", "COPY", "ADD"):
                heredoc = (marker.group(3), marker.group(1) == "-")


def _line_of(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _dockerfile_images(text: str, path: str) -> list[ImageUse]:
    uses: list[ImageUse] = []
    stages: set[str] = set()
    stage_count = 0
    for instruction in _instructions(text):
        tokens = list(instruction.tokens())
        if not tokens:
            continue
        keyword = tokens[0][0].upper()
        if keyword == "FROM":
            args = [t for t in tokens[1:] if not t[0].startswith("--")]
            platform = next(
                (
                    t[0].split("=", 1)[1]
                    for t in tokens[1:]
                    if t[0].lower().startswith("--platform=")
                ),
                None,
            )
            if not args:
                continue
            image, position = args[0]
            alias = args[2][0] if len(args) >= 3 and args[1][0].upper() == "AS" else None
            stage_count += 1
            label = f"stage {alias}" if alias else f"stage {stage_count - 1}"
            where = f"FROM ({label}{', platform ' + platform if platform else ''})"
            if image.lower() != "scratch" and image.lower() not in stages:
                uses.append(
                    _docker_use(text, path, instruction, image, position, RefKind.FROM, where)
                )
            if alias:
                stages.add(alias.lower())
        elif keyword in ("COPY", "ADD"):
            for token, position in tokens[1:]:
                if not token.lower().startswith("--from="):
                    continue
                image = token.split("=", 1)[1]
                if image.lower() in stages or image.isdigit():
                    continue
                start = position + len("--from=")
                uses.append(
                    _docker_use(
                        text, path, instruction, image, start, RefKind.COPY_FROM, "COPY --from"
                    )
                )
    return uses


def _docker_use(
    text: str,
    path: str,
    instruction: _Instruction,
    image: str,
    position: int,
    kind: RefKind,
    where: str,
) -> ImageUse:
    start = instruction.offsets[position]
    end_index = position + len(image) - 1
    contiguous = instruction.offsets[end_index] == start + len(image) - 1
    line, column = _line_of(text, start)
    if "$" in image:
        return ImageUse(
            path,
            line,
            column,
            kind,
            image,
            None,
            where,
            problem=f"uses a build argument ({image}): the image is chosen at build time and "
            "cannot be checked here; pin the ARG default or the --build-arg",
        )
    ref, problem, invalid = _parse(image, kind="image")
    span = (
        (start, start + len(image))
        if contiguous and text[start : start + len(image)] == image
        else None
    )
    return ImageUse(
        path, line, column, kind, image, ref, where, span=span, problem=problem, invalid=invalid
    )


# -- base-image drift ---------------------------------------------------------------------


class DriftState(StrEnum):
    """How an image's base compares with what its base tag points to now."""

    CURRENT = "current"  # the base tag still points to the base the image was built on
    BEHIND = "behind"  # the base tag has moved away from it: rebuild to pick up the new base
    UNKNOWN = "unknown"  # no base labels, or the base tag was never observed


@dataclass(frozen=True, slots=True)
class BaseDrift:
    """An image judged against its base tag's history.

    `moves_behind` counts the base tag's moves since it last pointed to `base_digest`; when
    the history never saw `base_digest` (`exact` False) it is a lower bound and `moved_at`
    is None. `moved_at` is when the first of those moves was detected; `window_start` when
    the old base was last seen (the move happened in between).
    """

    ref: ImageRef
    digest: Digest | None
    state: DriftState
    base: ImageRef | None = None
    base_digest: Digest | None = None
    base_now: Digest | None = None
    moves_behind: int = 0
    exact: bool = True
    moved_at: datetime | None = None
    window_start: datetime | None = None
    reason: str = ""


def base_drift(
    ref: ImageRef,
    digest: Digest | None,
    build: BuildInfo | None,
    base_history: TagHistory | None,
    builds: Mapping[Digest, BuildInfo],
) -> BaseDrift:
    """Judge `ref` (at `digest`, whose `build` carries the base labels) against its base tag.

    `base_history` is the history of the tag named by `org.opencontainers.image.base.name`;
    `builds` the recorded builds of the base's digests (to match platform children).
    """
    if build is None:
        return BaseDrift(ref, digest, DriftState.UNKNOWN, reason="build not recorded")
    raw_name, raw_digest = build.label("base.name"), build.label("base.digest")
    if not raw_name or not raw_digest:
        return BaseDrift(
            ref,
            digest,
            DriftState.UNKNOWN,
            reason="no org.opencontainers.image.base.name/base.digest labels",
        )
    try:
        base = ImageRef.parse(raw_name)
        base_digest = Digest.parse(raw_digest)
    except ValueError as exc:
        return BaseDrift(ref, digest, DriftState.UNKNOWN, reason=f"bad base label: {exc}")
    if base.tag is None:
        return BaseDrift(
            ref,
            digest,
            DriftState.UNKNOWN,
            base=base,
            base_digest=base_digest,
            reason="base named by digest only: there is no tag to compare with",
        )
    base = base.without_digest()
    current = base_history.current if base_history is not None else None
    if base_history is None or current is None:
        return BaseDrift(
            ref,
            digest,
            DriftState.UNKNOWN,
            base=base,
            base_digest=base_digest,
            reason="base tag never observed",
        )
    if current.digest is not None and same_build(base_digest, current.digest, builds):
        return BaseDrift(
            ref,
            digest,
            DriftState.CURRENT,
            base=base,
            base_digest=base_digest,
            base_now=current.digest,
        )
    since = moves_since(base_history, base_digest, builds)
    return BaseDrift(
        ref,
        digest,
        DriftState.BEHIND,
        base=base,
        base_digest=base_digest,
        base_now=current.digest,
        moves_behind=since.moves,
        exact=since.exact,
        moved_at=since.moved_at,
        window_start=since.window_start,
        reason=""
        if since.exact
        else "the base tag never pointed to this base in the recorded history",
    )


@dataclass(frozen=True, slots=True)
class MovesSince:
    """How far a tag has moved on from a digest: `moves` sightings since it last pointed there.

    `exact` is False when the history never saw the digest (`moves` is then a lower bound, 1,
    and the times are None); `moved_at` is when the first later digest was detected,
    `window_start` when the digest was last seen under the tag.
    """

    moves: int
    exact: bool
    moved_at: datetime | None = None
    window_start: datetime | None = None


def moves_since(
    history: TagHistory, digest: Digest, builds: Mapping[Digest, BuildInfo]
) -> MovesSince:
    """How many times `history`'s tag moved since it last pointed to `digest` (or its build)."""
    sightings = history.sightings
    last = max(
        (i for i, s in enumerate(sightings) if s.digest and same_build(digest, s.digest, builds)),
        default=None,
    )
    if last is None:
        return MovesSince(moves=1, exact=False)
    later = sightings[last + 1 :]
    if not later:
        return MovesSince(moves=0, exact=True)
    return MovesSince(
        moves=len(later),
        exact=True,
        moved_at=later[0].first_seen,
        window_start=sightings[last].last_seen,
    )
