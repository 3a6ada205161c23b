"""The Jinja2 environment of the pages: autoescaping on, and the filters the templates use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from tagwatch.core.digests import Digest

__all__ = ["STATIC", "templates"]

HERE = Path(__file__).parent
STATIC = HERE / "static"


def when(value: datetime | None) -> str:
    """`2026-11-29 10:00:00Z`, or an en dash for no time."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "\u2013"


def span(value: timedelta | float | None) -> str:
    """A duration as people read it: `3d 4h`, `12m 5s`, `40s`."""
    if value is None:
        return "\u2013"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"


def short(value: Digest | str | None) -> str:
    if value is None:
        return "absent"
    text = str(value)
    return text.partition(":")[2][:12] or text[:12]


def _environment() -> Environment:
    # autoescape on for every template, whatever its name: nothing from a registry, a label
    # or a cluster is ever markup.
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, span=span, short=short)
    return env


templates = Jinja2Templates(env=_environment())
