"""A cluster finding (skew, at risk, stuck rollout) as a Slack message: where, which pods run
which digest on which nodes, when the tag moved, and one fix; and the reply when it is over."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from tagwatch.notify.blocks import MAX_BLOCKS, MAX_SECTION, context, header, section
from tagwatch.notify.mrkdwn import (
    ELLIPSIS,
    code,
    esc,
    plural,
    short_digest,
    slack_date,
    upto,
)

__all__ = ["MAX_PODS", "finding_blocks", "resolved_blocks"]

#: Pods listed per digest before "…and N more": readable on a phone.
MAX_PODS = 5
#: Nodes named in a digest's summary line before "…".
MAX_NODES = 5

TITLES = {
    "skewed": "Digest skew",
    "at_risk": "Skew at the next restart",
    "stuck_rollout": "Stuck rollout",
}


def _title(payload: Mapping[str, Any]) -> str:
    return TITLES.get(str(payload.get("condition") or "skewed"), TITLES["skewed"])


def _workload(payload: Mapping[str, Any]) -> str:
    return f"{str(payload.get('kind') or 'workload').lower()}/{payload.get('name')}"


def _pod_line(pod: Mapping[str, Any]) -> str:
    line = f"• {code(pod.get('name') or '?')} on {esc(pod.get('node') or '?')}"
    details = [esc(pod["state"])] if pod.get("state") else []
    if pod.get("started_at"):
        details.append(f"started {slack_date(pod['started_at'])}")
    if details:
        line += f" ({', '.join(details)})"
    if pod.get("explanation"):
        line += f": {esc(pod['explanation'])}"
    return line


def _nodes(pods: Sequence[Mapping[str, Any]]) -> str:
    nodes = list(dict.fromkeys(str(p.get("node")) for p in pods if p.get("node")))
    if not nodes:
        return ""
    shown = ", ".join(esc(n) for n in nodes[:MAX_NODES])
    more = f" {ELLIPSIS}and {len(nodes) - MAX_NODES} more" if len(nodes) > MAX_NODES else ""
    return f" on {plural(len(nodes), 'node')}: {shown}{more}"


def _notes(digest: str, now: object, build: Mapping[str, Any] | None) -> str:
    """` (the tag now, revision `abc`)`: what a digest is, in one parenthesis."""
    notes = ["the tag now"] if digest == now else []
    notes += [f"{k} {code(build[k])}" for k in ("revision", "version") if build and build.get(k)]
    return f" ({', '.join(notes)})" if notes else ""


def _digest_section(
    digest: str,
    names: Sequence[str],
    pods: Sequence[Mapping[str, Any]],
    *,
    now: object,
    build: Mapping[str, Any] | None,
) -> str:
    detail = list(pods) or [{"name": n} for n in names]
    title = (
        f"*{code(short_digest(digest))}*{_notes(digest, now, build)}: "
        f"{plural(len(names) or len(detail), 'pod')}{_nodes(detail)}\n{code(digest)}"
    )
    return upto(title, [_pod_line(p) for p in detail], limit=MAX_SECTION, most=MAX_PODS)


_PIN = "pin the digest: "


def _step(step: str) -> str:
    """A fix step with what to type in code and the prose around it as text."""
    if step.startswith(_PIN):
        return f"{_PIN}{code(step.removeprefix(_PIN))}"
    if step.startswith("kubectl "):
        command, paren, caveat = step.partition(" (")
        return code(command) + (f" ({esc(caveat)}" if paren else "")
    return esc(step)


def _fix(payload: Mapping[str, Any]) -> str:
    """One fix in one spelling: the scan's own steps (it knows the pull policy), else the
    restart and the pin `tagwatch pin` would write (`repo:tag@sha256:…`)."""
    steps = [str(s) for s in payload.get("remediation") or []]
    if not steps:
        fix = payload.get("fix") or {}
        if fix.get("restart"):
            steps.append(str(fix["restart"]))
        ref, now = payload.get("ref"), payload.get("tag_digest_now")
        if ref and now:
            steps.append(f"{_PIN}image: {ref}@{now}")
    if not steps:
        return "*Fix* restart the workload once the tag points where you want it"
    # The same command twice (a rollout's steps and the skew's restart) is said once.
    commands = {s.partition(" (")[0]: s for s in reversed(steps)}
    lines = [f"• {_step(s)}" for s in steps if commands[s.partition(" (")[0]] == s]
    return "*Fix*\n" + "\n".join(lines)


def finding_blocks(payload: Mapping[str, Any]) -> tuple[str, list[Block], int]:
    """The fallback text, the blocks, and how many blocks at the end (the fix) must stay."""
    title = _title(payload)
    workload = _workload(payload)
    namespace = str(payload.get("namespace") or "default")
    container = str(payload.get("container") or "")
    cluster = payload.get("cluster")
    digests: Mapping[str, Sequence[str]] = payload.get("digests") or {}
    now = payload.get("tag_digest_now")
    where = f" in cluster {cluster}" if cluster else ""
    if title == TITLES["skewed"]:
        text = (
            f"Digest skew: {workload} in {namespace} ({container}){where} runs "
            f"{len(digests)} different digests of {payload.get('image')}"
        )
    else:
        text = (
            f"{title}: {workload} in {namespace} ({container}){where}, image {payload.get('image')}"
        )
    blocks: list[Block] = [header(f"{title}: {workload} ({namespace})")]
    summary = []
    if cluster:
        summary.append(f"*Cluster* {code(cluster)}")
    summary += [
        f"*Workload* {code(workload)} in namespace {code(namespace)}, container {code(container)}",
        f"*Image* {code(payload.get('image'))}",
        f"*Tag now* {code(short_digest(now)) if now else 'unknown'}",
    ]
    if payload.get("last_move_at"):
        summary.append(f"*Tag moved* {slack_date(payload['last_move_at'])}")
    rollout = payload.get("rollout") or {}
    if payload.get("condition") == "stuck_rollout" and rollout.get("reason"):
        summary.append(f"*Rollout* {esc(rollout['reason'])}")
    blocks.append(section("\n".join(summary)))
    why = [f"• {esc(r)}" for r in payload.get("reasons") or []]
    if payload.get("risk"):
        why.insert(0, f"*Risk* {esc(payload['risk'])}")
    if why:
        blocks.append(section(upto("", why, limit=MAX_SECTION)))
    pods: Sequence[Mapping[str, Any]] = payload.get("pods") or []
    by_digest: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        by_digest.setdefault(str(pod.get("digest") or ""), []).append(pod)
    builds: Mapping[str, Any] = payload.get("builds") or {}
    # Room for what is around the digests: the fix, the labels, "…and N more digests".
    room = MAX_BLOCKS - len(blocks) - 3
    items = list(digests.items())
    for index, (digest, names) in enumerate(items):
        if index == room and len(items) > room:
            blocks.append(context(f"{ELLIPSIS}and {len(items) - index} more digests"))
            break
        blocks.append(
            section(
                _digest_section(
                    digest, names, by_digest.get(digest, []), now=now, build=builds.get(digest)
                )
            )
        )
    blocks.append(section(_fix(payload)))
    labels = payload.get("labels") or {}
    if labels:
        blocks.append(context(", ".join(f"{esc(k)}={esc(v)}" for k, v in labels.items())))
        return text, blocks, 2
    return text, blocks, 1


def resolved_blocks(payload: Mapping[str, Any]) -> tuple[str, list[Block], int]:
    """The short reply in the finding's thread: which finding, and how long it lasted."""
    title = _title(payload)
    workload = _workload(payload)
    namespace = str(payload.get("namespace") or "default")
    cluster = payload.get("cluster")
    where = f" in cluster {cluster}" if cluster else ""
    after = payload.get("resolved_after") or "a while"
    text = f"Resolved after {after}: {title.lower()} of {workload} ({namespace}){where}"
    lines = [
        f"*Resolved* after {esc(after)}: {esc(title.lower())} of {code(workload)} in "
        f"namespace {code(namespace)}" + (f", cluster {code(cluster)}" if cluster else ""),
    ]
    if payload.get("resolved_at"):
        lines.append(
            f"Uniform on the tag's digest since {slack_date(payload['resolved_at'])}"
            + (f" (found {slack_date(payload['opened_at'])})" if payload.get("opened_at") else "")
        )
    return text, [section("\n".join(lines))], 1
