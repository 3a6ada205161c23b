"""Admission policies that refuse tag-only images: Kyverno and Gatekeeper, as plain documents.

`tagwatch lint` finds unpinned references before a deploy; these policies enforce the same rule
in the cluster, for every container list a pod has (`containers`, `initContainers`,
`ephemeralContainers`, the last also through `kubectl debug`'s subresource). Namespaces left
out (kube-system by default) keep the cluster's own add-ons running.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

__all__ = [
    "CONTAINER_LISTS",
    "DEFAULT_EXCLUDED_NAMESPACES",
    "PINNED_IMAGE_PATTERN",
    "PolicyEngine",
    "gatekeeper_policy",
    "kyverno_policy",
    "policy_documents",
]

#: Every list of containers a pod spec can hold: the seed's example covered only the first.
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
DEFAULT_EXCLUDED_NAMESPACES = ("kube-system",)
#: What a pinned image ends with, as the Rego policy checks it (the digest tagwatch pins).
PINNED_IMAGE_PATTERN = "@sha256:[a-f0-9]{64}$"

_NAME = "tagwatch-require-image-digests"
_MESSAGE = (
    "Image tags are mutable: pin every image by digest (repo:tag@sha256:...). "
    "`tagwatch pin --write` rewrites manifests so."
)


class PolicyEngine(StrEnum):
    kyverno = "kyverno"
    gatekeeper = "gatekeeper"


def _kyverno_pattern(lists: Sequence[str]) -> dict[str, Any]:
    # The first list must be there (a pod's `containers`, the subresource's ephemeral ones);
    # the others are checked only when present: Kyverno's `=(…)` anchor.
    spec: dict[str, Any] = {}
    for i, name in enumerate(lists):
        spec[name if i == 0 else f"=({name})"] = [{"image": "*@sha256:*"}]
    return {"spec": spec}


def _kyverno_rule(name: str, kind: str, lists: Sequence[str], exclude: Sequence[str]) -> Any:
    rule: dict[str, Any] = {
        "name": name,
        "match": {"any": [{"resources": {"kinds": [kind]}}]},
        "validate": {
            "failureAction": "Enforce",
            "message": _MESSAGE,
            "pattern": _kyverno_pattern(lists),
        },
    }
    if exclude:
        rule["exclude"] = {"any": [{"resources": {"namespaces": list(exclude)}}]}
    return rule


def kyverno_policy(exclude_namespaces: Sequence[str] = DEFAULT_EXCLUDED_NAMESPACES) -> Any:
    """A Kyverno ClusterPolicy: a Pod rule (Kyverno extends it to every pod controller) and one
    for the `pods/ephemeralcontainers` subresource, which `kubectl debug` writes through."""
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": _NAME,
            "annotations": {
                "policies.kyverno.io/title": "Require image digests",
                "policies.kyverno.io/subject": "Pod",
                "policies.kyverno.io/description": _MESSAGE,
            },
        },
        "spec": {
            "background": True,
            "rules": [
                _kyverno_rule("require-digests", "Pod", CONTAINER_LISTS, exclude_namespaces),
                _kyverno_rule(
                    "require-digests-ephemeral",
                    "Pod/ephemeralcontainers",
                    ("ephemeralContainers",),
                    exclude_namespaces,
                ),
            ],
        },
    }


# Future keywords keep the module valid for Gatekeeper's Rego v0 engine and for Rego v1 alike.
_REGO = """package tagwatchrequireimagedigests

import future.keywords.contains
import future.keywords.if
import future.keywords.in

# A pod, a pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) or a CronJob's.
pod_spec := input.review.object.spec if input.review.object.kind == "Pod"

pod_spec := input.review.object.spec.template.spec if input.review.object.spec.template

pod_spec := input.review.object.spec.jobTemplate.spec.template.spec if {
    input.review.object.kind == "CronJob"
}

violation contains {"msg": msg} if {
    some list in {LISTS}
    some container in pod_spec[list]
    not regex.match(`{PATTERN}`, container.image)
    msg := sprintf(
        "%v %v uses image %v without a digest; pin it (repo:tag@sha256:...)",
        [list, container.name, container.image]
    )
}
"""


def _rego() -> str:
    lists = "[" + ", ".join(f'"{name}"' for name in CONTAINER_LISTS) + "]"
    return _REGO.replace("{LISTS}", lists).replace("{PATTERN}", PINNED_IMAGE_PATTERN)


_GATEKEEPER_KINDS = [
    {"apiGroups": [""], "kinds": ["Pod"]},
    {"apiGroups": ["apps"], "kinds": ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"]},
    {"apiGroups": ["batch"], "kinds": ["Job", "CronJob"]},
]


def gatekeeper_policy(
    exclude_namespaces: Sequence[str] = DEFAULT_EXCLUDED_NAMESPACES,
) -> list[Any]:
    """A Gatekeeper ConstraintTemplate (the Rego) and the Constraint that applies it."""
    kind = "TagwatchRequireImageDigests"
    template = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": kind.lower()},
        "spec": {
            "crd": {"spec": {"names": {"kind": kind}}},
            "targets": [{"target": "admission.k8s.gatekeeper.sh", "rego": _rego()}],
        },
    }
    match: dict[str, Any] = {"kinds": _GATEKEEPER_KINDS}
    if exclude_namespaces:
        match["excludedNamespaces"] = list(exclude_namespaces)
    constraint = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": _NAME},
        "spec": {"enforcementAction": "deny", "match": match},
    }
    return [template, constraint]


def policy_documents(engine: PolicyEngine, exclude_namespaces: Sequence[str]) -> list[Any]:
    """The documents to apply for `engine`, in the order `kubectl apply` needs them."""
    if engine is PolicyEngine.kyverno:
        return [kyverno_policy(exclude_namespaces)]
    return gatekeeper_policy(exclude_namespaces)
