"""The money journal: one append-only, hash-chained series of entries per commissioner.

Sign convention of `amount`: from the party's balance with the agent. For a FARMER, positive
is what the agent owes the farmer (a bill's net), negative pays it down (a payment) or takes
it back (a void). For a BUYER (invoices, later), positive is what the buyer owes the agent, a
collection or a void negative. So a party's balance is always Σ amount of its entries.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

# Each kind belongs to one party type; a new money event is one more pair here and in the
# CHECK constraints (a migration replaces them).
KIND_PARTY = {
    "BILL": "FARMER",
    "PAYMENT": "FARMER",
    "BILL_VOID": "FARMER",
    "INVOICE": "BUYER",
    "COLLECTION": "BUYER",
    "INVOICE_VOID": "BUYER",
}
KINDS = tuple(KIND_PARTY)
PARTY_TYPES = ("FARMER", "BUYER")
GENESIS_HASH = "0" * 64


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


KIND_PARTY_SQL = " OR ".join(
    f"(kind = '{kind}' AND party_type = '{party}')" for kind, party in KIND_PARTY.items()
)


class LedgerHead(Base):
    """The chain's head per commissioner: locked (FOR UPDATE, by an upsert) to append."""

    __tablename__ = "ledger_heads"
    __table_args__ = (CheckConstraint("last_seq >= 0", name="seq_nonnegative"),)

    commissioner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_hash: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text(f"'{GENESIS_HASH}'")
    )


class LedgerEntry(Base):
    """One money event; never updated or deleted (a trigger refuses it), a void is a reversal."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        PrimaryKeyConstraint("commissioner_id", "seq", name="pk_ledger_entries"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint(_in("kind", KINDS), name="kind_valid"),
        CheckConstraint(_in("party_type", PARTY_TYPES), name="party_type_valid"),
        CheckConstraint(KIND_PARTY_SQL, name="kind_matches_party"),
        CheckConstraint("hash ~ '^[0-9a-f]{64}$'", name="hash_hex"),
        CheckConstraint("prev_hash ~ '^[0-9a-f]{64}$'", name="prev_hash_hex"),
        Index("ix_ledger_entries_party", "commissioner_id", "party_type", "party_id", "seq"),
        Index("ix_ledger_entries_at", "commissioner_id", "at"),
        Index("ix_ledger_entries_document", "commissioner_id", "document_id"),
    )

    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    party_type: Mapped[str] = mapped_column(Text, nullable=False)
    party_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    # The bill (or invoice) the event belongs to; no foreign key: the journal outlives edits.
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    document_number: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    # The event as canonical JSON text (sorted keys, no spaces): hashed byte for byte.
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    prev_hash: Mapped[str] = mapped_column(Text, nullable=False)
    hash: Mapped[str] = mapped_column(Text, nullable=False)
