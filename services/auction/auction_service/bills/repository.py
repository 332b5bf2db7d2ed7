"""Every SQL statement of bills, payments and the commission setting."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from ..charges.models import Charge
from ..items import repository as items_repo
from ..items.models import AuctionItem
from ..masters.models import Farmer, Product
from ..sessions.models import AuctionSession
from .models import DEFAULT_COMMISSION_RATE, Bill, CommissionerSettings, Payment

# What `schemas.bill_out` reads: the farmer, the lines, the charge lines and the payments.
BILL_LOAD = (
    joinedload(Bill.farmer, innerjoin=True),
    selectinload(Bill.bill_items),
    selectinload(Bill.charges),
    selectinload(Bill.payments),
)


@dataclass(frozen=True)
class BillingSettings:
    """A commissioner's billing settings: commission, its payer, the profile, payment terms."""

    commission_rate: Decimal = DEFAULT_COMMISSION_RATE
    commission_payer: str = "FARMER"
    max_commission_rate: Decimal | None = None
    farmer_charges_allowed: bool = True
    payment_terms: str = "SAME_DAY"
    buyer_credit_days: int = 0
    business_name: str | None = None


_cs = CommissionerSettings
SETTINGS_COLUMNS = (
    _cs.commission_rate,
    _cs.commission_payer,
    _cs.max_commission_rate,
    _cs.farmer_charges_allowed,
    _cs.payment_terms,
    _cs.buyer_credit_days,
    _cs.business_name,
)


def _billing_settings(row: Any) -> BillingSettings:
    return BillingSettings(
        commission_rate=Decimal(row.commission_rate),
        commission_payer=row.commission_payer,
        max_commission_rate=row.max_commission_rate,
        farmer_charges_allowed=row.farmer_charges_allowed,
        payment_terms=row.payment_terms,
        buyer_credit_days=int(row.buyer_credit_days),
        business_name=row.business_name,
    )


@dataclass(frozen=True)
class BillFilters:
    session_id: uuid.UUID | None = None
    farmer_id: uuid.UUID | None = None
    payment_status: str | None = None
    status: str | None = None


