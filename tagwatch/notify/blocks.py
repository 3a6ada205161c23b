"""Block Kit blocks built with slack_sdk's models, cut to the models' own limits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from tagwatch.notify.mrkdwn import ELLIPSIS, truncate

__all__ = [
    "MAX_BLOCKS",
    "MAX_FIELD",
    "MAX_FIELDS",
    "MAX_HEADER",
    "MAX_SECTION",
    "context",
    "divider",
    "fields",
    "header",
    "message",
    "section",
]

#: Slack's limits, as slack_sdk's models enforce them (a message's blocks: Slack's docs).
MAX_BLOCKS = 50
MAX_SECTION = SectionBlock.text_max_length
MAX_HEADER = HeaderBlock.text_max_length
MAX_FIELDS = SectionBlock.fields_max_length
MAX_FIELD = 2000
MAX_CONTEXT_ELEMENTS = ContextBlock.elements_max_length


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, MAX_HEADER), emoji=True))


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, MAX_SECTION)))


def fields(texts: Sequence[str]) -> SectionBlock:
    """Side by side on a wide screen, one under the other on a phone."""
    return SectionBlock(
        fields=[MarkdownTextObject(text=truncate(t, MAX_FIELD)) for t in texts[:MAX_FIELDS]]
    )


def context(*texts: str) -> ContextBlock:
    """Small grey text under a message: labels, where a finding came from."""
    return ContextBlock(
        elements=[
            MarkdownTextObject(text=truncate(t, MAX_SECTION)) for t in texts[:MAX_CONTEXT_ELEMENTS]
        ]
    )


def divider() -> DividerBlock:
    return DividerBlock()


def message(blocks: Sequence[Block], *, keep_last: int = 0) -> list[dict[str, Any]]:
    """The blocks as Slack takes them (each validated by its model), at most MAX_BLOCKS: past
    that, the middle is cut with "…and N more blocks" and the last `keep_last` (the fix) stay."""
    out = list(blocks)
    if len(out) > MAX_BLOCKS:
        tail = out[len(out) - keep_last :] if keep_last else []
        room = MAX_BLOCKS - 1 - len(tail)
        dropped = len(out) - room - len(tail)
        out = [*out[:room], context(f"{ELLIPSIS}and {dropped} more"), *tail]
    return [block.to_dict() for block in out]
