"""A tag move as a Slack message: what changed, when, which builds, who runs the old bytes,
and the one fix (the digest to pin, as `tagwatch pin` writes it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from tagwatch.notify.blocks import MAX_SECTION, context, fields, header, section
from tagwatch.notify.mrkdwn import code, code_block, esc, plural, short_digest, slack_date, upto

__all__ = ["MAX_WORKLOADS", "move_blocks", "signature_blocks"]

#: Workloads listed per group before "…and N more": a phone shows a handful, not fifty.
MAX_WORKLOADS = 5

_CHANGE_WORDS = {
    "moved": ("was re-pushed", "re-push: the tag now points at a digest it never had"),
    "repointed": (
        "was re-pointed",
        "re-point or rollback: the tag points again at a digest it had before",
    ),
    "deleted": ("was deleted", "deleted: the tag is gone from the registry"),
    "restored": ("was restored", "restored: a deleted tag is back"),
    "first_seen": ("was first seen", "first seen: tagwatch has no earlier record of this tag"),
}


def _link_or_code(value: str) -> str:
    """A source URL as a link (tappable on a phone); anything else as code."""
    if value.startswith(("https://", "http://")) and not any(c in value for c in "<>|"):
        return f"<{value}>"
    return code(value)


def _build_field(name: str, build: Mapping[str, Any] | None) -> str:
    if not build:
        return f"*{name}*\nbuild labels not known"
    lines = [f"*{name}*"]
    for label in ("revision", "version"):
        if build.get(label):
            lines.append(f"{label} {code(build[label])}")
    if build.get("source"):
        lines.append(f"source {_link_or_code(str(build['source']))}")
    if build.get("created"):
        lines.append(f"created {slack_date(build['created'])}")
    platforms = build.get("platforms") or {}
    if platforms:
        lines.append(plural(len(platforms), "platform"))
    if len(lines) == 1:
        lines.append("no revision or source labels")
    return "\n".join(lines)


def _workload_line(entry: Mapping[str, Any]) -> str:
    kind = str(entry.get("kind") or "workload").lower()
    where = f"{code(entry.get('cluster') or '?')} " if entry.get("cluster") else ""
    line = f"• {where}{esc(entry.get('namespace') or 'default')}/{kind}/{esc(entry.get('name'))}"
    if entry.get("container"):
        line += f" ({esc(entry['container'])})"
    pods = entry.get("pods")
    count = len(pods) if isinstance(pods, list | tuple) else pods
    if isinstance(count, int):
        line += f": {plural(count, 'pod')}"
    return line


def _workloads(title: str, entries: Sequence[Mapping[str, Any]]) -> str:
    lines = [_workload_line(e) for e in entries]
    return upto(title, lines, limit=MAX_SECTION, most=MAX_WORKLOADS)


def _fix(payload: Mapping[str, Any], name: str, *, suspect_new: bool = False) -> str:
    ref = str(payload.get("ref") or name)
    old, new = payload.get("from_digest"), payload.get("to_digest")
    if suspect_new:
        # The new digest failed its signing policy: pinning it would run what nobody vouched for.
        if not old:
            return (
                "*Fix* nothing before it to pin: do not deploy this digest until you know who "
                "pushed it"
            )
        return (
            "*Fix* until you know who pushed it, pin the digest before it, as `tagwatch pin` "
            f"writes it:\n{code_block([f'image: {ref}@{old}'])}"
        )
    if new:
        return (
            f"*Fix* pin the digest you mean to run, as `tagwatch pin` writes it:\n"
            f"{code_block([f'image: {ref}@{new}'])}"
        )
    if old:
        return (
            "*Fix* the tag is gone: pin the last digest it had, as `tagwatch pin` writes it:\n"
            f"{code_block([f'image: {ref}@{old}'])}"
        )
    return "*Fix* nothing to pin: the tag has no digest"


def move_blocks(
    payload: Mapping[str, Any], *, suspect_new: bool = False
) -> tuple[str, list[Block], int]:
    """The fallback text, the blocks, and how many blocks at the end (the fix) must stay.
    `suspect_new`: the new digest failed its signing policy, so the fix pins the old one."""
    change = str(payload.get("change", "moved"))
    verb, meaning = _CHANGE_WORDS.get(change, (f"changed ({change})", change))
    name = str(payload.get("familiar") or payload.get("ref") or "?")
    old, new = payload.get("from_digest"), payload.get("to_digest")
    text = f"{name} {verb}: {short_digest(old)} → {short_digest(new)}"
    blocks: list[Block] = [header(f"{name} {verb}")]
    summary = [
        f"*Tag* {code(payload.get('ref') or name)}",
        f"*Digest* {code(short_digest(old))} → {code(short_digest(new))}",
        f"*Kind* {meaning}",
    ]
    if payload.get("same_images"):
        summary.append(
            "*No platform image changed*: only the index is new (attestations or annotations); "
            "the images that run are the same"
        )
    start, end = payload.get("window_start"), payload.get("detected_at")
    via = esc(payload.get("source") or "poll")
    if payload.get("pushed_by"):
        via += f", pushed by {code(payload['pushed_by'])}"
    if start:
        summary.append(
            f"*Moved* between {slack_date(start)} (old digest last seen) and "
            f"{slack_date(end)} (detected by {via})"
        )
    else:
        summary.append(f"*Detected* {slack_date(end)} (by {via})")
    blocks.append(section("\n".join(summary)))
    full = [f"*Old* {code_block([str(old)]) if old else '(none)'}"]
    full.append(f"*New* {code_block([str(new)]) if new else '(none)'}")
    blocks.append(section("\n".join(full)))
    if payload.get("before") or payload.get("after") or change in ("moved", "repointed"):
        blocks.append(
            fields(
                [
                    _build_field("Before", payload.get("before")),
                    _build_field("After", payload.get("after")),
                ]
            )
        )
    platforms = payload.get("platforms") or {}
    lines = [
        f"{label}: " + ", ".join(code(v) for v in platforms.get(label) or [])
        for label in ("changed", "added", "removed")
        if platforms.get(label)
    ]
    if lines:
        blocks.append(section(upto("*Platforms*", lines, limit=MAX_SECTION)))
    workloads = payload.get("workloads") or {}
    if workloads.get("running_old"):
        blocks.append(section(_workloads("*Running the old bytes now*", workloads["running_old"])))
    if workloads.get("at_risk"):
        blocks.append(
            section(
                _workloads("*At risk*: the next restart pulls the new bytes", workloads["at_risk"])
            )
        )
    labels = payload.get("labels") or {}
    blocks.append(section(_fix(payload, name, suspect_new=suspect_new)))
    if labels:
        blocks.append(context(", ".join(f"{esc(k)}={esc(v)}" for k, v in labels.items())))
        return text, blocks, 2
    return text, blocks, 1


def signature_blocks(payload: Mapping[str, Any]) -> tuple[str, list[Block], int]:
    """A move whose new digest failed its signing policy: the verdict first, then the move."""
    verdict = payload.get("signature") or {}
    name = str(payload.get("familiar") or payload.get("ref") or "?")
    status = str(verdict.get("status") or "rejected")
    what = "is not signed" if status == "unsigned" else "is not signed by anyone the policy names"
    new = payload.get("to_digest")
    text = f"High severity: {name} now points to {short_digest(new)}, which {what}"
    lines = [
        f"*Signing policy* {code(verdict.get('policy') or '?')}: {esc(status)}",
        f"*Why* {esc(verdict.get('reason') or 'no signature the policy accepts')}",
        "*Ask* was this digest built and pushed by your CI? If not, pin the previous digest "
        "and find who pushed.",
    ]
    _, move, keep = move_blocks(payload, suspect_new=True)
    blocks: list[Block] = [
        header(f":rotating_light: {name}: new digest {what}"),
        section("\n".join(lines)),
    ]
    return text, blocks + move[1:], keep
