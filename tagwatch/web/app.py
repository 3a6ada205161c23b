"""The FastAPI application: health, readiness, Prometheus metrics, the API and the webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tagwatch import __version__
from tagwatch.app.service import Service
from tagwatch.web import access, api, clusters, pages, webhooks

__all__ = ["create_app"]


def create_app(service: Service, *, lifecycle: bool = True) -> FastAPI:
    """The app for `service`; with `lifecycle` the app starts and stops the service with itself."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if lifecycle:
            await service.start()
        try:
            yield
        finally:
            if lifecycle:
                await service.stop()

    app = FastAPI(
        title="tagwatch",
        version=__version__,
        description="Image tag digest history: read-only audit API, health, metrics, webhooks.",
        lifespan=lifespan,
        # /docs is served from the vendored Swagger UI (pages.mount); ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.webhook_metrics = webhooks.WebhookMetrics(service.metrics.registry)
    hooks = service.settings.webhooks
    app.state.webhook_secrets = {
        kind: getattr(hooks, kind).secret()
        for kind in ("distribution", "dockerhub", "github", "ecr")
    }

    @app.get(
        "/healthz",
        tags=["health"],
        responses={503: {"description": "the scheduler has stopped ticking: restart me"}},
    )
    def healthz() -> JSONResponse:
        """Alive, unless the scheduler has not ticked for several ticks (a wedged service)."""
        state = service.liveness()
        if state["alive"]:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "wedged", **state}, status_code=503)

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"description": "database unreachable, scheduler stopped or stale"}},
    )
    def readyz() -> JSONResponse:
        """Database reachable, scheduler running, and the age of the last tick and poll cycle."""
        checks: dict[str, Any] = service.readiness()
        return JSONResponse(checks, status_code=200 if checks["ready"] else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics."""
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(api.router)
    app.include_router(clusters.router)
    app.include_router(webhooks.router)
    pages.mount(app)
    access.guard(app, service.settings.http.read_token())
    return app
