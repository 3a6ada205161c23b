"""The HTTP side of `tagwatch run`: health, metrics, the read-only API and push webhooks."""

from tagwatch.web.app import create_app

__all__ = ["create_app"]
