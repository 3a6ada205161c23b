"""An image reference found in a manifest or Dockerfile: where it is, and whether it is pinned.

`ImageUse` is what the YAML and Dockerfile readers (`yaml_images`, `dockerfile_images`) return
and what the pin edits (`pinning`) rewrite; `consequence(use)` says what it means in a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tagwatch.core.references import ImageRef
from tagwatch.core.workloads import PullPolicy, default_pull_policy
from tagwatch.errors import InvalidReference

__all__ = ["ImageUse", "RefKind", "UseState", "consequence", "read_reference"]

_TEMPLATED = re.compile(r"\$\{?[A-Za-z_]|\{\{")


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
    #: A Dockerfile reference built from `ARG`s, with their defaults put in: the image a build
    #: without `--build-arg` uses (`ref` stays None: the file itself names no fixed image).
    with_defaults: ImageRef | None = None

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


def read_reference(raw: str, *, kind: str) -> tuple[ImageRef | None, str | None, bool]:
    """The reference, or why there is none, and whether that is because `raw` is invalid."""
    if _TEMPLATED.search(raw):
        return None, f"{kind} is templated ({raw}): resolve it before it can be checked", False
    try:
        return ImageRef.parse(raw), None, False
    except InvalidReference as exc:
        return None, exc.problem, True
