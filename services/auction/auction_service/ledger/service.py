"""The money journal's rules: append under the head lock, the hash, verify, the views.

Hash of an entry: SHA-256 (hex) of the canonical JSON (sorted keys, `,`/`:` separators,
UTF-8) of {commissioner_id, seq, at (UTC, microseconds, `Z`), kind, party_type, party_id,
document_id, document_number, amount (plain decimal, 2 places), payload (the stored text),
prev_hash}. The first entry's prev_hash is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from ..bills.models import Bill, Payment
from ..invoices.models import BuyerInvoice, Collection
from . import repository as repo
from .models import GENESIS_HASH, KIND_PARTY, LedgerEntry

CENT = Decimal("0.01")
VERIFY_BATCH = 1000


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def money_text(amount: Decimal) -> str:
    """A plain decimal with 2 places (never an exponent): what the hash and CSV carry."""
    return f"{amount.quantize(CENT):f}"


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    commissioner_id: int,
    seq: int,
    at: datetime,
    kind: str,
    party_type: str,
    party_id: uuid.UUID,
    document_id: uuid.UUID,
    document_number: str,
    amount: Decimal,
    payload: str,
    prev_hash: str,
) -> str:
    body = {
        "commissioner_id": commissioner_id,
        "seq": seq,
        "at": at_text(at),
        "kind": kind,
        "party_type": party_type,
        "party_id": str(party_id),
        "document_id": str(document_id),
        "document_number": document_number,
        "amount": money_text(amount),
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def hash_of(entry: LedgerEntry) -> str:
    return entry_hash(
        commissioner_id=entry.commissioner_id,
        seq=entry.seq,
        at=entry.at,
        kind=entry.kind,
        party_type=entry.party_type,
        party_id=entry.party_id,
        document_id=entry.document_id,
        document_number=entry.document_number,
        amount=entry.amount,
        payload=entry.payload,
        prev_hash=entry.prev_hash,
    )


async def append(
    db: AsyncSession,
    commissioner_id: int,
    *,
    kind: str,
    party_id: uuid.UUID,
    document_id: uuid.UUID,
    document_number: str,
    amount: Decimal,
    payload: dict[str, Any],
) -> LedgerEntry:
    """Append one event in the caller's transaction (the head row stays locked until commit)."""
    head = await repo.claim_next_seq(db, commissioner_id)
    amount = amount.quantize(CENT)
    payload_text = canonical_json(payload)
    # The database keeps microseconds: hash exactly what it will give back.
    at = head.at.astimezone(UTC)
    entry = LedgerEntry(
        commissioner_id=commissioner_id,
        seq=head.seq,
        at=at,
        kind=kind,
        party_type=KIND_PARTY[kind],
        party_id=party_id,
        document_id=document_id,
        document_number=document_number,
        amount=amount,
        payload=payload_text,
        prev_hash=head.prev_hash,
        hash="",
    )
    entry.hash = hash_of(entry)
    db.add(entry)
    await db.flush()
    await repo.set_head_hash(db, commissioner_id, entry.hash)
    return entry


def _bill_payload(bill: Bill) -> dict[str, Any]:
    return {
        "bill_id": str(bill.id),
        "bill_number": bill.bill_number,
        "session_id": str(bill.session_id),
        "farmer_id": str(bill.farmer_id),
        "total_amount": money_text(bill.total_amount),
        "commission_rate": money_text(bill.commission_rate),
        "commission_amount": money_text(bill.commission_amount),
        "net_amount": money_text(bill.net_amount),
    }


async def _on_bill(
    db: AsyncSession, bill: Bill, kind: str, amount: Decimal, payload: dict[str, Any]
) -> LedgerEntry:
    """An event of a farmer bill: its farmer is the party, the bill the document."""
    return await append(
        db,
        bill.commissioner_id,
        kind=kind,
        party_id=bill.farmer_id,
        document_id=bill.id,
        document_number=bill.bill_number,
        amount=amount,
        payload=payload,
    )


async def record_bill(db: AsyncSession, bill: Bill) -> LedgerEntry:
    """BILL: the agent now owes the farmer the bill's net (+net)."""
    return await _on_bill(db, bill, "BILL", bill.net_amount, _bill_payload(bill))


async def record_payment(db: AsyncSession, bill: Bill, payment: Payment) -> LedgerEntry:
    """PAYMENT: a payout to the farmer lowers what the agent owes (-amount)."""
    payload = {
        "payment_id": str(payment.id),
        "bill_id": str(bill.id),
        "amount": money_text(payment.amount),
        "method": payment.method,
        "note": payment.note,
    }
    return await _on_bill(db, bill, "PAYMENT", -payment.amount, payload)


async def record_bill_void(db: AsyncSession, bill: Bill) -> LedgerEntry:
    """BILL_VOID: the reversal of the bill's entry (-net); the BILL entry stays as it was."""
    return await _on_bill(db, bill, "BILL_VOID", -bill.net_amount, _bill_payload(bill))


# The buyer side, party BUYER: + what the buyer owes the agent.


