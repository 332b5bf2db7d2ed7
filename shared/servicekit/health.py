"""Liveness, readiness (not draining, database reachable, migrations at head) and metrics."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from .db import Database
from .drain import Drain
from .observability import metrics_endpoint

log = logging.getLogger(__name__)


def alembic_heads(alembic_ini: Path) -> set[str]:
    cfg = Config(str(alembic_ini))
    cfg.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    return set(ScriptDirectory.from_config(cfg).get_heads())


def health_router(db: Database, alembic_ini: Path, drain: Drain | None = None) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    heads = alembic_heads(alembic_ini)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """Readiness: not draining, the database answers, its schema at the migration head."""
        if drain is not None and drain.draining:
            # Told to stop: the gateway's health check takes this replica out (servicekit.drain).
            return JSONResponse({"status": "draining"}, status_code=503)
        try:
            async with asyncio.timeout(3):
                async with db.engine.connect() as conn:
                    rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
                    current = {r[0] for r in rows}
        except Exception as exc:
            log.warning("readiness: database unavailable", extra={"error": type(exc).__name__})
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        if current != heads:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "database": "up",
                    "migrations": "pending",
                    "current": sorted(current),
                    "head": sorted(heads),
                },
                status_code=503,
            )
        return JSONResponse({"status": "ok", "database": "up", "migrations": "current"})

    router.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return router
