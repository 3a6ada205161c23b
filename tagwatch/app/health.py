"""What /healthz and /readyz report, from the facts the service gathers (no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tagwatch.core.times import iso_utc

__all__ = ["liveness", "readiness", "tick_stale_after"]


def tick_stale_after(tick: float) -> float:
    """Seconds without a scheduler tick after which the service counts as wedged."""
    return max(30.0, tick * 10)


def liveness(*, started: bool, tick_age: float | None, stale_after: float) -> dict[str, Any]:
    """Alive unless the started scheduler stopped ticking (`tick_age` seconds since its last)."""
    if not started or tick_age is None:
        return {"alive": True, "last_tick_age_seconds": None}
    alive = tick_age <= stale_after
    out: dict[str, Any] = {"alive": alive, "last_tick_age_seconds": round(tick_age, 3)}
    if not alive:
        out["reason"] = f"the scheduler has not ticked for {tick_age:.0f} s"
    return out


def readiness(
    *,
    scheduler_running: bool,
    database_error: str | None,
    tick_age: float | None,
    cycle_age: float | None,
    stale_after: float,
    leader: bool,
    stuck_registries: Mapping[str, datetime],
) -> dict[str, Any]:
    """Ready when the scheduler runs, the database answers and the scheduler ticks; with the
    reasons in words when not."""
    checks: dict[str, Any] = {"scheduler": scheduler_running}
    checks["database"] = database_error is None
    if database_error is not None:
        checks["database_error"] = database_error
    checks["last_tick_age_seconds"] = tick_age
    checks["last_cycle_age_seconds"] = cycle_age
    checks["leader"] = leader
    # Detail, not a reason to be unready: restarting tagwatch does not unstick a registry.
    checks["stuck_registries"] = {
        name: iso_utc(since) for name, since in sorted(stuck_registries.items())
    }
    stale = tick_age is None or tick_age > stale_after
    checks["ready"] = bool(checks["scheduler"] and checks["database"] and not stale)
    reasons = []
    if not checks["scheduler"]:
        reasons.append("the scheduler is not running")
    if database_error is not None:
        reasons.append(f"the database cannot be reached: {database_error}")
    if stale:
        reasons.append(
            "the scheduler has not ticked yet"
            if tick_age is None
            else f"the scheduler has not ticked for {tick_age:.0f} s"
        )
    checks["reasons"] = reasons  # empty when ready: why not, in words
    return checks
