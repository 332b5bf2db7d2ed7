"""Auction service: a commission agent's data entry (seed 003 and SPEC section 4)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from servicekit.app import create_resource_app
from servicekit.openapi import GATEWAY_RATE_LIMITED, OpenAPIOptions

from .config import Settings, get_settings
from .envelope import ErrorEnvelope
from .errors import render_error
from .verification.keys import BillSigner
from .verification.router import PUBLIC_BILL_PATH, PUBLIC_JWKS_PATH

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_resource_app(
        service="auction",
        title="Auction data-entry service",
        version="0.1.0",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        render=render_error,
        validation_status=400,
        validation_code="VALIDATION_ERROR",
        malformed_json_code="VALIDATION_ERROR",
        openapi=OpenAPIOptions(
            error_model=ErrorEnvelope,
            # gateway/dynamic.yml: auction-public-rate-limit
            rate_limited=GATEWAY_RATE_LIMITED | {PUBLIC_BILL_PATH, PUBLIC_JWKS_PATH},
        ),
    )
    key = settings.signing_key.get_secret_value() if settings.signing_key else None
    app.state.bill_signer = BillSigner(key)

    from . import models  # noqa: F401  (every table registered before first use)
    from .bills.router import router as bills_router
    from .invoices.router import router as invoices_router
    from .items.router import router as items_router
    from .ledger.router import router as ledger_router
    from .masters.router import router as masters_router
    from .reports.router import router as reports_router
    from .sessions.router import router as sessions_router
    from .verification.router import router as verification_router

    app.include_router(sessions_router)
    app.include_router(items_router)
    app.include_router(masters_router)
    app.include_router(bills_router)
    app.include_router(invoices_router)
    app.include_router(ledger_router)
    app.include_router(verification_router)
    app.include_router(reports_router)
    return app
