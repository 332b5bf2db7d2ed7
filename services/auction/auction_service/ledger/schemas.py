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
from ..masters.models import Farmer
from .models import LedgerEntry


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
    bill_id: UuidText
    bill_number: str
    date: Timestamp = Field(description="When the bill was generated.")
    farmer: FarmerRef
    net_amount: Money
    paid_amount: Money
    outstanding_amount: Money = Field(description="What the journal says is still owed.")
    due_at: Timestamp = Field(description="When the farmer must be paid (settings payment_terms).")
    overdue: bool = Field(description="Not fully paid after due_at.")


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


def outstanding_out(
    bill: Bill, farmer: Farmer, owed: Decimal, now: dt.datetime
) -> OutstandingBillOut:
    return OutstandingBillOut(
        bill_id=str(bill.id),
        bill_number=bill.bill_number,
        date=bill.created_at,
        farmer=FarmerRef(
            id=str(farmer.id), name=farmer.name, phone=farmer.phone, village=farmer.village
        ),
        net_amount=bill.net_amount,
        paid_amount=bill.paid_amount,
        outstanding_amount=owed,
        due_at=bill.due_at,
        overdue=is_overdue(bill, now),
    )
