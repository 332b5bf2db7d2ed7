"""Bill generation, payments, voiding and the commission setting (SPEC section 4, "Bills")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict, NotFound

from ..charges.models import Charge
from ..charges.rules import line_values
from ..errors import field_error
from ..items.models import AuctionItem
from ..ledger import service as ledger_service
from . import repository as repo
from .models import Bill, BillCharge, BillItem, Payment

CENT = Decimal("0.01")
# NUMERIC(14, 2): the largest amount a bill can hold.
MAX_MONEY = Decimal("999999999999.99")
# Hours after the end of the sale day (the session's UTC date) by which the farmer is paid.
TERMS_HOURS = {"SAME_DAY": 0, "WITHIN_24_HOURS": 24, "WITHIN_48_HOURS": 48, "WITHIN_72_HOURS": 72}


def commission_for(total: Decimal, rate: Decimal) -> Decimal:
    """total x rate / 100, rounded half up to cents."""
    return (total * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def due_at_for(session_date: datetime, payment_terms: str) -> datetime:
    """The end of the sale day (midnight UTC after the session's date), plus the terms' hours.

    Counted from the sale, not from the bill: a bill made late does not move the farmer's
    payday."""
    sale_day = session_date.astimezone(UTC).date()
    end_of_day = datetime.combine(sale_day + timedelta(days=1), time(0), tzinfo=UTC)
    return end_of_day + timedelta(hours=TERMS_HOURS[payment_terms])


def charge_lines(charges: Sequence[Charge], lots: Sequence[AuctionItem]) -> list[BillCharge]:
    return [BillCharge(**values) for values in line_values(charges, lots)]


def check_profile(settings: repo.BillingSettings, rate: Decimal, charges: Sequence[Charge]) -> None:
    """A bill that breaks the commissioner's profile is refused (409) with the reason."""
    cap = settings.max_commission_rate
    if cap is not None and rate > cap:
        raise Conflict(
            f"Commission rate {rate}% exceeds the profile's cap of {cap}%",
            details={
                "reason": "COMMISSION_RATE_ABOVE_CAP",
                "commission_rate": float(rate),
                "max_commission_rate": float(cap),
            },
        )
    if charges and not settings.farmer_charges_allowed:
        names = [c.name for c in charges]
        raise Conflict(
            "The profile forbids charges on the farmer, but these active charges are set to "
            f"be paid by the farmer: {', '.join(names)}",
            details={"reason": "FARMER_CHARGES_FORBIDDEN", "charges": names},
        )


def payment_status_for(paid: Decimal, net: Decimal) -> str:
    """Follows the paid sum; a bill with nothing to pay out is settled (PAID) from the start."""
    if paid >= net:
        return "PAID"
    if paid == 0:
        return "UNPAID"
    return "PARTIAL"


async def get_settings(db: AsyncSession, commissioner_id: int) -> repo.BillingSettings:
    return await repo.get_settings(db, commissioner_id)


async def update_settings(
    db: AsyncSession, commissioner_id: int, values: dict[str, object]
) -> repo.BillingSettings:
    return await repo.update_settings(db, commissioner_id, values)


async def generate_bill(
    db: AsyncSession,
    commissioner_id: int,
    session_id: uuid.UUID,
    farmer_id: uuid.UUID,
    commission_rate: Decimal | None,
) -> Bill:
    """Bill every unbilled lot of one farmer in one session, in one transaction."""
    auction_session = await repo.get_session(db, commissioner_id, session_id)
    if auction_session is None:
        raise NotFound("Session not found")
    farmer = await repo.get_farmer(db, commissioner_id, farmer_id)
    if farmer is None:
        raise field_error("farmer_id", "Farmer not found")
    # Lock the lots first: the loser of a race for the same farmer stops here without
    # ever taking a bill number.
    rows = await repo.lock_unbilled_items(db, commissioner_id, session_id, farmer_id)
    if not rows:
        raise Conflict("No unbilled items for this farmer in this session")
    total = sum((item.final_price for item, _ in rows), Decimal("0.00"))
    if total > MAX_MONEY:
        raise Conflict(f"Bill total {total} exceeds the largest amount a bill can hold")
    seq, settings = await repo.take_bill_seq(db, commissioner_id)
    rate = settings.commission_rate if commission_rate is None else commission_rate
    charges = await repo.active_farmer_charges(db, commissioner_id)
    check_profile(settings, rate, charges)
    lots = [item for item, _ in rows]
    lines = charge_lines(charges, lots)
    commission = commission_for(total, rate)
    charges_amount = sum((line.amount for line in lines), Decimal("0.00"))
    farmer_commission = commission if settings.commission_payer == "FARMER" else Decimal("0.00")
    net = total - farmer_commission - charges_amount
    if net < 0:
        raise Conflict(
            f"The farmer-side charges ({farmer_commission + charges_amount}) exceed the bill "
            f"total ({total})",
            details={"reason": "CHARGES_EXCEED_TOTAL"},
        )
    bill = Bill(
        id=uuid.uuid4(),
        commissioner_id=commissioner_id,
        session_id=session_id,
        farmer_id=farmer_id,
        seq=seq,
        total_amount=total,
        commission_rate=rate,
        commission_amount=commission,
        commission_payer=settings.commission_payer,
        charges_amount=charges_amount,
        net_amount=net,
        due_at=due_at_for(auction_session.date, settings.payment_terms),
        paid_amount=Decimal("0.00"),
        payment_status=payment_status_for(Decimal("0.00"), net),
        status="ACTIVE",
    )
    bill.farmer = farmer
    bill.payments = []
    bill.charges = lines
    bill.bill_items = [
        BillItem(
            auction_item_id=item.id,
            product_id=item.product_id,
            product_name=product_name,
            unit=item.unit,
            quantity=item.quantity,
            amount=item.final_price,
        )
        for item, product_name in rows
    ]
    db.add(bill)
    await db.flush()
    await repo.mark_items_billed(db, [item.id for item, _ in rows], bill.id)
    # Same transaction: the bill and its journal entry commit (or roll back) together.
    await ledger_service.record_bill(db, bill)
    return bill


async def get_bill(db: AsyncSession, commissioner_id: int, bill_id: uuid.UUID) -> Bill:
    bill = await repo.get_bill(db, commissioner_id, bill_id)
    if bill is None:
        raise NotFound("Bill not found")
    return bill


async def list_bills(
    db: AsyncSession, commissioner_id: int, filters: repo.BillFilters, *, page: int, limit: int
) -> tuple[Sequence[Bill], int]:
    return await repo.list_bills(db, commissioner_id, filters, page=page, limit=limit)


async def add_payment(
    db: AsyncSession,
    commissioner_id: int,
    bill_id: uuid.UUID,
    amount: Decimal,
    method: str,
    note: str | None,
    reference: str | None = None,
) -> tuple[Payment, Bill]:
    """Pay the farmer part or all of a bill's net amount; never more (row lock on the bill)."""
    bill = await repo.lock_bill(db, commissioner_id, bill_id)
    if bill is None:
        raise NotFound("Bill not found")
    if bill.status == "VOID":
        raise Conflict("Cannot pay a void bill")
    paid = bill.paid_amount + amount
    if paid > bill.net_amount:
        outstanding = bill.net_amount - bill.paid_amount
        raise Conflict(
            f"Payment exceeds the outstanding amount of {outstanding} (overpayment)",
            details={"outstanding_amount": float(outstanding)},
        )
    payment = Payment(
        id=uuid.uuid4(),
        bill_id=bill.id,
        amount=amount,
        method=method,
        note=note,
        reference=reference,
    )
    db.add(payment)
    bill.paid_amount = paid
    bill.payment_status = payment_status_for(paid, bill.net_amount)
    await db.flush()
    await ledger_service.record_payment(db, bill, payment)
    return payment, bill


async def void_bill(db: AsyncSession, commissioner_id: int, bill_id: uuid.UUID) -> None:
    """Keep the number (status VOID) so the series stays gapless; the lots become unbilled."""
    bill = await repo.lock_bill(db, commissioner_id, bill_id)
    if bill is None:
        raise NotFound("Bill not found")
    if bill.status == "VOID":
        raise Conflict("Bill is already void")
    if await repo.has_payments(db, bill.id):
        raise Conflict("Cannot delete a bill with payments")
    await repo.release_items(db, bill.id)
    bill.status = "VOID"
    await db.flush()
    await ledger_service.record_bill_void(db, bill)
