"""Alerts from moves and skew findings: routing, payloads, and stable, distinct idempotency keys."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from tagwatch.core.alerts import (
    AlertKind,
    alerts_for_move,
    alerts_for_resolution,
    alerts_for_skew,
    move_key,
    skew_key,
)
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, PlatformDiff
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Condition, Route
from tests.notify.factories import REF, T0, A, B, C, build, move, skew_finding

ROUTES = [
    Route("prod", patterns=("ghcr.io/org/*:prod",)),
    Route("base", labels={"purpose": "base-*"}),
    Route("everything"),
]


def _dests(
    ref: str, labels: dict[str, str] | None = None, change: Change = Change.MOVED
) -> list[str]:
    found = alerts_for_move(
        move(change, ref=ImageRef.parse(ref)),
        before=None,
        after=None,
        routes=ROUTES,
        labels=labels or {},
    )
    return [a.destination for a in found]


def test_a_move_is_routed_by_ref_pattern_and_to_catch_all_routes() -> None:
    assert _dests("ghcr.io/org/app:prod") == ["prod", "everything"]
    assert _dests("ghcr.io/org/app:dev") == ["everything"]


def test_a_familiar_pattern_matches_docker_hub_names() -> None:
    route = Route("hub", patterns=("nginx:*",))
    assert route.matches(ImageRef.parse("nginx:1.27"), {})
    assert route.matches(ImageRef.parse("docker.io/library/nginx:latest"), {})
    assert not route.matches(ImageRef.parse("ghcr.io/x/nginx:1"), {})


def test_a_move_is_routed_by_watch_labels_with_globs() -> None:
    assert _dests("quay.io/x/y:1", {"purpose": "base-image"}) == ["base", "everything"]
    assert _dests("quay.io/x/y:1", {"purpose": "app"}) == ["everything"]


def test_a_route_needs_both_its_pattern_and_its_labels() -> None:
    route = Route("d", patterns=("*:prod",), labels={"team": "pay"})
    assert route.matches(REF, {"team": "pay"})
    assert not route.matches(REF, {"team": "ops"})
    assert not route.matches(REF.with_tag("dev"), {"team": "pay"})


def test_first_seen_does_not_alert_unless_a_route_opts_in() -> None:
    assert _dests("ghcr.io/org/app:prod", change=Change.FIRST_SEEN) == []
    routes = [Route("new", changes=frozenset({Change.FIRST_SEEN}))]
    found = alerts_for_move(
        move(Change.FIRST_SEEN, old=None), before=None, after=None, routes=routes, labels={}
    )
    assert [a.destination for a in found] == ["new"]


def test_an_unchanged_observation_makes_no_alert() -> None:
    found = alerts_for_move(
        move(Change.UNCHANGED, new=A), before=None, after=None, routes=[Route("x")], labels={}
    )
    assert found == []


def test_a_destination_named_by_two_routes_gets_one_alert() -> None:
    routes = [Route("x", patterns=("*:prod",)), Route("x")]
    found = alerts_for_move(move(), before=None, after=None, routes=routes, labels={})
    assert len(found) == 1


def test_a_move_payload_is_json_and_holds_what_rendering_needs() -> None:
    plat = {"linux/amd64": A, "linux/arm64": B}
    diff = PlatformDiff(added=("linux/s390x",), changed=("linux/amd64",))
    [alert] = alerts_for_move(
        move(platforms=diff),
        before=build("abc123"),
        after=build("def456", platforms=plat),
        routes=[Route("x")],
        labels={"team": "pay"},
    )
    payload = json.loads(json.dumps(alert.payload))
    assert alert.kind is AlertKind.MOVE
    assert payload["ref"] == "ghcr.io/org/app:prod"
    assert payload["from_digest"] == str(A) and payload["to_digest"] == str(B)
    assert payload["window_start"] == "2026-11-01T12:00:00Z"
    assert payload["detected_at"] == "2026-11-01T12:05:00Z"
    assert payload["before"]["revision"] == "abc123"
    assert payload["after"]["platforms"] == {"linux/amd64": str(A), "linux/arm64": str(B)}
    assert payload["platforms"] == {
        "added": ["linux/s390x"],
        "removed": [],
        "changed": ["linux/amd64"],
    }
    assert payload["labels"] == {"team": "pay"}
    assert alert.thread == "ghcr.io/org/app:prod"


def test_a_move_key_is_stable_for_the_same_move() -> None:
    assert move_key(move(), "x") == move_key(move(), "x")
    # A replica that detects the same move a little later (same history read) agrees on the key.
    later = move()
    later = type(later)(
        **{
            **{f: getattr(later, f) for f in later.__slots__},
            "detected_at": T0 + timedelta(hours=1),
        }
    )
    assert move_key(later, "x") == move_key(move(), "x")


def test_move_keys_differ_by_destination_digests_change_and_window() -> None:
    keys = {
        move_key(move(), "x"),
        move_key(move(), "y"),
        move_key(move(new=C), "x"),
        move_key(move(Change.REPOINTED), "x"),
        move_key(move(minutes=30), "x"),
        move_key(move(ref=REF.with_tag("dev")), "x"),
        move_key(move(Change.DELETED, new=None), "x"),
    }
    assert len(keys) == 7


def test_a_flip_back_and_forth_alerts_each_time() -> None:
    first = move(old=A, new=B, minutes=0)
    back = move(Change.REPOINTED, old=B, new=A, minutes=10)
    again = move(Change.REPOINTED, old=A, new=B, minutes=20)
    assert len({move_key(m, "x") for m in (first, back, again)}) == 3


def test_a_skew_key_ignores_pod_names_and_digest_order() -> None:
    finding = skew_finding()
    shuffled = replace(
        finding,
        digests=dict(reversed(list(finding.digests.items()))),
        pods=tuple(replace(p, name=p.name + "-x") for p in finding.pods),
    )
    assert skew_key(finding, "x", cluster="c") == skew_key(shuffled, "x", cluster="c")


def test_a_skew_key_changes_with_the_digest_set_workload_and_destination() -> None:
    base = skew_finding()
    more = skew_finding(digests=3)
    other = skew_finding(name="api")
    assert (
        len(
            {
                skew_key(base, "x", cluster="c"),
                skew_key(more, "x", cluster="c"),
                skew_key(other, "x", cluster="c"),
                skew_key(base, "y", cluster="c"),
            }
        )
        == 4
    )


def test_a_skew_alert_carries_the_fix_and_routes_by_its_image_tag() -> None:
    routes = [Route("prod", patterns=("*:prod",)), Route("dev", patterns=("*:dev",))]
    [alert] = alerts_for_skew(skew_finding(), cluster="c", builds={}, routes=routes, labels={})
    assert alert.kind is AlertKind.SKEW and alert.destination == "prod"
    fix = alert.payload["fix"]
    assert fix["restart"] == "kubectl rollout restart deployment/web -n shop"
    assert fix["pin"] == f"image: ghcr.io/org/app@{skew_finding().tag_digest_now}"
    assert alert.thread == "ghcr.io/org/app:prod"
    json.dumps(alert.payload)


def test_a_skew_route_can_be_turned_off() -> None:
    routes = [Route("x", skew=False)]
    assert alerts_for_skew(skew_finding(), cluster="c", builds={}, routes=routes, labels={}) == []


def test_a_skew_finding_with_an_unparsable_image_goes_to_catch_all_routes_only() -> None:
    finding = skew_finding(image="Not A/valid image")
    routes = [Route("p", patterns=("*",)), Route("all")]
    found = alerts_for_skew(finding, cluster="c", builds={}, routes=routes, labels={})
    assert [a.destination for a in found] == ["all"]


def test_digests_in_keys_are_full_digests() -> None:
    key_a = move_key(move(old=A, new=B), "x")
    near = Digest("sha256", str(B).split(":")[1][:12] + "0" * 52)
    assert move_key(move(old=A, new=near), "x") != key_a


def test_an_at_risk_finding_alerts_naming_its_cluster_and_the_predicted_digest() -> None:
    finding = skew_finding(digests=1, skewed=False, at_risk=True)
    [alert] = alerts_for_skew(
        finding, cluster="prod-eu", builds={}, routes=[Route("all")], labels={"team": "pay"}
    )
    assert alert.kind is AlertKind.AT_RISK
    assert alert.payload["cluster"] == "prod-eu"
    assert alert.payload["condition"] == "at_risk"
    assert alert.payload["labels"] == {"team": "pay"}
    assert alert.payload["tag_digest_now"] == str(finding.tag_digest_now)


def test_a_finding_is_routed_by_watch_labels_cluster_and_namespace_globs() -> None:
    routes = [
        Route("pay", labels={"team": "pay"}),
        Route("prod", clusters=("prod-*",)),
        Route("shop", namespaces=("shop",)),
        Route("other-ns", namespaces=("kube-*",)),
    ]

    def dests(cluster: str, labels: dict[str, str]) -> list[str]:
        found = alerts_for_skew(
            skew_finding(), cluster=cluster, builds={}, routes=routes, labels=labels
        )
        return [a.destination for a in found]

    assert dests("prod-eu", {"team": "pay"}) == ["pay", "prod", "shop"]
    assert dests("staging", {}) == ["shop"]


def test_a_route_naming_conditions_takes_only_those_findings() -> None:
    risky = skew_finding(digests=1, skewed=False, at_risk=True)
    only_risk = [Route("r", changes=frozenset({Change.MOVED, Condition.AT_RISK}))]
    only_skew = [Route("s", changes=frozenset({Condition.SKEWED}))]
    assert len(alerts_for_skew(risky, cluster="c", builds={}, routes=only_risk, labels={})) == 1
    assert alerts_for_skew(risky, cluster="c", builds={}, routes=only_skew, labels={}) == []
    # a move route still takes the moves it names and no others
    assert [
        a.destination
        for a in alerts_for_move(move(), before=None, after=None, routes=only_risk, labels={})
    ] == ["r"]
    assert alerts_for_move(move(), before=None, after=None, routes=only_skew, labels={}) == []


def test_a_move_route_with_clusters_still_takes_moves_of_its_tags() -> None:
    route = Route("prod", clusters=("prod-*",), patterns=("*:prod",))
    assert route.matches(REF, {})
    assert not route.matches(REF, {}, cluster="staging")


def test_a_resolution_replies_in_the_opening_thread_saying_how_long_it_lasted() -> None:
    [opened] = alerts_for_skew(
        skew_finding(), cluster="prod-eu", builds={}, routes=[Route("all")], labels={}
    )
    [done] = alerts_for_resolution(
        opened.payload,
        key="episode:x",
        opened_at=T0,
        resolved_at=T0 + timedelta(hours=2, minutes=10),
        routes=[Route("all")],
    )
    assert done.kind is AlertKind.RESOLVED
    assert done.thread == opened.thread
    assert done.payload["resolved_after"] == "2 h 10 m"
    assert done.key != opened.key


def test_a_move_of_the_same_platform_images_says_so_in_its_payload() -> None:
    same = replace(move(), same_images=True)
    [alert] = alerts_for_move(same, before=None, after=None, routes=[Route("x")], labels={})
    assert alert.payload["same_images"] is True
    [plain] = alerts_for_move(move(), before=None, after=None, routes=[Route("x")], labels={})
    assert plain.payload["same_images"] is False


def test_a_route_can_leave_out_moves_where_no_platform_image_changed() -> None:
    quiet = Route("#quiet", same_images=False)
    loud = Route("#all")
    same = replace(move(), same_images=True)
    routed = alerts_for_move(same, before=None, after=None, routes=[quiet, loud], labels={})
    assert [a.destination for a in routed] == ["#all"]
    plain = alerts_for_move(move(), before=None, after=None, routes=[quiet, loud], labels={})
    assert [a.destination for a in plain] == ["#quiet", "#all"]
