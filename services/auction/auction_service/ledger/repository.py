"""Every SQL statement of the money journal: the head lock, appends and the views' reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Row, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..bills.models import Bill
from ..masters.models import Farmer
from .models import LedgerEntry, LedgerHead


@dataclass(frozen=True)
class Head:
    seq: int
    prev_hash: str
    at: datetime


async def claim_next_seq(db: AsyncSession, commissioner_id: int) -> Head:
    """Take the next seq under the head row's lock (an upsert: FOR UPDATE until commit).

    Appends of one commissioner run one at a time, so the chain never forks and a rolled-back
    event gives its seq back (gapless). `at` is `clock_timestamp()` taken once the lock is
    held, so it never goes backwards along the chain (`now()`, the transaction's start, could).
    """
    h = LedgerHead
    stmt = (
        pg_insert(h)
        .values(commissioner_id=commissioner_id, last_seq=1)
        .on_conflict_do_update(
            index_elements=[h.commissioner_id], set_={"last_seq": h.last_seq + 1}
        )
        .returning(h.last_seq, h.last_hash, func.clock_timestamp())
    )
    row = (await db.execute(stmt)).one()
    return Head(seq=int(row[0]), prev_hash=str(row[1]), at=row[2])


async def set_head_hash(db: AsyncSession, commissioner_id: int, hash_: str) -> None:
    stmt = (
        update(LedgerHead)
        .where(LedgerHead.commissioner_id == commissioner_id)
        .values(last_hash=hash_)
        .execution_options(synchronize_session=False)
    )
    await db.execute(stmt)


async def get_head(db: AsyncSession, commissioner_id: int) -> LedgerHead | None:
    stmt = select(LedgerHead).where(LedgerHead.commissioner_id == commissioner_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def entries_after(
    db: AsyncSession, commissioner_id: int, after_seq: int, batch: int
) -> Sequence[LedgerEntry]:
    """The next batch of the chain in seq order (verify walks it without loading it all)."""
    stmt = (
        select(LedgerEntry)
        .where(LedgerEntry.commissioner_id == commissioner_id, LedgerEntry.seq > after_seq)
        .order_by(LedgerEntry.seq)
        .limit(batch)
    )
    return (await db.execute(stmt)).scalars().all()


async def party_entries(
    db: AsyncSession,
    commissioner_id: int,
    party_type: str,
    party_id: uuid.UUID,
    *,
    offset: int,
    limit: int | None,
) -> tuple[Sequence[Row[LedgerEntry, Decimal]], int]:
    """A party's entries, oldest first, each with the running balance up to it."""
    where = (
        LedgerEntry.commissioner_id == commissioner_id,
        LedgerEntry.party_type == party_type,
        LedgerEntry.party_id == party_id,
    )
    total = int((await db.execute(select(func.count()).where(*where))).scalar_one())
    # The window runs over every matching row before OFFSET/LIMIT: page 2 carries on the sum.
    balance = func.sum(LedgerEntry.amount).over(order_by=LedgerEntry.seq).label("balance")
    stmt = select(LedgerEntry, balance).where(*where).order_by(LedgerEntry.seq).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await db.execute(stmt)).all(), total


async def party_balance(
    db: AsyncSession, commissioner_id: int, party_type: str, party_id: uuid.UUID
) -> Decimal:
    stmt = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.commissioner_id == commissioner_id,
        LedgerEntry.party_type == party_type,
        LedgerEntry.party_id == party_id,
    )
    return Decimal((await db.execute(stmt)).scalar_one())


async def day_entries(
    db: AsyncSession,
    commissioner_id: int,
    start: datetime,
    end: datetime,
    *,
    offset: int,
    limit: int | None,
) -> tuple[Sequence[LedgerEntry], int, Sequence[Row[str, int, Decimal]]]:
    """Entries with start <= at < end in seq order, their count, and per-kind totals."""
    where = (
        LedgerEntry.commissioner_id == commissioner_id,
        LedgerEntry.at >= start,
        LedgerEntry.at < end,
    )
    totals = (
        await db.execute(
            select(LedgerEntry.kind, func.count(), func.sum(LedgerEntry.amount))
            .where(*where)
            .group_by(LedgerEntry.kind)
            .order_by(LedgerEntry.kind)
        )
    ).all()
    total = sum(int(r[1]) for r in totals)
    stmt = select(LedgerEntry).where(*where).order_by(LedgerEntry.seq).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await db.execute(stmt)).scalars().all(), total, totals


async def farmer_outstanding(
    db: AsyncSession, commissioner_id: int, now: datetime, *, offset: int, limit: int | None
) -> tuple[Sequence[Row[Bill, Farmer, Decimal]], int]:
    """Bills the journal says are still owed to their farmer (Σ amount > 0): overdue first
    (past `due_at` at `now`), then by due time, then oldest first."""
    owed = (
        select(
            LedgerEntry.document_id.label("bill_id"),
            func.sum(LedgerEntry.amount).label("outstanding"),
        )
        .where(LedgerEntry.commissioner_id == commissioner_id, LedgerEntry.party_type == "FARMER")
        .group_by(LedgerEntry.document_id)
        .having(func.sum(LedgerEntry.amount) > 0)
        .subquery()
    )
    base = (
        select(Bill, Farmer, owed.c.outstanding)
        .join(owed, owed.c.bill_id == Bill.id)
        .join(Farmer, Farmer.id == Bill.farmer_id)
        .where(Bill.commissioner_id == commissioner_id)
    )
    total = int(
        (
            await db.execute(base.with_only_columns(func.count(), maintain_column_froms=True))
        ).scalar_one()
    )
    overdue_first = case((Bill.due_at < now, 0), else_=1)
    stmt = base.order_by(overdue_first, Bill.due_at, Bill.created_at, Bill.seq).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await db.execute(stmt)).all(), total
