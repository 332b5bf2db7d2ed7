"""Auth service: users, logins and the keys that sign access tokens (SPEC section 2)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from servicekit.app import create_service_app
from servicekit.db import Database
from servicekit.logging import configure_logging
from servicekit.security import Authenticator

from .config import Settings, get_settings
from .errors import render_error
from .tokens.keys import KeyRing
from .tokens.throttle import LoginThrottle
from .tokens.verifier import LocalTokenVerifier
from .users.passwords import Passwords

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging("auth", settings.log_level)
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    signing_key = settings.signing_key.get_secret_value() if settings.signing_key else None
    previous = settings.previous_signing_keys
    keyring = KeyRing(signing_key, previous.get_secret_value() if previous else None)
    verifier = LocalTokenVerifier(keyring, db, settings.jwt_issuer, settings.jwt_audience)
    authenticator = Authenticator(verifier, settings.allowed_origins)
    passwords = Passwords(
        time_cost=settings.password_hash_time_cost,
        memory_kib=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
    throttle = LoginThrottle(
        db,
        max_failures=settings.login_max_failures,
        window_seconds=settings.login_window_seconds,
    )

    async def startup() -> None:
        from .tokens.service import purge_finished_logins
        from .users.service import bootstrap_admin

        await keyring.load(db)
        verifier.add_jwks(keyring.jwks())
        if settings.admin_email and settings.admin_password is not None:
            await bootstrap_admin(
                db,
                passwords,
                email=settings.admin_email,
                password=settings.admin_password.get_secret_value(),
                name=settings.admin_name,
            )
        await throttle.purge()
        await purge_finished_logins(db)

    app = create_service_app(
        service="auth",
        title="Auth service",
        version="0.1.0",
        db=db,
        alembic_ini=ALEMBIC_INI,
        render=render_error,
        validation_status=422,
        on_startup=startup,
        drain_seconds=settings.drain_seconds,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.keyring = keyring
    app.state.verifier = verifier
    app.state.authenticator = authenticator
    app.state.passwords = passwords
    app.state.throttle = throttle

    from . import models  # noqa: F401  (every table registered before first use)
    from .tokens.router import router as tokens_router
    from .users.router import router as users_router

    app.include_router(users_router)
    app.include_router(tokens_router)
    return app
