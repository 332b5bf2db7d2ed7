"""Buyer invoice and collection shapes: request bodies and the `data` of responses (the twins
of the bill and payment shapes)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..bills.schemas import (
    AmountIn,
    ChargeLineFields,
    PaymentMethod,
    PaymentStatus,
    ProductRef,
    Reference,
    charge_line_fields,
    commission_line_fields,
)
from ..envelope import CommissionerId, DbText, Money, Quantity, Rate, Timestamp, UuidText
from ..items.schemas import Unit
from ..masters.models import Buyer
from .models import BuyerInvoice, Collection, InvoiceCharge, InvoiceItem
from .service import is_overdue

InvoiceStatus = Literal["ACTIVE", "VOID"]
CollectionStatus = PaymentStatus


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvoiceCreate(_Body):
    buyer_id: uuid.UUID


class CollectionCreate(_Body):
    amount: AmountIn = Field(examples=[1000.0])
    method: PaymentMethod
    note: DbText | None = Field(default=None, max_length=1000)
    reference: Reference | None = Field(
        default=None,
        description="The bank's reference (UTR) of the transfer, or the cheque number.",
        examples=["UTIBR52026120112345"],
    )


class BuyerRef(BaseModel):
    id: UuidText
    name: str
    phone: str | None = None


class InvoiceItemOut(BaseModel):
    id: UuidText
    invoice_id: UuidText
    auction_item_id: UuidText
    product_id: UuidText
    product_name: str
    product: ProductRef
    farmer_id: UuidText
    unit: Unit
    quantity: Quantity
    price: Money = Field(description="Per unit, as printed: amount / quantity, half up")
    amount: Money = Field(description="The lot's final_price")
    created_at: Timestamp


class InvoiceChargeLineOut(ChargeLineFields):
    """One buyer-side line on an invoice: the commission (when the buyer pays it) or a
    charge, as it was when the invoice was made."""

    payer: Literal["BUYER"]


class CollectionOut(BaseModel):
    id: UuidText
    invoice_id: UuidText
    amount: Money
    method: PaymentMethod
    note: str | None
    reference: str | None
    created_at: Timestamp
    updated_at: Timestamp


class InvoiceStatusOut(BaseModel):
    """The invoice's money state after a collection."""

    id: UuidText
    invoice_number: str
    total_amount: Money
    collected_amount: Money
    balance_amount: Money
    collection_status: CollectionStatus
    status: InvoiceStatus


class CollectionCreated(CollectionOut):
    invoice: InvoiceStatusOut


class InvoiceOut(BaseModel):
    id: UuidText
    invoice_number: str = Field(examples=["INV-001"])
    commissioner_id: CommissionerId
    session_id: UuidText
    buyer_id: UuidText
    lots_amount: Money = Field(description="Σ the lots' final_price")
    charges_amount: Money = Field(description="Sum of the buyer-side charge lines")
    commission_rate: Rate = Field(
        description="The commission percent when the buyer pays it, else 0"
    )
    commission_amount: Money = Field(description="lots_amount x commission_rate, half up")
    total_amount: Money = Field(
        description="What the buyer pays: lots_amount + charges_amount + commission_amount"
    )
    collected_amount: Money
    balance_amount: Money = Field(
        description="total_amount - collected_amount: still owed by the buyer"
    )
    collection_status: CollectionStatus
    status: InvoiceStatus
    due_date: date = Field(description="The sale day (UTC date) + the buyer_credit_days setting")
    overdue: bool = Field(description="Not fully collected and past due_date (UTC, at read time)")
    created_at: Timestamp
    updated_at: Timestamp
    buyer: BuyerRef
    invoice_items: list[InvoiceItemOut]
    charges: list[InvoiceChargeLineOut]
    collections: list[CollectionOut]


def buyer_ref(buyer: Buyer) -> BuyerRef:
    return BuyerRef(id=str(buyer.id), name=buyer.name, phone=buyer.phone)


def invoice_item_out(line: InvoiceItem) -> InvoiceItemOut:
    return InvoiceItemOut(
        id=str(line.id),
        invoice_id=str(line.invoice_id),
        auction_item_id=str(line.auction_item_id),
        product_id=str(line.product_id),
        product_name=line.product_name,
        product=ProductRef(id=str(line.product_id), name=line.product_name),
        farmer_id=str(line.farmer_id),
        unit=line.unit,  # type: ignore[arg-type]  # copied from the validated item
        quantity=line.quantity,
        price=line.price,
        amount=line.amount,
        created_at=line.created_at,
    )


def collection_out(collection: Collection) -> CollectionOut:
    return CollectionOut(
        id=str(collection.id),
        invoice_id=str(collection.invoice_id),
        amount=collection.amount,
        method=collection.method,  # type: ignore[arg-type]  # the column's CHECK holds the values
        note=collection.note,
        reference=collection.reference,
        created_at=collection.created_at,
        updated_at=collection.updated_at,
    )


def invoice_status_out(invoice: BuyerInvoice) -> InvoiceStatusOut:
    return InvoiceStatusOut(
        id=str(invoice.id),
        invoice_number=invoice.invoice_number,
        total_amount=invoice.total_amount,
        collected_amount=invoice.collected_amount,
        balance_amount=invoice.total_amount - invoice.collected_amount,
        collection_status=invoice.collection_status,  # type: ignore[arg-type]
        status=invoice.status,  # type: ignore[arg-type]
    )


def charge_line_out(line: InvoiceCharge) -> InvoiceChargeLineOut:
    return InvoiceChargeLineOut(**charge_line_fields(line), payer="BUYER")


def charge_lines_out(invoice: BuyerInvoice) -> list[InvoiceChargeLineOut]:
    """The commission first (when the buyer pays it), then the charges in their order."""
    lines = []
    if invoice.commission_rate > 0:
        commission = commission_line_fields(
            invoice.lots_amount, invoice.commission_rate, invoice.commission_amount
        )
        lines.append(InvoiceChargeLineOut(**commission, payer="BUYER"))
    lines.extend(charge_line_out(line) for line in invoice.charges)
    return lines


def invoice_out(invoice: BuyerInvoice, today: date | None = None) -> InvoiceOut:
    """Needs `buyer`, `invoice_items`, `charges` and `collections` loaded (INVOICE_LOAD)."""
    today = today or datetime.now(UTC).date()
    return InvoiceOut(
        id=str(invoice.id),
        invoice_number=invoice.invoice_number,
        commissioner_id=str(invoice.commissioner_id),
        session_id=str(invoice.session_id),
        buyer_id=str(invoice.buyer_id),
        lots_amount=invoice.lots_amount,
        charges_amount=invoice.charges_amount,
        commission_rate=invoice.commission_rate,
        commission_amount=invoice.commission_amount,
        total_amount=invoice.total_amount,
        collected_amount=invoice.collected_amount,
        balance_amount=invoice.total_amount - invoice.collected_amount,
        collection_status=invoice.collection_status,  # type: ignore[arg-type]
        status=invoice.status,  # type: ignore[arg-type]
        due_date=invoice.due_date,
        overdue=is_overdue(invoice, today),
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
        buyer=buyer_ref(invoice.buyer),
        invoice_items=[invoice_item_out(line) for line in invoice.invoice_items],
        charges=charge_lines_out(invoice),
        collections=[collection_out(c) for c in invoice.collections],
    )
