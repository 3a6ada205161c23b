"""BuildKit provenance: the base image an in-toto SLSA statement says a build started from.

BuildKit (buildx, `docker build` with provenance on) attaches an in-toto statement per
platform image: SLSA provenance v0.2 lists the build's inputs under `predicate.materials`,
v1 under `predicate.buildDefinition.resolvedDependencies`; both as `{uri, digest}` with
image inputs written as package URLs, `pkg:docker/<namespace>/<name>@<tag>?platform=...`.
Among those inputs are also the Dockerfile frontend (`# syntax=docker/dockerfile:1`), git
sources, and in a multi-stage build every stage's image: the base is the image of the
stage that was built last. With `mode=max` the statement carries the LLB graph, and the
final stage's image is found by walking it back from the result; without it, one image
input is the base, and several are reported as candidates for the caller to tell apart.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import InvalidReference

__all__ = [
    "ATTESTATION_MANIFEST",
    "IN_TOTO_MEDIA_TYPE",
    "PREDICATE_TYPE_ANNOTATION",
    "SLSA_PROVENANCE_TYPES",
    "DockerMaterial",
    "ProvenanceBase",
    "base_from_statement",
    "parse_docker_purl",
    "parse_statement",
]

#: `vnd.docker.reference.type` of an index entry holding a platform image's attestations.
ATTESTATION_MANIFEST = "attestation-manifest"
IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type"
SLSA_PROVENANCE_TYPES = frozenset(
    {"https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1"}
)

_DOCKER_PURL = "pkg:docker/"
_IMAGE_SOURCE = "docker-image://"
#: The Dockerfile frontends BuildKit pulls for `# syntax=`: build tools, never a base.
_FRONTENDS = frozenset({"docker.io/docker/dockerfile", "docker.io/docker/dockerfile-upstream"})
#: How deep the LLB walk goes before giving up on a graph that loops or never ends.
_MAX_STEPS = 10_000


@dataclass(frozen=True, slots=True)
class DockerMaterial:
    """An image a build used: `ref` as it was asked for (a tag, `latest` when none was
    written), the `digest` it resolved to, and the platform it was pulled for."""

    ref: ImageRef
    digest: Digest | None
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class ProvenanceBase:
    """What one provenance statement says about the base: `base` when it names one;
    otherwise `candidates` (several image inputs it cannot tell apart) and `reason`."""

    base: DockerMaterial | None
    candidates: tuple[DockerMaterial, ...] = ()
    reason: str = ""


def parse_docker_purl(uri: str) -> tuple[ImageRef, Digest | None, str | None] | None:
    """`pkg:docker/<ns>/<name>@<tag>?digest=…&platform=…` as (ref, digest, platform).

    None for any other URI (git sources, HTTP files, other package types). BuildKit writes
    the familiar name (`alpine` for docker.io/library/alpine, `ghcr.io/org` as the namespace
    of ghcr.io/org/app), percent-encodes each part, and puts the tag after `@`; a digest-only
    reference has no version and a `digest` qualifier. Raises ValueError for a docker purl
    that names no valid image.
    """
    if not uri.startswith(_DOCKER_PURL):
        return None
    rest = uri[len(_DOCKER_PURL) :].split("#", 1)[0]
    rest, _, query = rest.partition("?")
    qualifiers = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
    path, at, version = rest.rpartition("@")
    if not at:
        path, version = rest, ""
    segments = [unquote(part) for part in path.split("/") if part]
    if not segments:
        raise ValueError(f"{uri}: a docker package URL without a name")
    name = "/".join(segments)
    tag = unquote(version) or None
    digest: Digest | None = None
    if qualifiers.get("digest"):
        digest = Digest.parse(qualifiers["digest"])
    raw = name + (f":{tag}" if tag else "")
    try:
        ref = ImageRef.parse(raw, default_tag=None if digest else "latest")
    except InvalidReference as exc:
        raise ValueError(f"{uri}: {exc.problem}") from None
    if qualifiers.get("repository_url"):
        # The purl spec's way to name a registry (BuildKit puts it in the namespace instead).
        host = qualifiers["repository_url"].split("://")[-1].strip("/")
        try:
            ref = ImageRef.parse(f"{host}/{ref.repository.removeprefix('library/')}:{ref.tag}")
        except InvalidReference as exc:
            raise ValueError(f"{uri}: {exc.problem}") from None
    return ref, digest, qualifiers.get("platform") or None


def parse_statement(body: bytes) -> Mapping[str, Any]:
    """An in-toto statement as JSON; raises ValueError when it is not a JSON object."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _materials(predicate: Mapping[str, Any]) -> list[Any]:
    for path in (("materials",), ("buildDefinition", "resolvedDependencies")):
        found = _get(predicate, *path)
        if isinstance(found, list):
            return found
    return []


def _frontend(predicate: Mapping[str, Any]) -> str | None:
    """The repository of the frontend image the build ran (`source` / `cmdline` option)."""
    for args in (
        _get(predicate, "invocation", "parameters", "args"),
        _get(predicate, "buildDefinition", "externalParameters", "request", "args"),
    ):
        if not isinstance(args, dict):
            continue
        for key in ("source", "cmdline"):
            raw = args.get(key)
            if isinstance(raw, str) and raw:
                try:
                    return ImageRef.parse(raw.split()[0]).name
                except InvalidReference:
                    continue
    return None


