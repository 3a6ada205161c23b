"""Kubernetes I/O: lightkube reads turned into core records; no decisions here."""

from tagwatch.cluster.config import ClusterSettings, connect, load_config
from tagwatch.cluster.reader import KINDS, parse_selector, read_controller, read_snapshot

__all__ = [
    "KINDS",
    "ClusterSettings",
    "connect",
    "load_config",
    "parse_selector",
    "read_controller",
    "read_snapshot",
]
