"""Buyer invoices: what a buyer owes the agent for the lots bought in one session, their
buyer-side charge lines, and the collections received against them."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..bills.models import (
    BASIS,
    MONEY,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    QUANTITY,
    RATE,
    REFERENCE_MAX,
)
from ..charges.models import ACCOUNTS, CHARGE_KINDS, CHARGE_RATE
from ..db import Base, Timestamps, uuid_pk
from ..masters.models import Buyer

INVOICE_STATUSES = ("ACTIVE", "VOID")
COLLECTION_STATUSES = PAYMENT_STATUSES
# A lot's price per unit as printed (amount / quantity, half up): a 0.001 quantity of a
# NUMERIC(14, 2) amount needs 15 integer digits.
UNIT_PRICE = Numeric(18, 2)

# 'INV-001' .. 'INV-999', then 'INV-1000' (as bill numbers).
INVOICE_NUMBER_SQL = (
    "'INV-' || CASE WHEN seq < 1000 THEN lpad(seq::text, 3, '0') ELSE seq::text END"
)
# What the buyer pays: the lots, the buyer-side charge lines and the commission when the
# buyer pays it (0 otherwise).
TOTAL_SQL = "total_amount = lots_amount + charges_amount + commission_amount"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class BuyerInvoice(Timestamps, Base):
    """A buyer's invoice for one session: numbered gaplessly per commissioner, never deleted."""

    __tablename__ = "buyer_invoices"
    # Server-set columns (invoice_number, timestamps) come back by RETURNING, not a lazy load.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        UniqueConstraint("commissioner_id", "seq", name="uq_buyer_invoices_commissioner_id_seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("lots_amount >= 0", name="lots_nonnegative"),
        CheckConstraint("charges_amount >= 0", name="charges_nonnegative"),
        CheckConstraint("commission_rate >= 0 AND commission_rate <= 100", name="rate_range"),
        CheckConstraint("commission_amount >= 0", name="commission_nonnegative"),
        CheckConstraint(TOTAL_SQL, name="total_is_lots_plus_buyer_lines"),
        CheckConstraint(
            "collected_amount >= 0 AND collected_amount <= total_amount", name="collected_range"
        ),
        CheckConstraint(
            _in("collection_status", COLLECTION_STATUSES), name="collection_status_valid"
        ),
        CheckConstraint(_in("status", INVOICE_STATUSES), name="status_valid"),
        Index("ix_buyer_invoices_commissioner_session", "commissioner_id", "session_id"),
        Index("ix_buyer_invoices_commissioner_buyer", "commissioner_id", "buyer_id"),
        Index("ix_buyer_invoices_session_id", "session_id"),
        Index("ix_buyer_invoices_buyer_id", "buyer_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("auction_sessions.id", ondelete="RESTRICT"),
        nullable=False,
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("buyers.id", ondelete="RESTRICT"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    invoice_number: Mapped[str] = mapped_column(Text, Computed(INVOICE_NUMBER_SQL, persisted=True))
    # Σ the lots' final_price.
    lots_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # Σ the buyer-side charge lines (`charges`), the commission not included.
    charges_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # The settings' rate when the buyer pays the commission, else 0 (and the amount 0).
    commission_rate: Mapped[Decimal] = mapped_column(RATE, nullable=False)
    commission_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    total_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # The session's UTC date + the commissioner's buyer_credit_days.
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    collected_amount: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, default=Decimal("0.00"), server_default=text("0")
    )
    collection_status: Mapped[str] = mapped_column(
        Text, nullable=False, default="UNPAID", server_default=text("'UNPAID'")
    )
    status: Mapped[str] = mapped_column(
        Text, nullable=False, default="ACTIVE", server_default=text("'ACTIVE'")
    )

    buyer: Mapped[Buyer] = relationship(lazy="raise")
    invoice_items: Mapped[list[InvoiceItem]] = relationship(
        back_populates="invoice",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(InvoiceItem.position, InvoiceItem.id)",
    )
    charges: Mapped[list[InvoiceCharge]] = relationship(
        back_populates="invoice",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(InvoiceCharge.position, InvoiceCharge.id)",
    )
    collections: Mapped[list[Collection]] = relationship(
        back_populates="invoice",
        lazy="raise",
        order_by="(Collection.created_at, Collection.id)",
    )


class InvoiceItem(Timestamps, Base):
    """A copy of one invoiced lot, kept when the invoice is voided and the lot re-invoiced."""

    __tablename__ = "invoice_items"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("position >= 1", name="position_positive"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price >= 0", name="price_nonnegative"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        Index("ix_invoice_items_invoice_id", "invoice_id"),
        Index("ix_invoice_items_auction_item_id", "auction_item_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("buyer_invoices.id", ondelete="CASCADE"), nullable=False
    )
    # The lot's place on the invoice (1..n, the lots' order): lines share one created_at.
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    # No foreign keys: an invoice line is a snapshot and outlives edits to the lot and masters.
    auction_item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    product_name: Mapped[str] = mapped_column(Text, nullable=False)
    farmer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, nullable=False)
    # Per unit, as printed (amount / quantity, half up); `amount` (the lot's final_price) sums.
    price: Mapped[Decimal] = mapped_column(UNIT_PRICE, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)

    invoice: Mapped[BuyerInvoice] = relationship(back_populates="invoice_items", lazy="raise")


class InvoiceCharge(Timestamps, Base):
    """A buyer-side charge as it was applied to one invoice: a snapshot (as `bill_charges`)."""

    __tablename__ = "invoice_charges"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint(_in("kind", CHARGE_KINDS), name="kind_valid"),
        CheckConstraint(_in("account", ACCOUNTS), name="account_valid"),
        CheckConstraint("basis >= 0", name="basis_nonnegative"),
        CheckConstraint("rate >= 0", name="rate_nonnegative"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        UniqueConstraint("invoice_id", "position", name="uq_invoice_charges_invoice_id_position"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("buyer_invoices.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    charge_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    unit: Mapped[str | None] = mapped_column(Text, nullable=True)
    # PERCENT: the lots total; PER_UNIT: the quantity of lots in `unit`; FIXED_PER_LOT: lots.
    basis: Mapped[Decimal] = mapped_column(BASIS, nullable=False)
    rate: Mapped[Decimal] = mapped_column(CHARGE_RATE, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    account: Mapped[str] = mapped_column(
        Text, nullable=False, default="AGENT", server_default=text("'AGENT'")
    )

    invoice: Mapped[BuyerInvoice] = relationship(back_populates="charges", lazy="raise")


class Collection(Timestamps, Base):
    """Money received from the buyer against an invoice's total."""

    __tablename__ = "collections"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("method", PAYMENT_METHODS), name="method_valid"),
        CheckConstraint(
            f"reference IS NULL OR char_length(reference) <= {REFERENCE_MAX}",
            name="reference_length",
        ),
        Index("ix_collections_invoice_id", "invoice_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("buyer_invoices.id", ondelete="RESTRICT"), nullable=False
    )
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    method: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The bank's transaction reference (UTR, cheque number), as typed.
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)

    invoice: Mapped[BuyerInvoice] = relationship(back_populates="collections", lazy="raise")
