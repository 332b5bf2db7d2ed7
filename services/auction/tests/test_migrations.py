"""Migrations 0001-0002(-0003) build exactly what the ORM models describe, and go down and up
again; the one-active rule is a partial unique index on the UTC date."""

from __future__ import annotations

import asyncio
import re
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


async def test_0004_gives_existing_bills_distinct_unguessable_codes(pg_cluster: PgCluster) -> None:
    """Bills made before 0006_bill_verification get a code each in the upgrade (backfill)."""
    url = await asyncio.to_thread(pg_cluster.database, "auction_backfill", ALEMBIC_INI)
    cfg = alembic_config(ALEMBIC_INI, url)
    await asyncio.to_thread(command.downgrade, cfg, "0003")
    engine = create_async_engine(asyncpg_dsn(url))
    try:
        async with engine.begin() as conn:
            farmer = (
                await conn.execute(
                    text("INSERT INTO farmers (commissioner_id, name) VALUES (1, 'F') RETURNING id")
                )
            ).scalar_one()
            session = (
                await conn.execute(
                    text(
                        "INSERT INTO auction_sessions (commissioner_id, date) "
                        "VALUES (1, now()) RETURNING id"
                    )
                )
            ).scalar_one()
            for seq in (1, 2, 3):
                await conn.execute(
                    text(
                        "INSERT INTO bills (commissioner_id, session_id, farmer_id, seq, "
                        "total_amount, commission_rate, commission_amount, net_amount) "
                        "VALUES (1, :s, :f, :seq, 100, 5, 5, 95)"
                    ),
                    {"s": session, "f": farmer, "seq": seq},
                )
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.connect() as conn:
            codes = (await conn.execute(text("SELECT verification_code FROM bills"))).scalars()
            found = list(codes)
    finally:
        await engine.dispose()
    assert len(found) == 3 and len(set(found)) == 3
    # secrets.token_urlsafe(24): 192 bits as 32 base64url characters
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", c) for c in found), found
