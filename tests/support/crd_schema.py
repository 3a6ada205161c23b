"""Cut a CustomResourceDefinition's schema down to the fields a policy of ours uses.

The CRDs themselves are large (Kyverno's ClusterPolicy is 1.4 MB), so the tests keep only the
subtrees tagwatch's policies touch, with descriptions dropped. Objects get
`additionalProperties: false` unless the CRD preserves unknown fields, which is what
`kubectl apply --validate=strict` does with a field the CRD does not know.

    python -m tests.support.crd_schema CRD.yaml VERSION PATH[,PATH...] > schema.json

PATH is a dotted path below the schema root (`spec.rules.validate`): the subtree there is kept
whole; the objects on the way keep only the properties named.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import yaml


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _strip(v) for k, v in node.items() if k != "description"}
        closed = out.get("type") == "object" and "properties" in out
        if closed and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _child(node: dict[str, Any], name: str) -> dict[str, Any]:
    target = node["items"] if node.get("type") == "array" else node
    child: dict[str, Any] = target["properties"][name]
    return child


def subset(schema: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """`schema` with only the named paths below its root, each path's end kept whole."""
    kept: dict[str, Any] = _skeleton(schema)
    for path in paths:
        source, target = schema, kept
        parts = path.split(".")
        for i, name in enumerate(parts):
            child = _child(source, name)
            holder = target["items"] if target.get("type") == "array" else target
            props = holder.setdefault("properties", {})
            if i == len(parts) - 1:
                props[name] = _strip(child)
            else:
                props.setdefault(name, _skeleton(child))
            source, target = child, props[name]
    return kept


def _skeleton(node: dict[str, Any]) -> dict[str, Any]:
    """The node without its properties (added back one by one), unknown fields refused."""
    out = {k: _strip(v) for k, v in node.items() if k not in ("properties", "items", "description")}
    if "items" in node:
        out["items"] = _skeleton(node["items"])
    if out.get("type") == "object":
        out["additionalProperties"] = False
        out["required"] = [r for r in node.get("required", [])]
    return out


def crd_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
            return schema
    raise SystemExit(f"{crd['metadata']['name']} has no version {version}")


def main() -> None:
    path, version, paths = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    with open(path, encoding="utf-8") as f:
        crd = yaml.safe_load(f)
    schema = subset(crd_schema(crd, version), paths)
    json.dump(schema, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
