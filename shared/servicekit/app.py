"""Wiring every service shares: middleware, error handlers, health routes, lifespan.

Each service supplies an `ErrorRenderer` that writes errors in its own format (trading:
FastAPI's `{"detail": ...}`; auction: the seed's envelope; auth: `{"detail": ...}`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .bodies import BodyGuard, BodyLimits
from .config import ServiceSettings
from .db import Database
from .drain import DEFAULT_DRAIN_SECONDS, Drain, DrainMiddleware
from .errors import ServiceError, is_database_unavailable
from .health import health_router
from .logging import configure_logging
from .observability import RequestContextMiddleware
from .openapi import OpenAPIOptions, install_openapi
from .paths import EncodedPathGuard
from .security import Authenticator, TokenVerifier

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


class ErrorRenderer(Protocol):
    def __call__(
        self,
        request: Request | None,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Response: ...


def detail_renderer(
    request: Request | None,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """FastAPI's own shape: `{"detail": message}`, or the error list for validation."""
    body: dict[str, Any] = {"detail": details if details is not None else message}
    return JSONResponse(body, status_code=status, headers=headers)


# A client gets the first errors, enough to fix its request; listing every one of thousands
# cost seconds and megabytes (issue 10, defect 1).
MAX_LISTED_ERRORS = 50


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Validation errors without echoing the submitted input (it may hold a password)."""
    out = []
    for err in exc.errors()[:MAX_LISTED_ERRORS]:
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        out.append(jsonable_encoder(item))
    return out


def is_malformed_json(exc: RequestValidationError) -> bool:
    return any(err.get("type") == "json_invalid" for err in exc.errors())


class _UnhandledErrors:
    """Inside the request-id middleware, so even a 500 carries X-Request-ID and is logged
    once; a lost database connection becomes 503 instead of 500."""

    def __init__(self, app: ASGIApp, render: ErrorRenderer) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started:
                raise
            if is_database_unavailable(exc):
                log.warning(
                    "database unavailable",
                    extra={"error": type(exc).__name__, "detail": str(exc)[:300]},
                )
                response = self.render(
                    None,
                    503,
                    "SERVICE_UNAVAILABLE",
                    "Service temporarily unavailable",
                    headers={"Retry-After": "1"},
                )
            else:
                log.exception("unhandled error")
                response = self.render(None, 500, "INTERNAL_SERVER_ERROR", "Internal server error")
            await response(scope, receive, send)


def install_error_handlers(
    app: FastAPI,
    render: ErrorRenderer,
    *,
    validation_status: int = 422,
    validation_code: str = "VALIDATION_ERROR",
    validation_message: str = "Validation error",
    malformed_json_status: int = 400,
    malformed_json_code: str = "BAD_REQUEST",
) -> None:
    async def on_service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return render(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if is_malformed_json(exc):
            return render(
                request, malformed_json_status, malformed_json_code, "Malformed JSON body"
            )
        return render(
            request, validation_status, validation_code, validation_message, validation_details(exc)
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        # FastAPI's own 400 ("There was an error parsing the body") is a malformed body too.
        if exc.status_code == malformed_json_status:
            code = malformed_json_code
        else:
            code = STATUS_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        headers = dict(exc.headers) if exc.headers else None
        return render(request, exc.status_code, code, message, None, headers)

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_middleware(_UnhandledErrors, render=render)


def create_service_app(
    *,
    service: str,
    title: str,
    version: str,
    db: Database,
    alembic_ini: Path,
    render: ErrorRenderer,
    validation_status: int = 422,
    validation_code: str = "VALIDATION_ERROR",
    malformed_json_code: str = "BAD_REQUEST",
    body_limits: BodyLimits = BodyLimits(),
    unbounded_bodies: Callable[[str, str], bool] | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    openapi: OpenAPIOptions | None = None,
    drain_seconds: float = DEFAULT_DRAIN_SECONDS,
    **fastapi_kw: Any,
) -> FastAPI:
    drain = Drain(drain_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        drain.install()
        try:
            yield
        finally:
            await drain.uninstall()
            if on_shutdown is not None:
                await on_shutdown()
            await db.dispose()

    app = FastAPI(title=title, version=version, lifespan=lifespan, **fastapi_kw)
    install_error_handlers(
        app,
        render,
        validation_status=validation_status,
        validation_code=validation_code,
        malformed_json_code=malformed_json_code,
    )
    app.include_router(health_router(db, alembic_ini, drain))
    app.add_middleware(DrainMiddleware, drain=drain)
    app.add_middleware(
        BodyGuard,
        render=render,
        limits=body_limits,
        validation_status=validation_status,
        validation_code=validation_code,
        exempt=unbounded_bodies,
    )
    app.add_middleware(EncodedPathGuard, render=render)
    install_openapi(app, validation_status, openapi)
    # Added last, so outermost: every response, errors included, gets the request id.
    app.add_middleware(RequestContextMiddleware, service=service)
    return app


def create_resource_app(
    *,
    service: str,
    title: str,
    version: str,
    settings: ServiceSettings,
    alembic_ini: Path,
    render: ErrorRenderer,
    **kw: Any,
) -> FastAPI:
    """A service whose callers carry the auth service's access tokens (trading, auction):
    its database, and a JWKS verifier warmed in the background (startup never waits on
    auth) behind the `Authenticator` dependency; all four on `app.state`."""
    configure_logging(service, settings.log_level)
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        read_pool_size=settings.db_read_pool_size,
    )
    verifier = TokenVerifier(settings.jwks_url, settings.jwt_issuer, settings.jwt_audience)
    tasks: list[asyncio.Task[None]] = []

    async def warm_keys() -> None:
        tasks.append(asyncio.create_task(verifier.warm()))

    async def stop_keys() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = create_service_app(
        service=service,
        title=title,
        version=version,
        db=db,
        alembic_ini=alembic_ini,
        render=render,
        on_startup=warm_keys,
        on_shutdown=stop_keys,
        drain_seconds=settings.drain_seconds,
        **kw,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.verifier = verifier
    app.state.authenticator = Authenticator(verifier, settings.allowed_origins)
    return app
