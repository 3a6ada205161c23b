"""Rendering an alert as a Slack message: fallback text and Block Kit blocks, within limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tagwatch.core.alerts import Alert, AlertKind

__all__ = ["MAX_BLOCKS", "MAX_HEADER", "MAX_SECTION", "render"]

#: Slack's limits: blocks per message, characters in a section's text and in a header.
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
_ELLIPSIS = "…"

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

Block = dict[str, Any]


def _esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _header(text: str) -> Block:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _truncate(text, MAX_HEADER), "emoji": True},
    }


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text, MAX_SECTION)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(text, 3000)}]}


def _lines(title: str, lines: Sequence[str], limit: int = MAX_SECTION) -> str:
    """`title` and as many `lines` as fit in `limit` characters, then `…and N more`."""
    out = title
    for index, line in enumerate(lines):
        rest = len(lines) - index - 1
        tail = f"\n{_ELLIPSIS}and {rest + 1} more"
        candidate = f"{out}\n{line}"
        reserve = len(f"\n{_ELLIPSIS}and {rest} more") if rest else 0
        if len(candidate) + reserve > limit:
            return out + tail
        out = candidate
    return out


def _short(digest: str | None) -> str:
    if not digest:
        return "(none)"
    algorithm, _, encoded = digest.partition(":")
    return f"{algorithm}:{encoded[:12]}"


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`"


def _build_line(name: str, build: Mapping[str, Any] | None) -> str:
    if not build:
        return f"*{name}*: build labels not known"
    parts: list[str] = []
    for label in ("revision", "version", "source", "created"):
        value = build.get(label)
        if value:
            parts.append(f"{label} {_code(_esc(str(value)))}")
    platforms = build.get("platforms") or {}
    if platforms:
        parts.append(f"{len(platforms)} platform{'s' if len(platforms) != 1 else ''}")
    return f"*{name}*: " + (", ".join(parts) if parts else "no revision or source labels")


def _cap_blocks(blocks: list[Block]) -> list[Block]:
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    dropped = len(blocks) - (MAX_BLOCKS - 1)
    return [*blocks[: MAX_BLOCKS - 1], _context(f"{_ELLIPSIS}and {dropped} more")]


def _render_move(payload: Mapping[str, Any]) -> tuple[str, list[Block]]:
    change = str(payload.get("change", "moved"))
    verb, meaning = _CHANGE_WORDS.get(change, (f"changed ({change})", change))
    name = str(payload.get("familiar") or payload.get("ref") or "?")
    old, new = payload.get("from_digest"), payload.get("to_digest")
    text = f"{name} {verb}: {_short(old)} → {_short(new)}"
    blocks: list[Block] = [_header(f"{name} {verb}")]
    blocks.append(
        _section(
            f"*Tag* {_code(_esc(str(payload.get('ref') or name)))}\n"
            f"*Digest* {_code(_short(old))} → {_code(_short(new))}\n"
            f"*Kind* {meaning}"
        )
    )
    blocks.append(
        _section(
            f"*Old* {_code(old) if old else '(none)'}\n*New* {_code(new) if new else '(none)'}"
        )
    )
    start, end = payload.get("window_start"), payload.get("detected_at")
    via = payload.get("source") or "poll"
    if start:
        window = f"*Moved* between {start} (old digest last seen) and {end} (detected by {via})"
    else:
        window = f"*Detected* {end} (by {via})"
    blocks.append(_section(window))
    if payload.get("before") or payload.get("after") or change in ("moved", "repointed"):
        blocks.append(
            _section(
                _build_line("Before", payload.get("before"))
                + "\n"
                + _build_line("After", payload.get("after"))
            )
        )
    platforms = payload.get("platforms") or {}
    lines: list[str] = []
    for label in ("changed", "added", "removed"):
        values = platforms.get(label) or []
        if values:
            lines.append(f"{label}: " + ", ".join(_code(_esc(str(v))) for v in values))
    if lines:
        blocks.append(_section(_lines("*Platforms*", lines)))
    labels = payload.get("labels") or {}
    if labels:
        blocks.append(
            _context(", ".join(f"{_esc(str(k))}={_esc(str(v))}" for k, v in labels.items()))
        )
    return text, _cap_blocks(blocks)


def _pod_line(pod: Mapping[str, Any]) -> str:
    line = f"• {_code(_esc(str(pod.get('name') or '?')))} on {_esc(str(pod.get('node') or '?'))}"
    details = [str(pod[k]) for k in ("state", "started_at") if pod.get(k)]
    if details:
        line += f" ({_esc(', '.join(details))})"
    if pod.get("explanation"):
        line += f": {_esc(str(pod['explanation']))}"
    return line


def _render_skew(payload: Mapping[str, Any]) -> tuple[str, list[Block]]:
    kind = str(payload.get("kind") or "workload").lower()
    workload = f"{kind}/{payload.get('name')}"
    namespace = str(payload.get("namespace") or "default")
    container = str(payload.get("container") or "")
    digests: Mapping[str, Sequence[str]] = payload.get("digests") or {}
    now = payload.get("tag_digest_now")
    text = (
        f"Digest skew: {workload} in {namespace} ({container}) runs {len(digests)} different "
        f"digests of {payload.get('image')}"
    )
    blocks: list[Block] = [_header(f"Digest skew: {workload} ({namespace})")]
    cluster = payload.get("cluster")
    where = f" in cluster {_code(_esc(str(cluster)))}" if cluster else ""
    reasons = [str(r) for r in payload.get("reasons") or []]
    risk = payload.get("risk")
    why = "\n".join(f"• {_esc(r)}" for r in reasons)
    if risk:
        why = f"*Risk* {_esc(str(risk))}" + (f"\n{why}" if why else "")
    blocks.append(
        _section(
            f"*Workload* {_code(_esc(workload))} in namespace {_code(_esc(namespace))}{where}, "
            f"container {_code(_esc(container))}\n"
            f"*Image* {_code(_esc(str(payload.get('image'))))}\n"
            f"*Tag now* {_code(str(now)) if now else 'unknown'}"
        )
    )
    if why:
        blocks.append(_section(why))
    pods: Sequence[Mapping[str, Any]] = payload.get("pods") or []
    by_digest: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        by_digest.setdefault(str(pod.get("digest") or ""), []).append(pod)
    # Leave room for the header, the summary, the fix, and a possible "…and N more".
    room = MAX_BLOCKS - len(blocks) - 2
    items = list(digests.items())
    for index, (digest, names) in enumerate(items):
        if index == room - 1 and len(items) > room:
            blocks.append(_context(f"{_ELLIPSIS}and {len(items) - index} more digests"))
            break
        mark = " (the tag now)" if digest == now else ""
        detail = by_digest.get(digest) or [{"name": n} for n in names]
        lines = [_pod_line(p) for p in detail]
        title = f"*{_code(_short(digest))}*{mark}: {len(names)} pod{'s' if len(names) != 1 else ''}"
        title += f"\n{_code(digest)}"
        blocks.append(_section(_lines(title, lines)))
    fix = payload.get("fix") or {}
    fix_lines = ["*Fix*"]
    steps = [str(s) for s in payload.get("remediation") or []]
    if steps:
        # The cluster scan's own advice knows the workload kind best.
        fix_lines += [f"• {_esc(step)}" for step in steps]
    elif fix.get("restart"):
        fix_lines.append(f"restart it onto the tag's digest: `{fix['restart']}`")
    if fix.get("pin") and not any(str(fix["pin"]).removeprefix("image: ") in s for s in steps):
        fix_lines.append(f"or pin the digest in the spec: `{fix['pin']}`")
    blocks.append(_section("\n".join(fix_lines)))
    return text, _cap_blocks(blocks)


def render(alert: Alert) -> tuple[str, list[Block]]:
    """The fallback text and the Block Kit blocks of one alert; pure, needs only the payload."""
    if alert.kind is AlertKind.SKEW:
        return _render_skew(alert.payload)
    return _render_move(alert.payload)
