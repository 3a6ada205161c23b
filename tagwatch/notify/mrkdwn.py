"""Slack mrkdwn pieces: escaping, code spans, short digests, dates in the reader's time zone,
and lists that end in "…and N more" instead of running past a limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

__all__ = [
    "ELLIPSIS",
    "code",
    "code_block",
    "esc",
    "parse_time",
    "plural",
    "short_digest",
    "slack_date",
    "truncate",
    "upto",
]

ELLIPSIS = "…"


def esc(text: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    """An inline code span (backticks inside would end it early: they become quotes)."""
    return "`" + esc(text).replace("`", "'") + "`"


def code_block(lines: Sequence[str]) -> str:
    """A preformatted block; on a phone it scrolls instead of wrapping a 71-character digest."""
    body = "\n".join(esc(line).replace("```", "'''") for line in lines)
    return f"```{body}```"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def short_digest(digest: object | None) -> str:
    """`sha256:` and the first 12 hex digits, as `docker images` shows them."""
    if not digest:
        return "(none)"
    algorithm, _, encoded = str(digest).partition(":")
    return f"{algorithm}:{encoded[:12]}"


def parse_time(value: object | None) -> datetime | None:
    """An ISO 8601 time from a payload (`2026-11-01T12:00:00Z`), None if it is not one."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def slack_date(value: object | None) -> str:
    """A time every reader sees in their own time zone (`Nov 1st, 2026 12:00`); clients that
    cannot format dates show the ISO text. A value that is not a time is shown escaped."""
    when = parse_time(value)
    if when is None:
        return esc(value) if value else "unknown"
    fallback = str(value)
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{esc(fallback)}>"


def upto(title: str, lines: Sequence[str], *, limit: int, most: int | None = None) -> str:
    """`title`, then at most `most` of `lines` within `limit` characters, then
    `…and N more` for the rest."""
    shown = lines if most is None else lines[:most]
    out = title
    for index, line in enumerate(shown):
        rest = len(lines) - index - 1
        candidate = f"{out}\n{line}" if out else line
        reserve = len(f"\n{ELLIPSIS}and {rest} more") if rest else 0
        if len(candidate) + reserve > limit:
            return f"{out}\n{ELLIPSIS}and {len(lines) - index} more"
        out = candidate
    if len(lines) > len(shown):
        out += f"\n{ELLIPSIS}and {len(lines) - len(shown)} more"
    return out