def _invoice_payload(invoice: BuyerInvoice) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.id),
        "invoice_number": invoice.invoice_number,
        "session_id": str(invoice.session_id),
        "buyer_id": str(invoice.buyer_id),
        "lots_amount": money_text(invoice.lots_amount),
        "charges_amount": money_text(invoice.charges_amount),
        "commission_rate": money_text(invoice.commission_rate),
        "commission_amount": money_text(invoice.commission_amount),
        "total_amount": money_text(invoice.total_amount),
        "due_date": invoice.due_date.isoformat(),
    }


async def _on_invoice(
    db: AsyncSession, invoice: BuyerInvoice, kind: str, amount: Decimal, payload: dict[str, Any]
) -> LedgerEntry:
    """An event of a buyer invoice: its buyer is the party, the invoice the document."""
    return await append(
        db,
        invoice.commissioner_id,
        kind=kind,
        party_id=invoice.buyer_id,
        document_id=invoice.id,
        document_number=invoice.invoice_number,
        amount=amount,
        payload=payload,
    )


async def record_invoice(db: AsyncSession, invoice: BuyerInvoice) -> LedgerEntry:
    """INVOICE: the buyer now owes the agent the invoice's total (+total)."""
    return await _on_invoice(
        db, invoice, "INVOICE", invoice.total_amount, _invoice_payload(invoice)
    )


async def record_collection(
    db: AsyncSession, invoice: BuyerInvoice, collection: Collection
) -> LedgerEntry:
    """COLLECTION: money received from the buyer lowers what the buyer owes (-amount)."""
    payload = {
        "collection_id": str(collection.id),
        "invoice_id": str(invoice.id),
        "amount": money_text(collection.amount),
        "method": collection.method,
        "note": collection.note,
        "reference": collection.reference,
    }
    return await _on_invoice(db, invoice, "COLLECTION", -collection.amount, payload)


async def record_invoice_void(db: AsyncSession, invoice: BuyerInvoice) -> LedgerEntry:
    """INVOICE_VOID: the reversal of the invoice's entry (-total; a void invoice has no
    collections); the INVOICE entry stays as it was."""
    return await _on_invoice(
        db, invoice, "INVOICE_VOID", -invoice.total_amount, _invoice_payload(invoice)
    )


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    head_hash: str
    first_broken_seq: int | None
    reason: str | None


async def verify(db: AsyncSession, commissioner_id: int) -> Verification:
    """Walk the chain from seq 1: gapless seqs, each prev_hash the previous hash, each hash
    recomputed, and the head row naming the last entry (a deleted tail shows there)."""
    expected_prev = GENESIS_HASH
    last_seq = 0
    count = 0
    while True:
        batch = await repo.entries_after(db, commissioner_id, last_seq, VERIFY_BATCH)
        if not batch:
            break
        for entry in batch:
            count += 1
            broken = None
            if entry.seq != last_seq + 1:
                broken = f"seq {last_seq + 1} is missing"
                seq = last_seq + 1
            elif entry.prev_hash != expected_prev:
                broken, seq = "prev_hash does not match the previous entry's hash", entry.seq
            elif hash_of(entry) != entry.hash:
                broken, seq = "hash does not match the entry's contents", entry.seq
            if broken is not None:
                return Verification(False, count, expected_prev, seq, broken)
            expected_prev = entry.hash
            last_seq = entry.seq
    head = await repo.get_head(db, commissioner_id)
    head_seq, head_hash = (0, GENESIS_HASH) if head is None else (head.last_seq, head.last_hash)
    if head_seq != last_seq or head_hash != expected_prev:
        return Verification(
            False, count, expected_prev, last_seq + 1, "entries after this seq are missing"
        )
    return Verification(True, count, expected_prev, None, None)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day; 9999-12-31 ends at the last microsecond Python can hold."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    if day == date.max:
        return start, datetime.combine(day, time.max, tzinfo=UTC)
    return start, start + timedelta(days=1)


async def party_ledger(
    db: AsyncSession,
    commissioner_id: int,
    party_type: str,
    party_id: uuid.UUID,
    *,
    offset: int,
    limit: int | None,
) -> tuple[Sequence[Row[LedgerEntry, Decimal]], int]:
    """A party's entries with the running balance: what the agent owes a farmer, what a buyer
    owes the agent."""
    return await repo.party_entries(
        db, commissioner_id, party_type, party_id, offset=offset, limit=limit
    )


async def farmer_balance(db: AsyncSession, commissioner_id: int, farmer_id: uuid.UUID) -> Decimal:
    return await repo.party_balance(db, commissioner_id, "FARMER", farmer_id)


async def day_book(
    db: AsyncSession, commissioner_id: int, day: date, *, offset: int, limit: int | None
) -> tuple[Sequence[LedgerEntry], int, Sequence[Row[str, int, Decimal]]]:
    start, end = day_bounds(day)
    return await repo.day_entries(db, commissioner_id, start, end, offset=offset, limit=limit)


async def outstanding(
    db: AsyncSession, commissioner_id: int, now: datetime, *, offset: int, limit: int | None
) -> tuple[list[repo.Owed], int]:
    return await repo.outstanding(db, commissioner_id, now, offset=offset, limit=limit)
