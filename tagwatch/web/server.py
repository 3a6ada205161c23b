"""Serving: the service and its HTTP app in one process under uvicorn, until SIGTERM/SIGINT."""

from __future__ import annotations

import uvicorn

from tagwatch.app.service import build_service, configure_logging
from tagwatch.app.settings import Settings
from tagwatch.web.app import create_app

__all__ = ["serve"]


def serve(settings: Settings, *, holder: str | None = None) -> None:
    """Run until SIGTERM or SIGINT: uvicorn stops accepting requests, then the app's lifespan
    stops the scheduler, lets in-flight checks and deliveries finish and releases the leases."""
    configure_logging(settings)
    service = build_service(settings, holder=holder)
    app = create_app(service)
    config = uvicorn.Config(
        app,
        host=settings.listen_host,
        port=settings.listen_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
    )
    try:
        uvicorn.Server(config).run()
    finally:
        service.store.close()
