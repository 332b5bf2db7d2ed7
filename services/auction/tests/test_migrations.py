"""Migrations 0001-0002(-0003) build exactly what the ORM models describe, and go down and up
again; the one-active rule is a partial unique index on the UTC date."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from auction_service import models  # noqa: F401  (every table on the metadata)
from auction_service.db import metadata
from auction_service.main import ALEMBIC_INI
from devstack.testing import PgCluster
from servicekit.config import asyncpg_dsn
from servicekit.migrations import alembic_config


def _compare(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, metadata))


async def test_models_match_migrations_and_downgrade_roundtrip(pg_cluster: PgCluster) -> None:
    url = await asyncio.to_thread(pg_cluster.database, "auction_migcheck", ALEMBIC_INI)
    cfg = alembic_config(ALEMBIC_INI, url)
    # Alembic runs its own event loop: keep it off this test's loop.
    await asyncio.to_thread(command.downgrade, cfg, "0001")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    engine = create_async_engine(asyncpg_dsn(url))
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(_compare)
            index = (
                await conn.execute(
                    text(
                        "SELECT indexdef FROM pg_indexes "
                        "WHERE indexname = 'uq_auction_sessions_one_active_per_date'"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert diffs == [], diffs
    assert "UNIQUE" in index and "'ACTIVE'" in index and "UTC" in index
