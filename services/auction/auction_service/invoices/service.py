"""Buyer invoices and collections (issue 11 item 2): the twin of `bills.service` on the
buyer's side. A buyer pays the lots, the buyer-side charge lines and, when the commissioner's
settings put it on the buyer, the commission."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict, NotFound

from ..bills import repository as bills_repo
from ..bills.service import CENT, MAX_MONEY, check_profile, commission_for, payment_status_for
from ..charges.rules import line_values
from ..errors import field_error
from ..ledger import service as ledger_service
from . import repository as repo
from .models import BuyerInvoice, Collection, InvoiceCharge, InvoiceItem

ZERO = Decimal("0.00")
# NUMERIC(16, 3): the largest basis a charge line can hold.
MAX_BASIS = Decimal("9999999999999.999")


def due_date_for(session_date: datetime, credit_days: int) -> date:
    """The sale day (the session's UTC date) plus the buyer's credit days; a date past the
    calendar's end stays at its last day."""
    sale_day = session_date.astimezone(UTC).date()
    try:
        return sale_day + timedelta(days=credit_days)
    except OverflowError:
        return date.max


def is_overdue(invoice: BuyerInvoice, today: date) -> bool:
    """Not fully collected (and not void) after its due date (UTC calendar days)."""
    return (
        invoice.status == "ACTIVE"
        and invoice.collection_status != "PAID"
        and today > invoice.due_date
    )


def unit_price(amount: Decimal, quantity: Decimal) -> Decimal:
    """The lot's price per unit as printed: amount / quantity, half up to cents."""
    return (amount / quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def _too_large(what: str, amount: Decimal) -> Conflict:
    return Conflict(
        f"{what} {amount} exceeds the largest amount an invoice can hold",
        details={"reason": "AMOUNT_TOO_LARGE"},
    )


async def generate_invoice(
    db: AsyncSession, commissioner_id: int, session_id: uuid.UUID, buyer_id: uuid.UUID
) -> BuyerInvoice:
    """Invoice every uninvoiced lot of one buyer in one session, in one transaction."""
    auction_session = await bills_repo.get_session(db, commissioner_id, session_id)
    if auction_session is None:
        raise NotFound("Session not found")
    buyer = await repo.get_buyer(db, commissioner_id, buyer_id)
    if buyer is None:
        raise field_error("buyer_id", "Buyer not found")
    # Lock the lots first: the loser of a race for the same buyer stops here without ever
    # taking an invoice number.
    rows = await repo.lock_uninvoiced_items(db, commissioner_id, session_id, buyer_id)
    if not rows:
        raise Conflict("No uninvoiced items for this buyer in this session")
    lots = [item for item, _ in rows]
    lots_amount = sum((item.final_price for item in lots), ZERO)
    if lots_amount > MAX_MONEY:
        raise _too_large("Invoice lots total", lots_amount)
    seq, settings = await bills_repo.take_invoice_seq(db, commissioner_id)
    rate = settings.commission_rate if settings.commission_payer == "BUYER" else ZERO
    if rate:
        check_profile(settings, rate, [])
    charges = await repo.active_buyer_charges(db, commissioner_id)
    lines = [InvoiceCharge(**values) for values in line_values(charges, lots)]
    for line in lines:
        if line.basis > MAX_BASIS or line.amount > MAX_MONEY:
            raise _too_large(f"Charge {line.name!r}", line.amount)
    charges_amount = sum((line.amount for line in lines), ZERO)
    commission = commission_for(lots_amount, rate)
    total = lots_amount + charges_amount + commission
    if total > MAX_MONEY:
        raise _too_large("Invoice total", total)
    invoice = BuyerInvoice(
        id=uuid.uuid4(),
        commissioner_id=commissioner_id,
        session_id=session_id,
        buyer_id=buyer_id,
        seq=seq,
        lots_amount=lots_amount,
        charges_amount=charges_amount,
        commission_rate=rate,
        commission_amount=commission,
        total_amount=total,
        due_date=due_date_for(auction_session.date, settings.buyer_credit_days),
        collected_amount=ZERO,
        collection_status=payment_status_for(ZERO, total),
        status="ACTIVE",
    )
    invoice.buyer = buyer
    invoice.collections = []
    invoice.charges = lines
    invoice.invoice_items = [
        InvoiceItem(
            position=position,
            auction_item_id=item.id,
            product_id=item.product_id,
            product_name=product_name,
            farmer_id=item.farmer_id,
            unit=item.unit,
            quantity=item.quantity,
            price=unit_price(item.final_price, item.quantity),
            amount=item.final_price,
        )
        for position, (item, product_name) in enumerate(rows, start=1)
    ]
    db.add(invoice)
    await db.flush()
    # The lots are locked by this transaction, so every one is still free; checked anyway:
    # a lot is on at most one active invoice.
    taken = await repo.mark_items_invoiced(db, [item.id for item in lots], invoice.id)
    if taken != len(lots):
        raise Conflict("Some of the buyer's lots were invoiced meanwhile; try again")
    # Same transaction: the invoice and its journal entry commit (or roll back) together.
    await ledger_service.record_invoice(db, invoice)
    return invoice


async def get_invoice(
    db: AsyncSession, commissioner_id: int, invoice_id: uuid.UUID
) -> BuyerInvoice:
    invoice = await repo.get_invoice(db, commissioner_id, invoice_id)
    if invoice is None:
        raise NotFound("Buyer invoice not found")
    return invoice


async def list_invoices(
    db: AsyncSession,
    commissioner_id: int,
    filters: repo.InvoiceFilters,
    *,
    page: int,
    limit: int,
) -> tuple[Sequence[BuyerInvoice], int]:
    return await repo.list_invoices(db, commissioner_id, filters, page=page, limit=limit)


async def list_session_invoices(
    db: AsyncSession,
    commissioner_id: int,
    session_id: uuid.UUID,
    filters: repo.InvoiceFilters,
    *,
    page: int,
    limit: int,
) -> tuple[Sequence[BuyerInvoice], int]:
    if await bills_repo.get_session(db, commissioner_id, session_id) is None:
        raise NotFound("Session not found")
    filters = dataclasses.replace(filters, session_id=session_id)
    return await repo.list_invoices(db, commissioner_id, filters, page=page, limit=limit)


async def add_collection(
    db: AsyncSession,
    commissioner_id: int,
    invoice_id: uuid.UUID,
    amount: Decimal,
    method: str,
    note: str | None,
    reference: str | None = None,
) -> tuple[Collection, BuyerInvoice]:
    """Collect part or all of an invoice's total from the buyer; never more (row lock on the
    invoice)."""
    invoice = await repo.lock_invoice(db, commissioner_id, invoice_id)
    if invoice is None:
        raise NotFound("Buyer invoice not found")
    if invoice.status == "VOID":
        raise Conflict("Cannot collect on a void invoice")
    collected = invoice.collected_amount + amount
    if collected > invoice.total_amount:
        outstanding = invoice.total_amount - invoice.collected_amount
        raise Conflict(
            f"Collection exceeds the outstanding amount of {outstanding} (overcollection)",
            details={"outstanding_amount": float(outstanding)},
        )
    collection = Collection(
        id=uuid.uuid4(),
        invoice_id=invoice.id,
        amount=amount,
        method=method,
        note=note,
        reference=reference,
    )
    db.add(collection)
    invoice.collected_amount = collected
    invoice.collection_status = payment_status_for(collected, invoice.total_amount)
    await db.flush()
    await ledger_service.record_collection(db, invoice, collection)
    return collection, invoice


async def void_invoice(db: AsyncSession, commissioner_id: int, invoice_id: uuid.UUID) -> None:
    """Keep the number (status VOID) so the series stays gapless; the lots become uninvoiced."""
    invoice = await repo.lock_invoice(db, commissioner_id, invoice_id)
    if invoice is None:
        raise NotFound("Buyer invoice not found")
    if invoice.status == "VOID":
        raise Conflict("Buyer invoice is already void")
    if await repo.has_collections(db, invoice.id):
        raise Conflict("Cannot delete a buyer invoice with collections")
    await repo.release_items(db, invoice.id)
    invoice.status = "VOID"
    await db.flush()
    await ledger_service.record_invoice_void(db, invoice)
