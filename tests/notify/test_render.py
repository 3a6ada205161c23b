"""render(alert): one Block Kit message per move or skew finding, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tagwatch.core.alerts import Alert, AlertKind, Route, alerts_for_move
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, PlatformDiff
from tagwatch.core.references import ImageRef
from tagwatch.notify.render import MAX_BLOCKS, MAX_HEADER, MAX_SECTION, render
from tests.notify.factories import A, B, build, move, move_alert, skew_alert


def _all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _check_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER
            assert block["text"]["type"] == "plain_text"
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION
        if block["type"] == "context":
            assert all(len(e["text"]) <= MAX_SECTION for e in block["elements"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (Change.MOVED, "re-push"),
        (Change.REPOINTED, "rollback"),
        (Change.DELETED, "deleted"),
        (Change.RESTORED, "restored"),
        (Change.FIRST_SEEN, "first seen"),
    ],
)
def test_each_kind_of_move_is_named_in_words(change: Change, words: str) -> None:
    old = None if change in (Change.FIRST_SEEN, Change.RESTORED) else A
    new = None if change is Change.DELETED else B
    text, blocks = render(move_alert(change, old=old, new=new))
    assert words in _all_text(blocks)
    assert "ghcr.io/org/app:prod" in text
    _check_limits(blocks)


def test_a_move_shows_the_tag_short_and_full_digests_window_and_builds() -> None:
    text, blocks = render(move_alert())
    body = _all_text(blocks)
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "ghcr.io/org/app:prod was re-pushed"
    assert f"`sha256:{A.short}` → `sha256:{B.short}`" in body
    assert str(A) in body and str(B) in body
    assert "2026-11-01T12:00:00Z" in body and "2026-11-01T12:05:00Z" in body
    assert "revision `1111111`" in body and "revision `2222222`" in body
    assert "https://github.com/org/app" in body
    assert "team=payments" in body
    assert f"sha256:{A.short} → sha256:{B.short}" in text


def test_a_deleted_tag_shows_no_new_digest() -> None:
    _, blocks = render(move_alert(Change.DELETED, new=None))
    assert "*New* (none)" in _all_text(blocks)


def test_index_platform_changes_are_listed() -> None:
    diff = PlatformDiff(
        added=("linux/s390x",), removed=("linux/386",), changed=("linux/amd64", "linux/arm64/v8")
    )
    [alert] = alerts_for_move(
        move(platforms=diff),
        before=build("1", platforms={"linux/amd64": A}),
        after=build("2", platforms={"linux/amd64": B, "linux/arm64/v8": A}),
        routes=[Route("x")],
        labels={},
    )
    _, blocks = render(alert)
    platforms = next(b for b in blocks if "*Platforms*" in b.get("text", {}).get("text", ""))
    text = platforms["text"]["text"]
    assert "changed: `linux/amd64`, `linux/arm64/v8`" in text
    assert "added: `linux/s390x`" in text
    assert "removed: `linux/386`" in text


def test_a_header_longer_than_150_characters_is_cut_with_an_ellipsis() -> None:
    long_ref = ImageRef.parse("registry.example.com/" + "/".join(["very-long-path"] * 12) + ":prod")
    [alert] = alerts_for_move(
        move(ref=long_ref), before=None, after=None, routes=[Route("x")], labels={}
    )
    _, blocks = render(alert)
    header = blocks[0]["text"]["text"]
    assert len(header) == MAX_HEADER and header.endswith("…")
    _check_limits(blocks)


def test_hundreds_of_platforms_fit_a_section_with_and_n_more() -> None:
    platforms = tuple(f"linux/arch{i:03d}/variant-with-a-long-name" for i in range(300))
    _, blocks = render(move_alert(platforms=PlatformDiff(changed=platforms)))
    _check_limits(blocks)
    text = next(b for b in blocks if "*Platforms*" in b.get("text", {}).get("text", ""))
    assert "…and 1 more" in text["text"]["text"]


def test_mrkdwn_control_characters_in_labels_are_escaped() -> None:
    [alert] = alerts_for_move(
        move(), before=None, after=None, routes=[Route("x")], labels={"owner": "<!channel> & co"}
    )
    body = _all_text(render(alert)[1])
    assert "<!channel>" not in body and "&lt;!channel&gt; &amp; co" in body


def test_a_skew_alert_lists_pods_and_nodes_per_digest_and_the_fix() -> None:
    alert = skew_alert()
    text, blocks = render(alert)
    body = _all_text(blocks)
    assert "deployment/web" in text
    assert "web-7d9f-0-0" in body and "node-1" in body
    assert "(the tag now)" in body
    assert "kubectl rollout restart deployment/web -n shop" in body
    assert "image: ghcr.io/org/app@sha256:" in body
    for digest in alert.payload["digests"]:
        assert digest in body
    _check_limits(blocks)


def test_a_skew_with_many_digests_and_pods_stays_within_limits() -> None:
    alert = skew_alert(digests=80, pods_per_digest=60)
    _, blocks = render(alert)
    _check_limits(blocks)
    body = _all_text(blocks)
    assert "more digests" in body
    assert "kubectl rollout restart" in body  # the fix survives truncation
    assert any("…and" in b.get("text", {}).get("text", "") for b in blocks)


def test_a_skew_alert_from_the_outbox_renders_from_its_payload_alone() -> None:
    alert = skew_alert()
    copy = Alert(
        key=alert.key,
        destination=alert.destination,
        kind=AlertKind("skew"),
        payload=json.loads(json.dumps(alert.payload)),
    )
    assert render(copy) == render(alert)


def test_a_move_alert_rendering_is_pure_and_repeatable() -> None:
    alert = move_alert()
    assert render(alert) == render(alert)
    assert Digest.parse(alert.payload["to_digest"]) == B
