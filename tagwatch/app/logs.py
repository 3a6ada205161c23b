"""The service's logging: JSON or text lines on stderr, every configured secret redacted."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from tagwatch.app.settings import Settings
from tagwatch.redaction import Redact

__all__ = ["JsonFormatter", "configure_logging", "secrets_of"]


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings resolve to (for log redaction)."""
    values: list[str | None] = [settings.slack.bot_token(), settings.slack.webhook_url()]
    values += [entry.password() for entry in settings.registries.values()]
    for entry in settings.alert_webhooks:
        with contextlib.suppress(ValueError):
            values += [entry.url(), entry.secret()]
    hooks = settings.webhooks
    values += [hooks.distribution.secret(), hooks.dockerhub.secret()]
    values += [hooks.github.secret(), hooks.ecr.secret()]
    if settings.database_url:
        from sqlalchemy.engine import make_url

        with contextlib.suppress(Exception):
            values.append(make_url(settings.database_url).password)
    return [v for v in values if v and len(v) >= 4]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def configure_logging(settings: Settings, stream: Any = None) -> logging.Handler:
    """Log to stderr as JSON or text at the configured level, secrets redacted."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter()
        if settings.log.format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(Redact(secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log.level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # One line per HTTP request (208 of 238 INFO lines were `GET …/pods`): DEBUG only.
    quiet = logging.DEBUG if root.level <= logging.DEBUG else max(logging.WARNING, root.level)
    for noisy in ("apscheduler", "httpx", "httpcore", "httpx2", "httpcore2"):
        logging.getLogger(noisy).setLevel(quiet)
    # Alembic's "Context impl …" and plugin lines say nothing an operator acts on.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    return handler
