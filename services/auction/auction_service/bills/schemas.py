"""Bill, payment and settings shapes: request bodies and the `data` of responses."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..envelope import CommissionerId, DbText, Money, Quantity, Rate, Timestamp, UuidText
from ..items.schemas import Unit
from ..masters.models import Farmer
from .models import Bill, BillItem, Payment

PaymentMethod = Literal["CASH", "BANK", "UPI", "CHEQUE"]
PaymentStatus = Literal["UNPAID", "PARTIAL", "PAID"]
BillStatus = Literal["ACTIVE", "VOID"]

# Inputs: exact decimals; more places than the column holds is a 400, never rounded away.
RateIn = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
AmountIn = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SettingsUpdate(_Body):
    commission_rate: RateIn = Field(examples=[5])


class BillCreate(_Body):
    farmer_id: uuid.UUID
    commission_rate: RateIn | None = Field(
        default=None, description="Overrides the commissioner's setting for this bill only."
    )


class PaymentCreate(_Body):
    amount: AmountIn = Field(examples=[1000.0])
    method: PaymentMethod
    note: DbText | None = Field(default=None, max_length=1000)


class SettingsOut(BaseModel):
    commission_rate: Rate = Field(examples=[5.0])


class FarmerRef(BaseModel):
    id: UuidText
    name: str
    phone: str | None = None
    village: str | None = None


class ProductRef(BaseModel):
    id: UuidText
    name: str


class BillItemOut(BaseModel):
    id: UuidText
    bill_id: UuidText
    auction_item_id: UuidText
    product_id: UuidText
    product_name: str
    product: ProductRef
    unit: Unit
    quantity: Quantity
    amount: Money
    created_at: Timestamp


class PaymentOut(BaseModel):
    id: UuidText
    bill_id: UuidText
    amount: Money
    method: PaymentMethod
    note: str | None
    created_at: Timestamp
    updated_at: Timestamp


class BillStatusOut(BaseModel):
    """The bill's money state after a payment."""

    id: UuidText
    bill_number: str
    net_amount: Money
    paid_amount: Money
    balance_amount: Money
    payment_status: PaymentStatus
    status: BillStatus


class PaymentCreated(PaymentOut):
    bill: BillStatusOut


class BillOut(BaseModel):
    id: UuidText
    bill_number: str
    commissioner_id: CommissionerId
    session_id: UuidText
    farmer_id: UuidText
    total_amount: Money
    commission_rate: Rate
    commission_amount: Money
    net_amount: Money
    paid_amount: Money
    balance_amount: Money = Field(description="net_amount - paid_amount: still owed to the farmer")
    payment_status: PaymentStatus
    status: BillStatus
    created_at: Timestamp
    updated_at: Timestamp
    farmer: FarmerRef
    bill_items: list[BillItemOut]
    payments: list[PaymentOut]
    verification_code: str = Field(
        description="The farmer's key to the signed public copy: GET /api/public/bills/{code}"
    )


def _farmer_ref(farmer: Farmer) -> FarmerRef:
    return FarmerRef(
        id=str(farmer.id), name=farmer.name, phone=farmer.phone, village=farmer.village
    )


def bill_item_out(line: BillItem) -> BillItemOut:
    return BillItemOut(
        id=str(line.id),
        bill_id=str(line.bill_id),
        auction_item_id=str(line.auction_item_id),
        product_id=str(line.product_id),
        product_name=line.product_name,
        product=ProductRef(id=str(line.product_id), name=line.product_name),
        unit=line.unit,  # type: ignore[arg-type]  # copied from the validated item
        quantity=line.quantity,
        amount=line.amount,
        created_at=line.created_at,
    )


def payment_out(payment: Payment) -> PaymentOut:
    return PaymentOut(
        id=str(payment.id),
        bill_id=str(payment.bill_id),
        amount=payment.amount,
        method=payment.method,  # type: ignore[arg-type]  # the column's CHECK holds the values
        note=payment.note,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
    )


def bill_status_out(bill: Bill) -> BillStatusOut:
    return BillStatusOut(
        id=str(bill.id),
        bill_number=bill.bill_number,
        net_amount=bill.net_amount,
        paid_amount=bill.paid_amount,
        balance_amount=bill.net_amount - bill.paid_amount,
        payment_status=bill.payment_status,  # type: ignore[arg-type]
        status=bill.status,  # type: ignore[arg-type]
    )


def bill_out(bill: Bill) -> BillOut:
    """Needs `farmer`, `bill_items` and `payments` loaded (see repository.BILL_LOAD)."""
    return BillOut(
        id=str(bill.id),
        bill_number=bill.bill_number,
        commissioner_id=str(bill.commissioner_id),
        session_id=str(bill.session_id),
        farmer_id=str(bill.farmer_id),
        total_amount=bill.total_amount,
        commission_rate=bill.commission_rate,
        commission_amount=bill.commission_amount,
        net_amount=bill.net_amount,
        paid_amount=bill.paid_amount,
        balance_amount=bill.net_amount - bill.paid_amount,
        payment_status=bill.payment_status,  # type: ignore[arg-type]
        status=bill.status,  # type: ignore[arg-type]
        created_at=bill.created_at,
        updated_at=bill.updated_at,
        farmer=_farmer_ref(bill.farmer),
        bill_items=[bill_item_out(line) for line in bill.bill_items],
        payments=[payment_out(p) for p in bill.payments],
        verification_code=bill.verification_code,
    )
