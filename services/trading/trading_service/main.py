"""Trading service: the market-replay simulator (seed 000 and SPEC section 3)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from fastapi import FastAPI

from servicekit.app import create_service_app
from servicekit.db import Database
from servicekit.logging import configure_logging
from servicekit.security import Authenticator, TokenVerifier

from .config import Settings, get_settings
from .errors import render_error

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("trading", settings.log_level)
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    verifier = TokenVerifier(settings.jwks_url, settings.jwt_issuer, settings.jwt_audience)
    authenticator = Authenticator(verifier, settings.allowed_origins)

    async def warm_keys() -> None:
        # Fetch the JWKS in the background: startup never waits on the auth service.
        app.state.jwks_task = asyncio.create_task(verifier.warm())

    async def stop_keys() -> None:
        task = app.state.jwks_task
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app = create_service_app(
        service="trading",
        title="Trading replay service",
        version="0.1.0",
        db=db,
        alembic_ini=ALEMBIC_INI,
        render=render_error,
        validation_status=422,
        on_startup=warm_keys,
        on_shutdown=stop_keys,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.verifier = verifier
    app.state.authenticator = authenticator

    from . import models  # noqa: F401  (every table registered before first use)
    from .candles.router import router as candles_router
    from .instruments.router import router as instruments_router
    from .sessions.router import router as sessions_router

    app.include_router(sessions_router)
    app.include_router(instruments_router)
    app.include_router(candles_router)
    return app
