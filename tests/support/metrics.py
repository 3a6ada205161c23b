"""Reading a metric in a test through prometheus_client's public API, not its private `_value`."""

from __future__ import annotations

from prometheus_client.metrics import MetricWrapperBase

__all__ = ["value_of"]


def value_of(metric: MetricWrapperBase) -> float:
    """The value of one counter or gauge (a labelled child such as `checks.labels(host, "poll")`
    included), as a scrape would read it."""
    [family] = metric.collect()
    [sample] = [s for s in family.samples if s.name in (family.name, f"{family.name}_total")]
    return sample.value
