"""Rendering an alert as a Slack message: fallback text and Block Kit blocks built with
slack_sdk's models (each validated), within Slack's limits. Pure: needs only the payload.

Payload keys read beyond the core's (`core/alerts.py`), rendered when present: a move's
`same_images` (no platform image changed) and `workloads` ({"running_old": [...],
"at_risk": [...]}, each `{cluster, namespace, kind, name, container, pods}` with `pods` a
count or a list of names), from the latest scan of each cluster.
"""

from __future__ import annotations

from typing import Any

from tagwatch.core.alerts import Alert, AlertKind
from tagwatch.notify.blocks import MAX_BLOCKS, MAX_HEADER, MAX_SECTION, message
from tagwatch.notify.render_finding import finding_blocks, resolved_blocks
from tagwatch.notify.render_move import move_blocks, signature_blocks

__all__ = ["MAX_BLOCKS", "MAX_HEADER", "MAX_SECTION", "render"]


#: Alert kinds about a cluster finding (the payload's `condition` says which).
FINDING_KINDS = frozenset({"skew", "at_risk", "stuck_rollout"})


def render(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """The fallback text (notifications, incoming webhooks' previews) and the blocks."""
    kind = AlertKind(alert.kind).value
    if kind in FINDING_KINDS:
        text, blocks, keep = finding_blocks(alert.payload)
    elif kind == "resolved":
        text, blocks, keep = resolved_blocks(alert.payload)
    elif kind == "signature":
        text, blocks, keep = signature_blocks(alert.payload)
    else:
        text, blocks, keep = move_blocks(alert.payload)
    return text, message(blocks, keep_last=keep)
