"""Block Kit checked with slack_sdk's own models: what Slack would refuse as invalid_blocks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

#: Slack's limits: blocks in a message, a header's text, a section's text and each field.
MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10


def problems(blocks: Sequence[Any]) -> list[str]:
    """What is wrong with `blocks` (empty when Slack would take them)."""
    out: list[str] = []
    if not isinstance(blocks, list | tuple):
        return [f"blocks are a {type(blocks).__name__}, not a list"]
    if len(blocks) > MAX_BLOCKS:
        out.append(f"{len(blocks)} blocks (at most {MAX_BLOCKS})")
    for index, raw in enumerate(blocks):
        where = f"block {index}"
        if not isinstance(raw, dict):
            out.append(f"{where} is not an object")
            continue
        model = Block.parse(raw)
        if model is None or type(model) is Block:
            out.append(f"{where}: unknown type {raw.get('type')!r}")
            continue
        try:
            model.validate_json()
        except SlackObjectFormationError as exc:
            out.append(f"{where}: {exc}")
            continue
        if model.to_dict() != raw:
            out.append(f"{where}: keys the model does not know: {raw}")
        kind = raw["type"]
        header = raw["text"] if kind == "header" else None
        if header and (header["type"] != "plain_text" or len(header["text"]) > MAX_HEADER):
            out.append(f"{where}: header text must be plain_text of at most {MAX_HEADER}")
        if kind == "section":
            if "text" in raw and len(raw["text"]["text"]) > MAX_SECTION:
                out.append(f"{where}: section text over {MAX_SECTION}")
            cells = raw.get("fields") or []
            if len(cells) > MAX_FIELDS or any(len(c["text"]) > MAX_FIELD for c in cells):
                out.append(f"{where}: at most {MAX_FIELDS} fields of {MAX_FIELD} characters")
        if kind == "context":
            elements = raw["elements"]
            if len(elements) > MAX_CONTEXT_ELEMENTS or any(
                len(e.get("text", "")) > MAX_SECTION for e in elements
            ):
                out.append(f"{where}: context elements over the limits")
    return out


def validated(blocks: Sequence[Any]) -> list[dict[str, Any]]:
    """`blocks`, after failing the test when slack_sdk's models or Slack's limits refuse them."""
    found = problems(blocks)
    assert not found, "invalid Block Kit: " + "; ".join(found)
    return list(blocks)


_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
_CODE_BLOCK = re.compile(r"\s*```(.*?)```", re.DOTALL)


def _plain(mrkdwn: str) -> str:
    """mrkdwn as a reader sees it: dates as their text, links as their label, code blocks
    indented on their own lines (a README's fence must not meet a ``` inside)."""
    text = _DATE.sub(lambda m: m.group(1), mrkdwn)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _CODE_BLOCK.sub(
        lambda m: "\n" + "\n".join(f"    {x}" for x in m.group(1).split("\n")), text
    )
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def as_text(blocks: Sequence[dict[str, Any]]) -> str:
    """A message's blocks as plain text, one paragraph a block (the README's examples)."""
    paragraphs: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            paragraphs.append(block["text"]["text"].upper())
        elif kind == "section":
            parts = [block["text"]["text"]] if "text" in block else []
            parts += [cell["text"] for cell in block.get("fields") or []]
            paragraphs.append("\n".join(_plain(p) for p in parts))
        elif kind == "context":
            paragraphs.append(" · ".join(_plain(e.get("text", "")) for e in block["elements"]))
        elif kind == "divider":
            paragraphs.append("---")
    return "\n\n".join(paragraphs)
