"""One log filter that replaces secret values with `***`, for every logger that may see one.

Top-level (beside errors.py) because both the service's handlers (app) and the Slack SDK's
loggers (notify) need it, and notify may not import app.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["Redact"]


class Redact(logging.Filter):
    """Replace secret values in log records (message and arguments) with `***`."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            clean = message
            for secret in self.secrets:
                clean = clean.replace(secret, "***")
            if clean != message or record.args:
                record.msg, record.args = clean, None
        return True
