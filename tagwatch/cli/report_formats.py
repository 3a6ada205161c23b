"""`tagwatch report` as a reviewer reads it: Markdown, a self-contained HTML page, or JSON."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from importlib import resources
from typing import Any

from tagwatch.core.report import AuditReport, DriftRow, EpisodeRow, MoveRow
from tagwatch.core.times import iso_utc

__all__ = ["report_html", "report_json", "report_markdown"]


def _digest(value: object | None) -> str | None:
    return None if value is None else str(value)


def _move_json(row: MoveRow) -> dict[str, Any]:
    m, v = row.move, row.signature
    return {
        "ref": str(m.ref),
        "change": m.change.value,
        "from_digest": _digest(m.from_digest),
        "to_digest": _digest(m.to_digest),
        "revision_before": row.revision_before,
        "revision_after": row.revision_after,
        "window_start": iso_utc(m.window_start),
        "detected_at": iso_utc(m.detected_at),
        "source": m.source.value,
        "signature": None
        if v is None
        else {
            "policy": v.policy,
            "status": v.status.value,
            "signed_by": v.signed_by,
            "reason": v.reason,
        },
    }


def _drift_json(row: DriftRow, now: datetime) -> dict[str, Any]:
    return {
        "ref": str(row.ref),
        "digest": _digest(row.digest),
        "base": str(row.base),
        "base_digest": _digest(row.base_digest),
        "base_now": _digest(row.base_now),
        "moves_behind": row.moves_behind,
        "behind_since": iso_utc(row.behind_since),
        "days_behind": row.days_behind(now),
        "found_by": row.found_by.value if row.found_by else None,
    }


def _episode_json(row: EpisodeRow, now: datetime) -> dict[str, Any]:
    return {
        "cluster": row.cluster,
        "namespace": row.namespace,
        "workload": row.workload,
        "container": row.container,
        "kind": row.kind,
        "opened_at": iso_utc(row.opened_at),
        "closed_at": iso_utc(row.closed_at),
        "lasted_seconds": int(row.lasted(now).total_seconds()),
    }


def report_json(report: AuditReport) -> dict[str, Any]:
    now = report.until
    return {
        "since": iso_utc(report.since),
        "until": iso_utc(report.until),
        "failed": report.failed,
        "summary": _summary(report),
        "release_repushes": [_move_json(r) for r in report.release_repushes],
        "signature_failures": [_move_json(r) for r in report.signature_failures],
        "rollbacks": [_move_json(r) for r in report.rollbacks],
        "base_drift": [_drift_json(r, now) for r in report.drift],
        "skew_episodes": [_episode_json(r, now) for r in report.episodes],
        "moves": [_move_json(r) for r in report.moves],
    }


def _summary(report: AuditReport) -> dict[str, int]:
    return {
        "moves": len(report.moves),
        "release_repushes": len(report.release_repushes),
        "signature_failures": len(report.signature_failures),
        "rollbacks": len(report.rollbacks),
        "base_drift": len(report.drift),
        "skew_episodes": len(report.episodes),
    }


def _when(at: datetime | None) -> str | None:
    """Seconds are enough for a reader; the JSON keeps full precision."""
    return None if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _md(text: object | None) -> str:
    """A table cell: labels and tags are attacker-controlled text, so pipes and newlines cannot
    break the table, and no HTML or link reaches the Markdown renderer."""
    if text is None or text == "":
        return "-"
    escaped = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("[", "&#91;")):
        escaped = escaped.replace(raw, entity)
    return escaped


def _short(value: object | None) -> str:
    return "-" if value is None else f"`{str(value)[:19]}`"


def _signature_cell(row: MoveRow) -> str:
    v = row.signature
    if v is None:
        return "-"
    return _md(f"{v.status.value}: {v.signed_by or v.reason}")


def _move_lines(rows: tuple[MoveRow, ...]) -> str:
    if not rows:
        return "None.\n"
    return _table(
        "| ref | change | from | to | revision | window | detected | source | signature |",
        (
            f"| {_md(r.ref)} | {r.move.change.value} | {_short(r.move.from_digest)} | "
            f"{_short(r.move.to_digest)} | {_md(r.revision_before)} → {_md(r.revision_after)} | "
            f"{_md(_when(r.move.window_start))} | {_md(_when(r.move.detected_at))} | "
            f"{r.move.source.value} | {_signature_cell(r)} |"
            for r in rows
        ),
    )


def _table(header: str, rows: Iterable[str]) -> str:
    """A Markdown table as one part: a blank line between its rows would end the table."""
    columns = header.count("|") - 1
    return "\n".join([header, "|---" * columns + "|", *rows]) + "\n"


def report_markdown(report: AuditReport) -> str:
    now = report.until
    s = _summary(report)
    verdict = "**FAILED**: policy failures below" if report.failed else "passed: no policy failure"
    out = [
        f"# Image tag audit, {_when(report.since)} to {_when(report.until)}\n",
        f"Result: {verdict}. {s['moves']} moves, {s['release_repushes']} release tags "
        f"re-pushed, {s['signature_failures']} moves to digests failing their signing policy, "
        f"{s['rollbacks']} rollbacks, {s['base_drift']} images behind their base, "
        f"{s['skew_episodes']} skew episodes.\n",
        "Full digests are in `tagwatch report -o json`; every row is in `tagwatch history`.\n",
        "## Release tags re-pushed (should never move)\n",
        _move_lines(report.release_repushes),
        "## Moves to unsigned or wrongly signed digests\n",
        _move_lines(report.signature_failures),
        "## Rollbacks (a tag pointed back to an earlier digest)\n",
        _move_lines(report.rollbacks),
        "## Base-image drift\n",
    ]
    if report.drift:
        out.append(
            _table(
                "| image | base | built on | base now | moves behind | days behind | found by |",
                (
                    f"| {_md(r.ref)} | {_md(r.base)} | {_short(r.base_digest)} | "
                    f"{_short(r.base_now)} | {r.moves_behind} | {_md(r.days_behind(now))} | "
                    f"{r.found_by or '-'} |"
                    for r in report.drift
                ),
            )
        )
    else:
        out.append("None.\n")
    out.append("\n## Skew episodes\n\n")
    if report.episodes:
        out.append(
            _table(
                "| cluster | workload | container | kind | opened | closed | lasted |",
                (
                    f"| {_md(e.cluster)} | {_md(f'{e.namespace}/{e.workload}')} | "
                    f"{_md(e.container)} | {e.kind} | {_md(_when(e.opened_at))} | "
                    f"{_md(_when(e.closed_at) or 'open')} | "
                    f"{_duration(e.lasted(now).total_seconds())} |"
                    for e in report.episodes
                ),
            )
        )
    else:
        out.append("None.\n")
    out.append("\n## Every move in the period\n\n")
    out.append(_move_lines(report.moves))
    return "\n".join(part.rstrip("\n") + "\n" for part in out)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} m" if hours else f"{minutes} m"


def report_html(report: AuditReport) -> str:
    """One self-contained page (no script, no request): Jinja2 escapes every value."""
    import jinja2

    source = resources.files("tagwatch.cli").joinpath("templates/report.html").read_text()
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(source).render(report=report_json(report), duration=_duration)
