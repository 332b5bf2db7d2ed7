"""Every SQL statement of the money journal: the head lock, appends and the views' reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import TIMESTAMP, Row, case, cast, func, literal, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..bills.models import Bill
from ..invoices.models import BuyerInvoice
from ..masters.models import Buyer, Farmer
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


@dataclass(frozen=True)
class Owed:
    """One document still owed, as the journal sums it: a farmer's bill (the agent owes the
    farmer) or a buyer's invoice (the buyer owes the agent)."""

    party_type: str
    document: Bill | BuyerInvoice
    party: Farmer | Buyer
    outstanding: Decimal


def _owed(commissioner_id: int, party_type: str) -> Any:
    """Documents of one party type whose entries sum above zero, with that sum."""
    return (
        select(
            LedgerEntry.document_id.label("document_id"),
            func.sum(LedgerEntry.amount).label("outstanding"),
        )
        .where(
            LedgerEntry.commissioner_id == commissioner_id,
            LedgerEntry.party_type == party_type,
        )
        .group_by(LedgerEntry.document_id)
        .having(func.sum(LedgerEntry.amount) > 0)
        .subquery()
    )


async def outstanding(
    db: AsyncSession, commissioner_id: int, now: datetime, *, offset: int, limit: int | None
) -> tuple[list[Owed], int]:
    """Bills still owed to their farmer and invoices still owed by their buyer (the journal's
    Σ amount > 0): overdue first, then by due time, then oldest first. A bill is due at
    `due_at`; an invoice at the end of its `due_date` (midnight UTC after it), so both kinds
    sort on one clock."""
    bills_owed, invoices_owed = _owed(commissioner_id, "FARMER"), _owed(commissioner_id, "BUYER")
    today = now.astimezone(UTC).date()
    inv = BuyerInvoice
    invoice_due_at = func.timezone("UTC", cast(inv.due_date + 1, TIMESTAMP(timezone=False)))
    keys = union_all(
        select(
            literal("FARMER").label("party_type"),
            Bill.id.label("document_id"),
            case((Bill.due_at < now, 0), else_=1).label("not_overdue"),
            Bill.due_at.label("due_at"),
            Bill.created_at.label("created_at"),
            Bill.seq.label("seq"),
            bills_owed.c.outstanding,
        )
        .join(bills_owed, bills_owed.c.document_id == Bill.id)
        .where(Bill.commissioner_id == commissioner_id),
        select(
            literal("BUYER").label("party_type"),
            inv.id.label("document_id"),
            case((inv.due_date < today, 0), else_=1).label("not_overdue"),
            invoice_due_at.label("due_at"),
            inv.created_at.label("created_at"),
            inv.seq.label("seq"),
            invoices_owed.c.outstanding,
        )
        .join(invoices_owed, invoices_owed.c.document_id == inv.id)
        .where(inv.commissioner_id == commissioner_id),
    ).subquery()
    total = int((await db.execute(select(func.count()).select_from(keys))).scalar_one())
    stmt = (
        select(keys.c.party_type, keys.c.document_id, keys.c.outstanding)
        .order_by(
            keys.c.not_overdue,
            keys.c.due_at,
            keys.c.created_at,
            keys.c.party_type.desc(),  # FARMER before BUYER on a tie
            keys.c.seq,
            keys.c.document_id,
        )
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    page = (await db.execute(stmt)).all()
    bill_ids = [r.document_id for r in page if r.party_type == "FARMER"]
    invoice_ids = [r.document_id for r in page if r.party_type == "BUYER"]
    docs: dict[uuid.UUID, tuple[Bill | BuyerInvoice, Farmer | Buyer]] = {}
    if bill_ids:
        rows = await db.execute(
            select(Bill, Farmer)
            .join(Farmer, Farmer.id == Bill.farmer_id)
            .where(Bill.id.in_(bill_ids))
        )
        docs.update({bill.id: (bill, farmer) for bill, farmer in rows.all()})
    if invoice_ids:
        rows = await db.execute(
            select(inv, Buyer).join(Buyer, Buyer.id == inv.buyer_id).where(inv.id.in_(invoice_ids))
        )
        docs.update({invoice.id: (invoice, buyer) for invoice, buyer in rows.all()})
    owed = [Owed(r.party_type, *docs[r.document_id], Decimal(r.outstanding)) for r in page]
    return owed, total
