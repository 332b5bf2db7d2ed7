"""Journal shapes: entries, the verify answer, the day book and the outstanding list."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..bills.models import Bill
from ..bills.schemas import FarmerRef, is_overdue
from ..envelope import ListMeta, Money, Timestamp, UuidText
from ..invoices.models import BuyerInvoice
from ..invoices.schemas import BuyerRef
from ..invoices.service import is_overdue as invoice_overdue
from ..masters.models import Buyer, Farmer
from .models import LedgerEntry
from .repository import Owed


class LedgerEntryOut(BaseModel):
    seq: int
    at: Timestamp
    kind: str = Field(examples=["BILL"])
    party_type: str = Field(examples=["FARMER"])
    party_id: UuidText
    document_id: UuidText
    document_number: str = Field(examples=["BILL-001"])
    amount: Money = Field(
        description="Signed: + raises what the agent owes the farmer (or the buyer owes the "
        "agent), - lowers it (payments, collections, voids).",
        examples=[2398.75],
    )
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class FarmerLedgerEntryOut(LedgerEntryOut):
    balance: Money = Field(description="What the agent owes the farmer after this entry.")


class BuyerLedgerEntryOut(LedgerEntryOut):
    balance: Money = Field(description="What the buyer owes the agent after this entry.")


class VerifyOut(BaseModel):
    valid: bool
    entries: int = Field(description="Entries checked (up to the first broken one).")
    head_hash: str = Field(description="Hash of the last good entry (64 zeros when none).")
    first_broken_seq: int | None = None
    reason: str | None = None


class KindTotal(BaseModel):
    kind: str
    count: int
    amount: Money


class DayBookMeta(ListMeta):
    day: dt.date = Field(description="The UTC calendar day asked for (`?date=`).")
    totals: list[KindTotal]
    net_amount: Money = Field(description="Σ amount of every entry of the day.")


class DayBookEnvelope(BaseModel):
    """A page of the day's entries; meta adds the date and the day's totals."""

    success: Literal[True] = True
    data: list[LedgerEntryOut]
    meta: DayBookMeta


class OutstandingBillOut(BaseModel):
    """One document still owed: a farmer's bill (party_type FARMER: the agent owes the
    farmer; the bill_* and farmer fields are set) or a buyer's invoice (party_type BUYER: the
    buyer owes the agent; the invoice_*, buyer and due_date fields are set)."""

    party_type: Literal["FARMER", "BUYER"]
    document_id: UuidText
    document_number: str = Field(examples=["BILL-001"])
    bill_id: UuidText | None
    bill_number: str | None
    invoice_id: UuidText | None = None
    invoice_number: str | None = None
    date: Timestamp = Field(description="When the bill (or invoice) was generated.")
    farmer: FarmerRef | None
    buyer: BuyerRef | None = None
    net_amount: Money = Field(description="A bill's net, or an invoice's total.")
    paid_amount: Money = Field(description="Paid to the farmer, or collected from the buyer.")
    outstanding_amount: Money = Field(description="What the journal says is still owed.")
    due_at: Timestamp = Field(
        description="When it must be settled: a bill by its payment terms, an invoice at the "
        "end (midnight UTC) of its due_date."
    )
    due_date: dt.date | None = Field(
        default=None, description="An invoice's due date (sale day + buyer_credit_days)."
    )
    overdue: bool = Field(description="Not fully settled after it was due.")


def entry_out(entry: LedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut(
        seq=entry.seq,
        at=entry.at,
        kind=entry.kind,
        party_type=entry.party_type,
        party_id=str(entry.party_id),
        document_id=str(entry.document_id),
        document_number=entry.document_number,
        amount=entry.amount,
        payload=json.loads(entry.payload),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )


def farmer_entry_out(entry: LedgerEntry, balance: Decimal) -> FarmerLedgerEntryOut:
    return FarmerLedgerEntryOut(**entry_out(entry).model_dump(), balance=balance)


def buyer_entry_out(entry: LedgerEntry, balance: Decimal) -> BuyerLedgerEntryOut:
    return BuyerLedgerEntryOut(**entry_out(entry).model_dump(), balance=balance)


def _end_of(day: dt.date) -> dt.datetime:
    """Midnight UTC after `day` (the calendar's last instant for its last day)."""
    if day == dt.date.max:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)


def outstanding_out(row: Owed, now: dt.datetime) -> OutstandingBillOut:
    bill, farmer = row.document, row.party
    if isinstance(bill, Bill) and isinstance(farmer, Farmer):
        return OutstandingBillOut(
            party_type="FARMER",
            document_id=str(bill.id),
            document_number=bill.bill_number,
            bill_id=str(bill.id),
            bill_number=bill.bill_number,
            date=bill.created_at,
            farmer=FarmerRef(
                id=str(farmer.id), name=farmer.name, phone=farmer.phone, village=farmer.village
            ),
            net_amount=bill.net_amount,
            paid_amount=bill.paid_amount,
            outstanding_amount=row.outstanding,
            due_at=bill.due_at,
            overdue=is_overdue(bill, now),
        )
    invoice, buyer = row.document, row.party
    assert isinstance(invoice, BuyerInvoice) and isinstance(buyer, Buyer)
    return OutstandingBillOut(
        party_type="BUYER",
        document_id=str(invoice.id),
        document_number=invoice.invoice_number,
        bill_id=None,
        bill_number=None,
        invoice_id=str(invoice.id),
        invoice_number=invoice.invoice_number,
        date=invoice.created_at,
        farmer=None,
        buyer=BuyerRef(id=str(buyer.id), name=buyer.name, phone=buyer.phone),
        net_amount=invoice.total_amount,
        paid_amount=invoice.collected_amount,
        outstanding_amount=row.outstanding,
        due_at=_end_of(invoice.due_date),
        due_date=invoice.due_date,
        overdue=invoice_overdue(invoice, now.astimezone(dt.UTC).date()),
    )
