"""One line from a YAML parser's error: where (the line) and what, not PyYAML's multi-line report.

Pure: it reads the error's `problem_mark`/`context_mark` and `problem` attributes (PyYAML's
MarkedYAMLError) without importing PyYAML, so the config loader, the kubeconfig reader and
the manifest reader all word a broken file the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["YamlProblem"]


@dataclass(frozen=True, slots=True)
class YamlProblem:
    """`line` is 1-based (None when the parser gave no position); `reason` one line."""

    line: int | None
    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> YamlProblem:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = getattr(mark, "line", None)
        text = str(exc).strip()
        reason = getattr(exc, "problem", None) or (text.splitlines()[0] if text else "")
        return cls(line + 1 if isinstance(line, int) else None, reason or "invalid YAML")

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line is not None else self.reason
