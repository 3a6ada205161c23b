"""render(alert): one Block Kit message per move or skew finding, within Slack's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tagwatch.core.alerts import Alert, AlertKind, alerts_for_move
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, PlatformDiff
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Route
from tagwatch.notify.render import MAX_BLOCKS, MAX_HEADER, MAX_SECTION, render
from tests.notify.factories import A, B, build, move, move_alert, skew_alert
from tests.support.blockkit import validated


def _render(alert: Alert) -> tuple[str, list[dict[str, Any]]]:
    """render(alert), with its blocks checked by slack_sdk's models and Slack's limits."""
    text, blocks = render(alert)
    return text, validated(blocks)


def _all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _check_limits(blocks: list[dict[str, Any]]) -> None:
    validated(blocks)
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER
            assert block["text"]["type"] == "plain_text"
        if block["type"] == "section" and "text" in block:
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
    text, blocks = _render(move_alert(change, old=old, new=new))
    assert words in _all_text(blocks)
    assert "ghcr.io/org/app:prod" in text
    _check_limits(blocks)


def test_a_move_shows_the_tag_short_and_full_digests_window_and_builds() -> None:
    text, blocks = _render(move_alert())
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
    _, blocks = _render(move_alert(Change.DELETED, new=None))
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
    _, blocks = _render(alert)
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
    _, blocks = _render(alert)
    header = blocks[0]["text"]["text"]
    assert len(header) == MAX_HEADER and header.endswith("…")
    _check_limits(blocks)


def test_hundreds_of_platforms_fit_a_section_with_and_n_more() -> None:
    platforms = tuple(f"linux/arch{i:03d}/variant-with-a-long-name" for i in range(300))
    _, blocks = _render(move_alert(platforms=PlatformDiff(changed=platforms)))
    _check_limits(blocks)
    text = next(b for b in blocks if "*Platforms*" in b.get("text", {}).get("text", ""))
    assert "…and 1 more" in text["text"]["text"]


def test_mrkdwn_control_characters_in_labels_are_escaped() -> None:
    [alert] = alerts_for_move(
        move(), before=None, after=None, routes=[Route("x")], labels={"owner": "<!channel> & co"}
    )
    body = _all_text(_render(alert)[1])
    assert "<!channel>" not in body and "&lt;!channel&gt; &amp; co" in body


def test_a_skew_alert_lists_pods_and_nodes_per_digest_and_the_fix() -> None:
    alert = skew_alert()
    text, blocks = _render(alert)
    body = _all_text(blocks)
    assert "deployment/web" in text
    assert "web-7d9f-0-0" in body and "node-1" in body
    assert "(the tag now)" in body
    assert "kubectl rollout restart deployment/web -n shop" in body
    assert "image: ghcr.io/org/app:prod@sha256:" in body  # as `tagwatch pin` writes it
    for digest in alert.payload["digests"]:
        assert digest in body
    _check_limits(blocks)


def test_a_skew_with_many_digests_and_pods_stays_within_limits() -> None:
    alert = skew_alert(digests=80, pods_per_digest=60)
    _, blocks = _render(alert)
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
    assert _render(copy) == _render(alert)


def test_a_move_alert_rendering_is_pure_and_repeatable() -> None:
    alert = move_alert()
    assert _render(alert) == _render(alert)
    assert Digest.parse(alert.payload["to_digest"]) == B


def _with(alert: Alert, kind: AlertKind | None = None, **payload: Any) -> Alert:
    """`alert` with payload keys added or replaced (what the core puts there, or will)."""
    return Alert(
        key=alert.key,
        destination=alert.destination,
        kind=kind or alert.kind,
        payload={**alert.payload, **payload},
    )


def _epoch(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def test_the_move_window_is_in_slack_dates_each_reader_sees_in_their_zone() -> None:
    _, blocks = _render(move_alert())
    body = _all_text(blocks)
    start, end = "2026-11-01T12:00:00Z", "2026-11-01T12:05:00Z"
    assert f"<!date^{_epoch(start)}^{{date_short_pretty}} {{time}}|{start}>" in body
    assert f"<!date^{_epoch(end)}^{{date_short_pretty}} {{time}}|{end}>" in body


def test_a_move_shows_both_full_digests_in_code_blocks() -> None:
    _, blocks = _render(move_alert())
    body = _all_text(blocks)
    assert f"*Old* ```{A}```" in body and f"*New* ```{B}```" in body


def test_the_fix_of_a_move_is_the_pin_tagwatch_pin_writes() -> None:
    alert = move_alert()
    _, blocks = _render(alert)
    fix = blocks[-2]["text"]["text"]  # the last block is the labels' context
    assert fix.startswith("*Fix*")
    pinned = ImageRef.parse("ghcr.io/org/app:prod").with_digest(B)
    assert f"```image: {pinned}```" in fix
    assert str(pinned) == f"ghcr.io/org/app:prod@{B}"


def test_a_deleted_tag_says_to_pin_the_last_digest_it_had() -> None:
    _, blocks = _render(move_alert(Change.DELETED, new=None))
    assert f"image: ghcr.io/org/app:prod@{A}" in _all_text(blocks)


def test_the_builds_show_revision_source_link_and_created_date() -> None:
    base = move_alert()
    before = {**base.payload["before"], "created": "2026-10-30T08:00:00Z"}
    _, blocks = _render(_with(base, before=before))
    [builds] = [b for b in blocks if "fields" in b]
    left, right = (f["text"] for f in builds["fields"])
    assert left.startswith("*Before*") and right.startswith("*After*")
    assert "revision `1111111`" in left and "revision `2222222`" in right
    assert "source <https://github.com/org/app>" in left
    assert "created <!date^" in left and "|2026-10-30T08:00:00Z>" in left


def test_a_move_with_the_same_platform_images_says_none_changed() -> None:
    _, blocks = _render(_with(move_alert(), same_images=True))
    assert "No platform image changed" in _all_text(blocks)
    _, plain = _render(_with(move_alert(), same_images=False))
    assert "No platform image changed" not in _all_text(plain)


def _workload(i: int, cluster: str = "prod-eu") -> dict[str, Any]:
    return {
        "cluster": cluster,
        "namespace": "shop",
        "kind": "Deployment",
        "name": f"web-{i}",
        "container": "app",
        "pods": 3,
    }


def test_a_move_lists_who_runs_the_old_bytes_and_who_is_at_risk() -> None:
    workloads = {
        "running_old": [_workload(1)],
        "at_risk": [_workload(2, "prod-us")],
    }
    _, blocks = _render(_with(move_alert(), workloads=workloads))
    body = _all_text(blocks)
    assert "*Running the old bytes now*\\n• `prod-eu` shop/deployment/web-1 (app): 3 pods" in body
    assert (
        "*At risk*: the next restart pulls the new bytes\\n• `prod-us` shop/deployment/web-2"
        in body
    )


def test_many_workloads_show_a_handful_then_and_n_more() -> None:
    workloads = {"running_old": [_workload(i) for i in range(42)]}
    _, blocks = _render(_with(move_alert(), workloads=workloads))
    [listed] = [b for b in blocks if "Running the old bytes" in b.get("text", {}).get("text", "")]
    lines = listed["text"]["text"].splitlines()
    assert len(lines) == 1 + 5 + 1 and lines[-1] == "…and 37 more"


def _finding(condition: str = "skewed", **payload: Any) -> Alert:
    base = skew_alert()
    return _with(
        base,
        condition=condition,
        cluster="prod-eu",
        last_move_at="2026-11-01T11:00:00Z",
        **payload,
    )


def test_a_finding_names_cluster_namespace_workload_container_and_when_the_tag_moved() -> None:
    text, blocks = _render(_finding())
    summary = blocks[1]["text"]["text"]
    assert "*Cluster* `prod-eu`" in summary
    assert "*Workload* `deployment/web` in namespace `shop`, container `app`" in summary
    assert "*Tag moved* <!date^" in summary and "|2026-11-01T11:00:00Z>" in summary
    assert "in cluster prod-eu" in text


@pytest.mark.parametrize(
    ("condition", "title"),
    [
        ("skewed", "Digest skew"),
        ("at_risk", "Skew at the next restart"),
        ("stuck_rollout", "Stuck rollout"),
    ],
)
def test_each_finding_kind_has_its_title(condition: str, title: str) -> None:
    alert = _finding(condition, rollout={"complete": False, "reason": "ProgressDeadlineExceeded"})
    text, blocks = _render(alert)
    assert blocks[0]["text"]["text"] == f"{title}: deployment/web (shop)"
    assert text.startswith(title)
    rollout = "*Rollout* ProgressDeadlineExceeded" in _all_text(blocks)
    assert rollout is (condition == "stuck_rollout")


def test_pods_are_grouped_by_digest_with_their_nodes_and_the_build() -> None:
    alert = skew_alert(digests=2, pods_per_digest=3)
    [first, second] = alert.payload["digests"]
    builds = {first: {"revision": "1111111"}, second: {"revision": "2222222"}}
    _, blocks = _render(_with(alert, builds=builds))
    groups = [b["text"]["text"] for b in blocks if "pods on" in b.get("text", {}).get("text", "")]
    assert len(groups) == 2
    old, now = groups
    assert old.startswith(f"*`sha256:{first[7:19]}`* (revision `1111111`): 3 pods on 3 nodes: ")
    assert now.startswith(f"*`sha256:{second[7:19]}`* (the tag now, revision `2222222`): ")
    assert "node-0, node-1, node-2" in old
    assert "the tag now" not in old
    assert "web-7d9f-0-0" in old and "web-7d9f-1-0" in now


def test_a_digest_run_by_many_pods_shows_a_handful_then_and_n_more() -> None:
    _, blocks = _render(skew_alert(digests=2, pods_per_digest=42))
    groups = [b["text"]["text"] for b in blocks if "pods on" in b.get("text", {}).get("text", "")]
    for group in groups:
        assert sum(line.startswith("• ") for line in group.splitlines()) == 5
        assert group.endswith("\n…and 37 more")


def test_a_finding_fix_uses_the_scans_steps_in_one_spelling() -> None:
    now = skew_alert().payload["tag_digest_now"]
    steps = [
        "kubectl rollout restart deployment/web -n shop (with imagePullPolicy Always: …)",
        f"pin the digest: image: ghcr.io/org/app:prod@{now}",
    ]
    _, blocks = _render(_with(skew_alert(), remediation=steps))
    fix = next(
        b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "").startswith("*Fix*")
    )
    assert fix == (
        "*Fix*\n• `kubectl rollout restart deployment/web -n shop` (with imagePullPolicy Always: …)"
        f"\n• pin the digest: `image: ghcr.io/org/app:prod@{now}`"
    )


def test_without_the_scans_steps_the_fix_pins_the_same_spelling() -> None:
    alert = _with(skew_alert(), remediation=[])
    now = alert.payload["tag_digest_now"]
    _, blocks = _render(alert)
    body = _all_text(blocks)
    assert f"image: ghcr.io/org/app:prod@{now}" in body
    assert "image: ghcr.io/org/app@" not in body


def test_a_resolved_finding_is_one_short_reply() -> None:
    payload = {
        "thread": "ghcr.io/org/app:prod",
        "condition": "at_risk",
        "cluster": "prod-eu",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "opened_at": "2026-11-01T10:00:00Z",
        "resolved_at": "2026-11-01T12:10:00Z",
        "resolved_after": "2 h 10 m",
    }
    text, blocks = _render(Alert("k", "alerts", AlertKind.RESOLVED, payload))
    assert text == (
        "Resolved after 2 h 10 m: skew at the next restart of deployment/web (shop) "
        "in cluster prod-eu"
    )
    [reply] = blocks
    assert (
        "found <!date^" in reply["text"]["text"]
        and "|2026-11-01T10:00:00Z>" in reply["text"]["text"]
    )


def test_a_command_the_fix_repeats_is_said_once() -> None:
    steps = [
        "kubectl rollout undo deployment/web -n shop (back to the last template that worked)",
        "kubectl rollout restart deployment/web -n shop (retry once the cause is fixed)",
        "kubectl rollout restart deployment/web -n shop (with imagePullPolicy Always: …)",
    ]
    _, blocks = _render(_with(skew_alert(), remediation=steps))
    body = _all_text(blocks)
    assert body.count("kubectl rollout restart deployment/web -n shop") == 1
    assert "retry once the cause is fixed" in body and "kubectl rollout undo" in body
