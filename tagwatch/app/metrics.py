"""The service's Prometheus metrics, in a registry of their own per service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]


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
            "Tag moves detected, by registry and kind",
            ["registry", "change"],
            registry=r,
        )
        self.errors = Counter(
            "tagwatch_check_errors", "Tag checks that failed, by registry", ["registry"], registry=r
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
            "ratelimit-remaining last reported by the registry",
            ["registry"],
            registry=r,
        )
        self.budget_available = Gauge(
            "tagwatch_registry_budget_available",
            "Tag checks the request budget allows now",
            ["registry"],
            registry=r,
        )
        self.stuck = Gauge(
            "tagwatch_registry_stuck",
            "1 while the registry has not answered within its request deadline",
            ["registry"],
            registry=r,
        )
        self.outbox_depth = Gauge("tagwatch_outbox_depth", "Alerts not delivered yet", registry=r)
        self.delivered = Counter("tagwatch_alerts_delivered", "Alerts Slack accepted", registry=r)
        self.delivery_failures = Counter(
            "tagwatch_alert_delivery_failures", "Failed alert deliveries (retried)", registry=r
        )
        self.skewed = Gauge(
            "tagwatch_skewed_workloads",
            "Workloads running more than one digest of a tag",
            ["cluster"],
            registry=r,
        )
        self.watches = Gauge("tagwatch_watched_tags", "Tags this replica polls", registry=r)
        self.requests = Gauge(
            "tagwatch_registry_requests_sent", "HTTP requests sent to registries", registry=r
        )
        self.leader = Gauge(
            "tagwatch_poll_leader", "1 when this replica holds the poll lease", registry=r
        )
