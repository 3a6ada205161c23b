"""Serving: the service and its HTTP app in one process under uvicorn, until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import socket

import uvicorn

from tagwatch.app.logs import configure_logging
from tagwatch.app.service import build_service
from tagwatch.app.settings import Settings
from tagwatch.errors import ConfigError
from tagwatch.web.app import create_app

__all__ = ["serve"]

log = logging.getLogger(__name__)


def serve(settings: Settings, *, holder: str | None = None) -> None:
    """Run until SIGTERM or SIGINT: uvicorn stops accepting requests, then the app's lifespan
    stops the scheduler, lets in-flight checks and deliveries finish and releases the leases."""
    configure_logging(settings)
    # Bind first: a taken or wrong address is one line and exit 2, before the database is
    # opened or a poll lease taken (uvicorn would log, start polling, then exit 3).
    listener = _bind(settings.listen_host, settings.listen_port)
    service = build_service(settings, holder=holder)
    log.info("listening on http://%s:%d", settings.listen_host, settings.listen_port)
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
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        listener.close()
        service.store.close()


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port (IPv4 or IPv6), or ConfigError naming the address."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(
            f"listen: cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "set another address with --listen or TAGWATCH_LISTEN"
        ) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"listen: cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "set another address with --listen or TAGWATCH_LISTEN"
        ) from exc
    return sock
