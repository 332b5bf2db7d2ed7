"""Web service: the built web app (web/dist) behind the gateway at `/` (SPEC 9).

A twin of the API services in its conventions (servicekit's JSON logs with the request id,
X-Request-ID, Prometheus metrics, `/healthz` and `/readyz`, the SIGTERM drain) but with no
database: it serves files. Routes: `/assets/{path}` (hashed, immutable, precompressed),
every app path (`static.APP_PATHS`, `APP_PREFIXES`: index.html with the strict CSP), and
404 for anything else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from servicekit.app import detail_renderer
from servicekit.drain import Drain, DrainMiddleware
from servicekit.logging import configure_logging
from servicekit.observability import RequestContextMiddleware, metrics_endpoint
from servicekit.paths import EncodedPathGuard

from .config import Settings, get_settings
from .static import Dist, is_app_path, not_found


def health_router(dist: Dist, drain: Drain) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: not draining, and the build is there to serve."""
        if drain.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        if not dist.ready:
            return JSONResponse({"status": "unavailable", "build": "missing"}, status_code=503)
        return JSONResponse({"status": "ok", "build": "present"})

    router.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("web", settings.log_level)
    dist = Dist(settings.dist_dir)
    drain = Drain(settings.drain_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        drain.install()
        try:
            yield
        finally:
            await drain.uninstall()

    app = FastAPI(
        title="Web app",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.dist = dist
    app.include_router(health_router(dist, drain))

    @app.api_route("/assets/{rel:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def asset(request: Request, rel: str) -> Response:
        """A built file: hashed name, cached for good."""
        return dist.asset(request, rel)

    @app.api_route("/{rel:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(request: Request, rel: str) -> Response:
        """The app's page for every app path (the router in the browser picks the screen)."""
        if not is_app_path(request.url.path):
            return not_found()
        return dist.page(request)

    app.add_middleware(DrainMiddleware, drain=drain)
    # %2F, %00...: a 404 as from the API services, never the page for an ambiguous path.
    app.add_middleware(EncodedPathGuard, render=detail_renderer)
    # Added last, so outermost: every response gets the request id and an access log line.
    app.add_middleware(RequestContextMiddleware, service="web")
    return app
