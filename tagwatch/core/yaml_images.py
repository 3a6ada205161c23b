"""Image references in Kubernetes YAML: podSpec-shaped container lists and Kustomize `images:`.

One of the two core modules that read YAML (with `yaml_documents`): PyYAML's node API gives the
character offsets the exact pin edits need, and it does no I/O (the text comes in as a string).
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from tagwatch.core.image_uses import ImageUse, RefKind, read_reference
from tagwatch.core.workloads import PullPolicy
from tagwatch.core.yaml_errors import YamlProblem
from tagwatch.errors import UsageError

__all__ = ["yaml_images"]

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


def yaml_images(text: str, path: str) -> list[ImageUse]:
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
    ref, problem, invalid = read_reference(raw, kind="image")
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
        ref, problem, invalid = read_reference(raw, kind="kustomize image")
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