def _images(predicate: Mapping[str, Any]) -> list[DockerMaterial]:
    frontend = _frontend(predicate)
    images: list[DockerMaterial] = []
    for entry in _materials(predicate):
        uri = entry.get("uri") if isinstance(entry, dict) else None
        if not isinstance(uri, str):
            continue
        try:
            parsed = parse_docker_purl(uri)
        except ValueError:
            continue  # a malformed input is no base; the others may still name one
        if parsed is None:
            continue
        ref, digest, platform = parsed
        if ref.name in _FRONTENDS or ref.name == frontend:
            continue
        sha = _get(entry, "digest", "sha256")
        if isinstance(sha, str):
            with contextlib.suppress(ValueError):  # a bad digest: keep the purl's own
                digest = Digest.parse(f"sha256:{sha}")
        material = DockerMaterial(ref, digest, platform)
        if material not in images:
            images.append(material)
    return images


def _llb_steps(predicate: Mapping[str, Any]) -> list[Any] | None:
    for path in (
        ("buildConfig", "llbDefinition"),
        ("buildDefinition", "internalParameters", "buildConfig", "llbDefinition"),
    ):
        found = _get(predicate, *path)
        if isinstance(found, list) and found:
            return found
    return None


def _op(step: Mapping[str, Any], kind: str) -> Any:
    """The `kind` part of a step's op (`source`, `exec`, `file`), whatever the JSON casing."""
    op = step.get("op")
    for holder in (_get(op, "Op"), op):
        if isinstance(holder, dict):
            for key, value in holder.items():
                if key.lower() == kind:
                    return value
    return None


def _index(value: Any) -> int:
    # Protobuf's JSON leaves out zero values: a missing input index is input 0.
    return value if isinstance(value, int) else 0


def _root_input(step: Mapping[str, Any], inputs: int) -> int:
    """Which input holds the file system a step works on; -1 when it starts from nothing.

    An exec works on the input mounted at `/`; a file op's last action on its `input` (an
    index into the step's inputs, or past them the output of an earlier action, or -1 for
    scratch, as a `COPY --from=build` into `FROM scratch` is); any other op on its first.
    """
    mounts = _get(_op(step, "exec"), "mounts")
    if isinstance(mounts, list):
        for mount in mounts:
            if isinstance(mount, dict) and mount.get("dest") == "/":
                return _index(mount.get("input"))
        return 0
    actions = _get(_op(step, "file"), "actions")
    if isinstance(actions, list) and actions:
        action: Any = actions[-1]
        for _ in range(len(actions) + 1):
            index = _index(action.get("input")) if isinstance(action, dict) else 0
            if index < inputs:
                return index
            earlier = index - inputs
            if earlier >= len(actions):
                return -1
            action = actions[earlier]
        return -1
    return 0


def _final_stage_image(steps: Sequence[Any]) -> str | bool | None:
    """The `docker-image://` source the result's root file system comes from.

    The last step is the result; following each op's root input back leads to the final
    stage's `FROM`, past the stages it only copies from (`COPY --from`, mounts). False when
    the walk ends elsewhere (`FROM scratch`, a local source); None when the graph cannot be
    followed.
    """
    by_id = {s.get("id"): s for s in steps if isinstance(s, dict)}
    step = steps[-1] if isinstance(steps[-1], dict) else None
    for _ in range(_MAX_STEPS):
        if step is None:
            return None
        source = _op(step, "source")
        if source is not None:
            identifier = _get(source, "identifier")
            if not isinstance(identifier, str):
                return None
            return identifier if identifier.startswith(_IMAGE_SOURCE) else False
        inputs = step.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return False  # nothing below it: an empty root, `FROM scratch`
        root = _root_input(step, len(inputs))
        if root < 0 or root >= len(inputs):
            return False
        chosen = inputs[root]
        if isinstance(chosen, dict):
            chosen = chosen.get("digest")
        step = by_id.get(str(chosen).split(":", 1)[0]) if isinstance(chosen, str) else None
    return None


def _matching(identifier: str, images: Sequence[DockerMaterial]) -> DockerMaterial | None:
    raw = identifier[len(_IMAGE_SOURCE) :]
    try:
        ref = ImageRef.parse(raw)
    except InvalidReference:
        return None
    for image in images:
        if ref.digest is not None and image.digest == ref.digest:
            return image
    named = [i for i in images if i.ref.name == ref.name and i.ref.tag == ref.tag]
    return named[0] if len(named) == 1 else None


def base_from_statement(statement: Mapping[str, Any]) -> ProvenanceBase:
    """The base image a SLSA provenance statement (v0.2 or v1) names, or why it names none."""
    predicate_type = statement.get("predicateType")
    if predicate_type not in SLSA_PROVENANCE_TYPES:
        return ProvenanceBase(None, reason=f"not SLSA provenance ({predicate_type})")
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict):
        return ProvenanceBase(None, reason="provenance without a predicate")
    images = _images(predicate)
    steps = _llb_steps(predicate)
    if steps is not None:
        final = _final_stage_image(steps)
        if final is False:
            return ProvenanceBase(None, reason="the final stage is built FROM scratch")
        if isinstance(final, str):
            found = _matching(final, images)
            if found is not None:
                return ProvenanceBase(found)
    if not images:
        return ProvenanceBase(None, reason="the provenance lists no base image")
    if len(images) == 1:
        return ProvenanceBase(images[0])
    names = ", ".join(str(i.ref) for i in images)
    return ProvenanceBase(
        None,
        candidates=tuple(images),
        reason=f"several images among the build's inputs ({names}) and no build graph",
    )