async def get_session(
    db: AsyncSession, commissioner_id: int, session_id: uuid.UUID
) -> AuctionSession | None:
    stmt = select(AuctionSession).where(
        AuctionSession.id == session_id, AuctionSession.commissioner_id == commissioner_id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def get_farmer(db: AsyncSession, commissioner_id: int, farmer_id: uuid.UUID) -> Farmer | None:
    stmt = select(Farmer).where(Farmer.id == farmer_id, Farmer.commissioner_id == commissioner_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def lock_unbilled_items(
    db: AsyncSession, commissioner_id: int, session_id: uuid.UUID, farmer_id: uuid.UUID
) -> Sequence[tuple[AuctionItem, str]]:
    """The farmer's unbilled lots in the session with their product names, row-locked: a
    concurrent generation waits here, then re-reads `bill_id IS NULL` and finds nothing."""
    stmt = (
        select(AuctionItem, Product.name)
        .join(Product, Product.id == AuctionItem.product_id)
        .where(
            AuctionItem.commissioner_id == commissioner_id,
            AuctionItem.session_id == session_id,
            AuctionItem.farmer_id == farmer_id,
            AuctionItem.bill_id.is_(None),
        )
        .order_by(AuctionItem.created_at, AuctionItem.id)
        .with_for_update(of=AuctionItem)
    )
    return [(item, name) for item, name in (await db.execute(stmt)).all()]


async def next_bill_seq(db: AsyncSession, commissioner_id: int) -> tuple[int, Decimal]:
    """Take the commissioner's next bill number and current rate (see `take_bill_seq`)."""
    seq, settings = await take_bill_seq(db, commissioner_id)
    return seq, settings.commission_rate


async def take_bill_seq(db: AsyncSession, commissioner_id: int) -> tuple[int, BillingSettings]:
    """Take the commissioner's next bill number and current settings in one statement.

    The upsert row-locks the settings row until the transaction ends, so numbers are handed
    out one at a time, and a rolled-back bill gives its number back: the series has no gaps."""
    cs = CommissionerSettings
    stmt = (
        pg_insert(cs)
        .values(commissioner_id=commissioner_id, last_bill_seq=1)
        .on_conflict_do_update(
            index_elements=[cs.commissioner_id], set_={"last_bill_seq": cs.last_bill_seq + 1}
        )
        .returning(cs.last_bill_seq, *SETTINGS_COLUMNS)
    )
    row = (await db.execute(stmt)).one()
    return int(row.last_bill_seq), _billing_settings(row)


async def take_invoice_seq(db: AsyncSession, commissioner_id: int) -> tuple[int, BillingSettings]:
    """Take the commissioner's next buyer-invoice number and current settings (the same row
    lock as `take_bill_seq`: gapless, and a rolled-back invoice gives its number back)."""
    cs = CommissionerSettings
    stmt = (
        pg_insert(cs)
        .values(commissioner_id=commissioner_id, last_invoice_seq=1)
        .on_conflict_do_update(
            index_elements=[cs.commissioner_id],
            set_={"last_invoice_seq": cs.last_invoice_seq + 1},
        )
        .returning(cs.last_invoice_seq, *SETTINGS_COLUMNS)
    )
    row = (await db.execute(stmt)).one()
    return int(row.last_invoice_seq), _billing_settings(row)


async def active_farmer_charges(db: AsyncSession, commissioner_id: int) -> Sequence[Charge]:
    """The charges a new farmer bill deducts, in name order (the order of its lines)."""
    stmt = (
        select(Charge)
        .where(
            Charge.commissioner_id == commissioner_id,
            Charge.payer == "FARMER",
            Charge.active.is_(True),
        )
        .order_by(func.lower(Charge.name), Charge.id)
    )
    return (await db.execute(stmt)).scalars().all()


async def mark_items_billed(
    db: AsyncSession, item_ids: Sequence[uuid.UUID], bill_id: uuid.UUID
) -> None:
    stmt = (
        update(AuctionItem)
        .where(AuctionItem.id.in_(item_ids))
        .values(bill_id=bill_id)
        .execution_options(synchronize_session=False)
    )
    await db.execute(stmt)


async def release_items(db: AsyncSession, bill_id: uuid.UUID) -> None:
    await items_repo.release_lots(db, "bill_id", bill_id)


async def lock_bill(db: AsyncSession, commissioner_id: int, bill_id: uuid.UUID) -> Bill | None:
    """The bill row under FOR UPDATE: payments and voiding of one bill run one at a time."""
    stmt = (
        select(Bill)
        .where(Bill.id == bill_id, Bill.commissioner_id == commissioner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def has_payments(db: AsyncSession, bill_id: uuid.UUID) -> bool:
    stmt = select(Payment.id).where(Payment.bill_id == bill_id).limit(1)
    return (await db.execute(stmt)).first() is not None


async def get_bill(db: AsyncSession, commissioner_id: int, bill_id: uuid.UUID) -> Bill | None:
    stmt = (
        select(Bill)
        .options(*BILL_LOAD)
        .where(Bill.id == bill_id, Bill.commissioner_id == commissioner_id)
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).unique().scalar_one_or_none()


def _filtered(stmt: Select[Bill], commissioner_id: int, f: BillFilters) -> Select[Bill]:
    stmt = stmt.where(Bill.commissioner_id == commissioner_id)
    if f.session_id is not None:
        stmt = stmt.where(Bill.session_id == f.session_id)
    if f.farmer_id is not None:
        stmt = stmt.where(Bill.farmer_id == f.farmer_id)
    if f.payment_status is not None:
        stmt = stmt.where(Bill.payment_status == f.payment_status)
    if f.status is not None:
        stmt = stmt.where(Bill.status == f.status)
    return stmt


async def list_bills(
    db: AsyncSession, commissioner_id: int, f: BillFilters, *, page: int, limit: int
) -> tuple[Sequence[Bill], int]:
    """Newest number first; the number is unique per commissioner, so pages are stable."""
    count_stmt = _filtered(select(Bill), commissioner_id, f).with_only_columns(
        func.count(), maintain_column_froms=True
    )
    total = int((await db.execute(count_stmt)).scalar_one())
    stmt = (
        _filtered(select(Bill), commissioner_id, f)
        .options(*BILL_LOAD)
        .order_by(Bill.seq.desc(), Bill.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    bills = (await db.execute(stmt)).unique().scalars().all()
    return bills, total


async def bills_for_session(
    db: AsyncSession, commissioner_id: int, session_id: uuid.UUID
) -> Sequence[Bill]:
    """A session's bills with farmer, lines and payments (for the session detail)."""
    stmt = (
        _filtered(select(Bill), commissioner_id, BillFilters(session_id=session_id))
        .options(*BILL_LOAD)
        .order_by(Bill.seq, Bill.id)
    )
    return (await db.execute(stmt)).unique().scalars().all()


async def get_settings(db: AsyncSession, commissioner_id: int) -> BillingSettings:
    stmt = select(*SETTINGS_COLUMNS).where(_cs.commissioner_id == commissioner_id)
    row = (await db.execute(stmt)).one_or_none()
    return BillingSettings() if row is None else _billing_settings(row)


async def update_settings(
    db: AsyncSession, commissioner_id: int, values: dict[str, Any]
) -> BillingSettings:
    """Set the given settings (a row is created on first use), the others unchanged."""
    stmt = (
        pg_insert(_cs)
        .values(commissioner_id=commissioner_id, **values)
        .on_conflict_do_update(
            index_elements=[_cs.commissioner_id], set_={**values, "updated_at": func.now()}
        )
        .returning(*SETTINGS_COLUMNS)
    )
    return _billing_settings((await db.execute(stmt)).one())
