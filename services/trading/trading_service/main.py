"""Trading service: the market-replay simulator (seed 000 and SPEC section 3)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from servicekit.app import create_resource_app
from servicekit.fastpath import FastRead, install_fast_reads

from .config import Settings, get_settings
from .errors import render_error
from .sessions import hub as stream_hub

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def is_candle_import(method: str, path: str) -> bool:
    """The candle import streams its large CSV/JSON body itself (gateway limit 256 MiB)."""
    parts = path.split("/")
    return (
        method == "POST" and len(parts) == 4 and parts[1] == "instruments" and parts[3] == "candles"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_resource_app(
        service="trading",
        title="Trading replay service",
        version="0.1.0",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        render=render_error,
        validation_status=422,
        unbounded_bodies=is_candle_import,
    )

    from . import models  # noqa: F401  (every table registered before first use)
    from .candles.router import router as candles_router
    from .instruments.router import router as instruments_router
    from .ledger import fast as ledger_fast
    from .ledger.router import router as ledger_router
    from .orders.router import router as orders_router
    from .positions import fast as positions_fast
    from .positions.router import router as positions_router
    from .reports.router import router as reports_router
    from .sessions import fast as sessions_fast
    from .sessions.router import router as sessions_router

    app.include_router(sessions_router)
    app.include_router(positions_router)
    app.include_router(orders_router)
    app.include_router(ledger_router)
    app.include_router(reports_router)
    app.include_router(instruments_router)
    app.include_router(candles_router)
    # The hottest reads, answered before routing when they can be (servicekit.fastpath).
    install_fast_reads(
        app,
        [
            FastRead("/sessions/{session_id}", sessions_fast.get_session),
            FastRead("/sessions/{session_id}/candles", sessions_fast.session_candles),
            FastRead("/sessions/{session_id}/positions", positions_fast.list_positions),
            FastRead("/sessions/{session_id}/account", ledger_fast.get_account),
            FastRead("/sessions/{session_id}/transactions", ledger_fast.list_transactions),
        ],
    )
    # One LISTEN connection per process for the event streams (sessions/stream.py).
    stream_hub.install(app, settings.database_url)
    return app
