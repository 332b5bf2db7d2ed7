"""The trading_sessions migration (0003) creates exactly what the ORM model declares."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from servicekit.migrations import alembic_config
from trading_service.db import metadata
from trading_service.main import ALEMBIC_INI


async def test_migration_matches_the_model(trading_app: Any) -> None:
    def diff(conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(ctx, metadata) if "trading_sessions" in repr(d)]

    async with trading_app.state.db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_check_constraints_guard_the_clock(kit: Any) -> None:
    """The database itself refuses a RUNNING row without an anchor or a DRAFT with a clock."""
    iid = await kit.instrument()
    sess = await kit.session(iid)
    for statement in (
        "UPDATE trading_sessions SET session_status = 'RUNNING' WHERE id = :id",
        "UPDATE trading_sessions SET current_ts = start_ts WHERE id = :id",
        "UPDATE trading_sessions SET speed = '4x' WHERE id = :id",
        "UPDATE trading_sessions SET end_ts = start_ts WHERE id = :id",
    ):
        async with kit.app.state.db.engine.connect() as conn:
            try:
                await conn.execute(text(statement), {"id": sess["id"]})
            except Exception as exc:
                assert "violates check constraint" in str(exc)
            else:
                raise AssertionError(f"accepted: {statement}")
            finally:
                await conn.rollback()


async def test_migration_0003_downgrades_and_upgrades_again(pg_cluster: Any) -> None:
    """0003 is reversible: down to 0002 and back up on a database of its own."""

    def roundtrip() -> None:
        url = pg_cluster.database("trading_mig0003", ALEMBIC_INI)
        cfg = alembic_config(ALEMBIC_INI, url)
        command.downgrade(cfg, "0002")
        command.upgrade(cfg, "head")

    await asyncio.to_thread(roundtrip)
