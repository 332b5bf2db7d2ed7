"""Migration 0005_ledger journals the bills, payments and voids made before it, in time
order, with hashes the service's verify accepts; new events then extend those chains."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from auction_service.ledger import service as ledger_service
from auction_service.main import ALEMBIC_INI
from devstack.testing import PgCluster
from servicekit.config import asyncpg_dsn
from servicekit.migrations import alembic_config

F7, F8, S7, S8 = (uuid.uuid4() for _ in range(4))
B1, B2, B3, P1 = (uuid.uuid4() for _ in range(4))

SEED = [
    "INSERT INTO farmers (id, commissioner_id, name) VALUES (:f7, 7, 'Seven'), (:f8, 8, 'Eight')",
    "INSERT INTO auction_sessions (id, commissioner_id, date) "
    "VALUES (:s7, 7, '2025-08-03T08:00Z'), (:s8, 8, '2025-08-03T08:00Z')",
    # BILL-001 of 7: 100.00 at 5 % -> net 95.00, paid 30.00; BILL-002: 200.00 at 5 % ->
    # net 190.00, voided at 10:02; BILL-001 of 8: 50.00 at 0 % -> net 50.00.
    "INSERT INTO bills (id, commissioner_id, session_id, farmer_id, seq, total_amount, "
    "commission_rate, commission_amount, net_amount, paid_amount, payment_status, status, "
    "created_at, updated_at) VALUES "
    "(:b1, 7, :s7, :f7, 1, 100, 5, 5, 95, 30, 'PARTIAL', 'ACTIVE', "
    "'2025-08-03T10:00:00.123456Z', '2025-08-03T10:05:00Z'), "
    "(:b2, 7, :s7, :f7, 2, 200, 5, 10, 190, 0, 'UNPAID', 'VOID', "
    "'2025-08-03T10:01:00Z', '2025-08-03T10:02:00Z'), "
    "(:b3, 8, :s8, :f8, 1, 50, 0, 0, 50, 0, 'UNPAID', 'ACTIVE', "
    "'2025-08-03T09:00:00Z', '2025-08-03T09:00:00Z')",
    "INSERT INTO payments (id, bill_id, amount, method, note, created_at) "
    "VALUES (:p1, :b1, 30, 'CASH', 'first', '2025-08-03T10:05:00Z')",
]


async def test_migration_journals_existing_bills_payments_and_voids(pg_cluster: PgCluster) -> None:
    url = await asyncio.to_thread(pg_cluster.database, "auction_ledger_backfill", ALEMBIC_INI)
    cfg = alembic_config(ALEMBIC_INI, url)
    await asyncio.to_thread(command.downgrade, cfg, "0003")
    engine = create_async_engine(asyncpg_dsn(url))
    ids = {"f7": F7, "f8": F8, "s7": S7, "s8": S8, "b1": B1, "b2": B2, "b3": B3, "p1": P1}
    try:
        async with engine.begin() as conn:
            for sql in SEED:
                await conn.execute(text(sql), {k: v for k, v in ids.items() if f":{k}" in sql})
        await asyncio.to_thread(command.upgrade, cfg, "head")
        async with AsyncSession(engine) as db:
            rows = (
                await db.execute(
                    text(
                        "SELECT commissioner_id, seq, kind, document_number, amount "
                        "FROM ledger_entries ORDER BY commissioner_id, seq"
                    )
                )
            ).all()
            assert [tuple(r) for r in rows] == [
                (7, 1, "BILL", "BILL-001", Decimal("95.00")),
                (7, 2, "BILL", "BILL-002", Decimal("190.00")),
                (7, 3, "BILL_VOID", "BILL-002", Decimal("-190.00")),
                (7, 4, "PAYMENT", "BILL-001", Decimal("-30.00")),
                (8, 1, "BILL", "BILL-001", Decimal("50.00")),
            ]
            for commissioner_id, count in ((7, 4), (8, 1)):
                result = await ledger_service.verify(db, commissioner_id)
                assert (result.valid, result.entries) == (True, count), result
            assert await ledger_service.farmer_balance(db, 7, F7) == Decimal("65.00")
            # The service's next event extends the migrated chain.
            entry = await ledger_service.append(
                db,
                7,
                kind="PAYMENT",
                party_id=F7,
                document_id=B1,
                document_number="BILL-001",
                amount=Decimal("-5.00"),
                payload={"note": "after"},
            )
            assert entry.seq == 5
            result = await ledger_service.verify(db, 7)
            assert (result.valid, result.entries, result.head_hash) == (True, 5, entry.hash)
            await db.rollback()
    finally:
        await engine.dispose()
