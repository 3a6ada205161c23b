"""The service's Prometheus metrics, in a registry of their own per service."""

from __future__ import annotations

import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from tagwatch import __version__

__all__ = ["Metrics"]

# A `_created` series per counter doubles what Prometheus stores and no dashboard reads it.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The service's Prometheus metrics, in their own registry (one per service)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.checks = Counter(
            "tagwatch_checks",
            "Tag checks, by registry and source",
            ["registry", "source"],
            registry=r,
        )
        self.moves = Counter(
            "tagwatch_moves",
            "Tag moves recorded (by any writer), by registry and change",
            ["registry", "change"],
            registry=r,
        )
        self.expired_events = Counter(
            "tagwatch_expired_events",
            "Recorded moves not alerted: older than scheduler.event_max_age when first routed",
            registry=r,
        )
        self.errors = Counter(
            "tagwatch_check_errors", "Tag checks that failed, by registry", ["registry"], registry=r
        )
        self.webhook_check_failures = Counter(
            "tagwatch_webhook_check_failures",
            "Webhook-triggered checks that failed on tagwatch's side (database down), retried, "
            "by registry",
            ["registry"],
            registry=r,
        )
        self.latency = Histogram(
            "tagwatch_check_batch_seconds",
            "Time to check one batch of tags, by registry",
            ["registry"],
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.rate_limit_remaining = Gauge(
            "tagwatch_registry_ratelimit_remaining",
            "ratelimit-remaining last reported, by registry",
            ["registry"],
            registry=r,
        )
        self.budget_available = Gauge(
            "tagwatch_registry_budget_available",
            "Tag checks the request budget allows now, by registry",
            ["registry"],
            registry=r,
        )
        self.stuck = Gauge(
            "tagwatch_registry_stuck",
            "1 while the registry has not answered within its request deadline, by registry",
            ["registry"],
            registry=r,
        )
        self.outbox_depth = Gauge("tagwatch_outbox_depth", "Alerts not delivered yet", registry=r)
        self.outbox_age = Gauge(
            "tagwatch_outbox_oldest_age_seconds",
            "Age of the oldest alert not delivered yet (0 when none is waiting)",
            registry=r,
        )
        self.delivered = Counter(
            "tagwatch_alerts_delivered", "Alerts a destination accepted", registry=r
        )
        self.delivery_failures = Counter(
            "tagwatch_alert_delivery_failures", "Failed alert deliveries (retried)", registry=r
        )
        self.refused = Counter(
            "tagwatch_alerts_refused",
            "Alert deliveries a destination refused for good (retried rarely)",
            registry=r,
        )
        self.skewed = Gauge(
            "tagwatch_skewed_workloads",
            "Workloads running more than one digest of a tag, by cluster",
            ["cluster"],
            registry=r,
        )
        self.at_risk = Gauge(
            "tagwatch_at_risk_workloads",
            "Workloads uniform now whose next restart would split them, by cluster",
            ["cluster"],
            registry=r,
        )
        self.stuck_rollouts = Gauge(
            "tagwatch_stuck_rollouts",
            "Workloads whose rollout stopped with old and new templates running, by cluster",
            ["cluster"],
            registry=r,
        )
        self.scan_errors = Counter(
            "tagwatch_cluster_scan_errors", "Skew scans that failed, by cluster", ["cluster"],
            registry=r,
        )  # fmt: skip
        self.last_scan = Gauge(
            "tagwatch_cluster_last_scan_timestamp_seconds",
            "Unix time of the last successful skew scan, by cluster",
            ["cluster"],
            registry=r,
        )
        self.last_success = Gauge(
            "tagwatch_watch_last_success_timestamp_seconds",
            "Unix time of the last successful check of a watched tag, by ref",
            ["ref"],
            registry=r,
        )
        self.watches = Gauge("tagwatch_watched_tags", "Tags this replica polls", registry=r)
        self.requests = Counter(
            "tagwatch_registry_requests", "HTTP requests sent to registries", registry=r
        )
        self.build = Gauge(
            "tagwatch_build_info",
            "Always 1; the labels say which tagwatch and Python this replica runs",
            ["version", "python"],
            registry=r,
        )
        self.build.labels(__version__, platform.python_version()).set(1)
        self.leader = Gauge(
            "tagwatch_poll_leader", "1 when this replica holds the poll lease", registry=r
        )
