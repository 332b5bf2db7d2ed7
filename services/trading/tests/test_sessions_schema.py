"""The trading migrations create exactly what the ORM models declare, and go down and up."""

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
        return list(compare_metadata(ctx, metadata))

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


async def test_migration_0004_downgrades_and_upgrades_again(pg_cluster: Any) -> None:
    """0004 (positions, orders, ledger, fills) is reversible."""

    def roundtrip() -> None:
        url = pg_cluster.database("trading_mig0004", ALEMBIC_INI)
        cfg = alembic_config(ALEMBIC_INI, url)
        command.downgrade(cfg, "0003")
        command.upgrade(cfg, "head")

    await asyncio.to_thread(roundtrip)


async def test_migration_0004_opens_the_ledger_of_sessions_started_before_it(
    pg_cluster: Any,
) -> None:
    """A session started before 0004 gets its DEPOSIT (at its first bar) and a balance."""
    from sqlalchemy.ext.asyncio import create_async_engine

    url = pg_cluster.database("trading_mig0004b", ALEMBIC_INI)
    cfg = alembic_config(ALEMBIC_INI, url)
    await asyncio.to_thread(command.downgrade, cfg, "0003")
    from servicekit.config import asyncpg_dsn

    engine = create_async_engine(asyncpg_dsn(url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO instruments (symbol, digits, point, contract_size, min_volume, "
                    "volume_step, max_volume) VALUES ('OLD', 5, 0.00001, 100000, 0.01, 0.01, 100);"
                )
            )
            await conn.execute(
                text("INSERT INTO candles VALUES (1, 'H1', '2024-01-01T01:00Z', 1, 1, 1, 1, 1);")
            )
            from datetime import UTC, datetime

            for status, current in (
                ("DRAFT", None),
                ("PAUSED", datetime(2024, 1, 1, 5, tzinfo=UTC)),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO trading_sessions (user_id, instrument_id, timeframe, "
                        "session_status, speed, start_ts, initial_balance, leverage, spread_pts, "
                        "slippage_pts, commission_per_fill, current_ts) VALUES (1, 1, 'H1', "
                        ":status, '1x', '2024-01-01T00:30Z', 5000, 100, 0, 0, 0, :current)"
                    ),
                    {"status": status, "current": current},
                )
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT s.session_status, s.balance, t.type, t.amount, t.replay_ts "
                        "FROM trading_sessions s LEFT JOIN transactions t ON t.session_id = s.id "
                        "ORDER BY s.id"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    from decimal import Decimal

    assert [tuple(r) for r in rows] == [
        ("DRAFT", None, None, None, None),
        (
            "PAUSED",
            Decimal("5000.00"),
            "DEPOSIT",
            Decimal("5000.00"),
            datetime(2024, 1, 1, 1, tzinfo=UTC),
        ),
    ]
