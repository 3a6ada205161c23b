"""Scheduling: stable spread, coalescing, per-registry budgets following the registry, patterns."""

from __future__ import annotations

import io
import json
import logging
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tagwatch.app.budget import Budget
from tagwatch.app.logs import JsonFormatter
from tagwatch.app.scheduler import WatchPlan, stable_offset
from tagwatch.app.settings import load_settings
from tagwatch.core.references import ImageRef
from tagwatch.redaction import Redact
from tagwatch.registry import RateLimitStatus
from tests.support.metrics import value_of
from tests.support.registry import TestRegistry
from tests.support.services import eventually, running, service_config


def refs(count: int) -> list[ImageRef]:
    return [
        ImageRef.parse(f"registry.example/team-{i % 50}/app-{i}:v{i % 7}") for i in range(count)
    ]


def test_ten_thousand_watches_are_spread_over_the_interval() -> None:
    plan = WatchPlan(jitter=0.0)
    plan.replace([(r, 300.0, {}) for r in refs(10_000)], now=0.0)
    per_second = Counter(int(w.next_due) for w in plan.watches.values())
    mean = 10_000 / 300
    assert len(per_second) >= 295  # nearly every second of the interval has work
    assert max(per_second.values()) < 3 * mean  # and no second has a burst


def test_the_offset_is_stable_across_replicas_and_restarts() -> None:
    ref = ImageRef.parse("ghcr.io/org/app:v1")
    assert stable_offset(ref, 300) == stable_offset(ImageRef.parse("ghcr.io/org/app:v1"), 300)
    assert 0 <= stable_offset(ref, 300) < 300


def test_missed_runs_after_downtime_are_coalesced_into_one() -> None:
    plan = WatchPlan(jitter=0.0)
    plan.replace([(r, 60.0, {}) for r in refs(100)], now=0.0)
    later = 3600.0  # an hour asleep: sixty runs missed per tag
    due = [w for batch in plan.due(later).values() for w in batch]
    assert len(due) == 100  # each tag once, not sixty times
    for watch in due:
        plan.done(watch, later)
    assert plan.due(later) == {}
    assert all(later < w.next_due <= later + 60 for w in plan.watches.values())


def test_jitter_delays_by_at_most_its_share_of_the_interval() -> None:
    plan = WatchPlan(jitter=0.1, rng=random.Random(7))
    ref = ImageRef.parse("ghcr.io/org/app:v1")
    plan.replace([(ref, 100.0, {})], now=0.0)
    grid = stable_offset(ref, 100.0)
    assert grid <= plan.watches[ref].next_due <= grid + 10


def test_replacing_the_watches_keeps_due_times_of_kept_tags() -> None:
    plan = WatchPlan(jitter=0.5)
    a, b = ImageRef.parse("x.example/a:1"), ImageRef.parse("x.example/b:1")
    plan.replace([(a, 60.0, {})], now=0.0)
    due = plan.watches[a].next_due
    plan.replace([(a, 60.0, {"k": "v"}), (b, 60.0, {})], now=30.0)
    assert plan.watches[a].next_due == due
    assert plan.labels_of(a) == {"k": "v"}


def test_a_budget_refills_and_follows_ratelimit_remaining_and_429s() -> None:
    budget = Budget(requests=60, per=60.0)
    assert budget.available(0.0) == 60
    budget.spend(60, 0.0)
    assert budget.available(0.0) == 0
    assert budget.available(10.0) == 10  # one a second
    now = datetime.now(UTC)
    budget.observe(RateLimitStatus(limit=100, remaining=5, window_s=21600, observed_at=now), 10.0)
    assert budget.available(10.0) == 4  # 90% of what the registry says remains
    budget.rate_limited(30.0, 10.0)
    assert budget.available(39.0) == 0
    assert budget.available(41.0) > 0
    budget.observe(RateLimitStatus(limit=100, remaining=0, window_s=21600, observed_at=now), 50.0)
    assert budget.available(55.0) == 0


async def test_an_exhausted_registry_budget_does_not_starve_another_registry(
    registry: TestRegistry,
    make_registry: object,
    repo_name: str,
    tmp_path: Path,
    secrets_env: None,
) -> None:
    busy: TestRegistry = make_registry()  # type: ignore[operator]
    for tag in ("a", "b", "c", "d"):
        busy.push_image(repo_name, tag, content=tag)
    registry.push_image(repo_name, "v1", content="one")
    watches = [{"ref": f"{busy.host}/{repo_name}:{t}", "interval": "200ms"} for t in "abcd"]
    watches.append({"ref": f"{registry.host}/{repo_name}:v1", "interval": "200ms"})
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=watches,
        registries={busy.host: {"budget": {"requests": 2, "per": "1h"}}},
    )
    async with running(load_settings(path)) as svc:
        calm = svc.service.metrics.checks.labels(registry.host, "poll")
        await eventually(lambda: value_of(calm) >= 5)
        assert value_of(svc.service.metrics.checks.labels(busy.host, "poll")) == 2


async def test_tag_patterns_expand_to_matching_tags_and_webhooks_for_new_ones_check(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    for tag in ("release-1", "release-2", "main"):
        registry.push_image(repo_name, tag, content=tag)
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": f"{registry.host}/{repo_name}:release-*", "labels": {"team": "a"}}],
    )
    async with running(load_settings(path)) as svc:
        watched = {w.ref.tag for w in svc.service.plan.watches.values()}
        assert watched == {"release-1", "release-2"}
        new = ImageRef.parse(f"{registry.host}/{repo_name}:release-3")
        registry.push_image(repo_name, "release-3", content="r3")
        assert svc.service.covers(new)
        assert not svc.service.covers(new.with_tag("main"))
        await eventually(lambda: new in svc.service.plan.watches, within=5)  # next expansion
        assert svc.service.plan.labels_of(new) == {"team": "a"}


def test_logs_redact_secrets_and_can_be_json() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(Redact(["xoxb-very-secret", "hook-pass"]))
    logger = logging.getLogger("tagwatch.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token %s and url /webhooks/dockerhub/%s", "xoxb-very-secret", "hook-pass")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["message"] == "token *** and url /webhooks/dockerhub/***"
    assert line["level"] == "warning"


async def test_tag_patterns_never_expand_to_cosign_artifact_tags(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> None:
    image = registry.push_image(repo_name, "v1", content="signed")
    registry.push_image(repo_name, "main", content="main")
    artifacts = [f"sha256-{image.encoded}{suffix}" for suffix in (".sig", ".att", ".sbom", "")]
    for tag in artifacts:
        registry.push_image(repo_name, tag, content=tag)
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": f"{registry.host}/{repo_name}:*"}],
    )
    async with running(load_settings(path)) as svc:
        watched = {w.ref.tag for w in svc.service.plan.watches.values()}
        assert watched == {"v1", "main"}
        repo = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
        assert svc.service.covers(repo.with_tag("v2"))
        assert not any(svc.service.covers(repo.with_tag(tag)) for tag in artifacts)
