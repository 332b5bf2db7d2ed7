"""Bills, their lines, payouts to farmers, and each commissioner's billing settings."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
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

from ..charges.models import ACCOUNTS, CHARGE_KINDS, CHARGE_RATE, PAYERS
from ..db import Base, Timestamps, uuid_pk
from ..masters.models import Farmer

MONEY = Numeric(14, 2)
QUANTITY = Numeric(14, 3)
RATE = Numeric(5, 2)

DEFAULT_COMMISSION_RATE = Decimal("5.00")

PAYMENT_STATUSES = ("UNPAID", "PARTIAL", "PAID")
BILL_STATUSES = ("ACTIVE", "VOID")
PAYMENT_METHODS = ("CASH", "BANK", "UPI", "CHEQUE")
# When a farmer must be paid, counted from the end of the sale day (the session's UTC date).
PAYMENT_TERMS = ("SAME_DAY", "WITHIN_24_HOURS", "WITHIN_48_HOURS", "WITHIN_72_HOURS")
BASIS = Numeric(16, 3)
REFERENCE_MAX = 64
# Buyers' credit: at most a year after the sale day.
MAX_CREDIT_DAYS = 365
# A bill written without a due time (never by the API, which counts from the session's date):
# due by the end of the UTC day it is written on.
DUE_AT_FALLBACK_SQL = (
    "((date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC')"
)
# Net is what is left after every farmer-side line: the charges, and the commission when the
# farmer pays it.
NET_SQL = (
    "net_amount = total_amount - charges_amount"
    " - CASE WHEN commission_payer = 'FARMER' THEN commission_amount ELSE 0 END"
)

# 'BILL-001' .. 'BILL-999', then 'BILL-1000': lpad alone would truncate past three digits.
BILL_NUMBER_SQL = "'BILL-' || CASE WHEN seq < 1000 THEN lpad(seq::text, 3, '0') ELSE seq::text END"


# A bill's public verification code: 24 random bytes (192 bits) from `secrets`, base64url.
VERIFICATION_CODE_BYTES = 24
VERIFICATION_CODE_PATTERN = "^[A-Za-z0-9_-]{22,64}$"


# For rows inserted by plain SQL: two v4 UUIDs (244 random bits of pg_strong_random), base64url.
VERIFICATION_CODE_SQL = (
    "translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),"
    " '+/=', '-_')"
)


def new_verification_code() -> str:
    return secrets.token_urlsafe(VERIFICATION_CODE_BYTES)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class CommissionerSettings(Timestamps, Base):
    """One row per commissioner, created on first use; also the bill-number counter."""

    __tablename__ = "commissioner_settings"
    __table_args__ = (
        CheckConstraint("commission_rate >= 0 AND commission_rate <= 100", name="rate_range"),
        CheckConstraint("last_bill_seq >= 0", name="seq_nonnegative"),
        CheckConstraint(_in("commission_payer", PAYERS), name="commission_payer_valid"),
        CheckConstraint(
            "max_commission_rate IS NULL OR (max_commission_rate >= 0"
            " AND max_commission_rate <= 100)",
            name="max_rate_range",
        ),
        CheckConstraint(_in("payment_terms", PAYMENT_TERMS), name="payment_terms_valid"),
        CheckConstraint("last_invoice_seq >= 0", name="invoice_seq_nonnegative"),
        CheckConstraint(
            f"buyer_credit_days >= 0 AND buyer_credit_days <= {MAX_CREDIT_DAYS}",
            name="buyer_credit_days_range",
        ),
    )

    commissioner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    commission_rate: Mapped[Decimal] = mapped_column(
        RATE, nullable=False, server_default=text("5.00")
    )
    last_bill_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    commission_payer: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'FARMER'")
    )
    # The profile: a cap on the commission percent (none by default) and whether charges may
    # be put on the farmer at all.
    max_commission_rate: Mapped[Decimal | None] = mapped_column(RATE, nullable=True)
    farmer_charges_allowed: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=text("true")
    )
    payment_terms: Mapped[str] = mapped_column(
        Text, nullable=False, server_default=text("'SAME_DAY'")
    )
    # The commission agent's trading name, printed on bills and shown on the public copy.
    business_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The buyer-invoice counter (INV-001...), taken under this row's lock like last_bill_seq.
    last_invoice_seq: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    # Days after the sale day (the session's UTC date) by which a buyer pays an invoice.
    buyer_credit_days: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=text("0")
    )


class Bill(Timestamps, Base):
    """A farmer's bill for one session: numbered gaplessly per commissioner, never deleted."""

    __tablename__ = "bills"
    # Server-set columns (bill_number, timestamps) come back by RETURNING, not a lazy load.
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        UniqueConstraint("commissioner_id", "seq", name="uq_bills_commissioner_id_seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
        CheckConstraint("total_amount >= 0", name="total_nonnegative"),
        CheckConstraint("commission_rate >= 0 AND commission_rate <= 100", name="rate_range"),
        CheckConstraint(
            "commission_amount >= 0 AND commission_amount <= total_amount",
            name="commission_range",
        ),
        CheckConstraint(_in("commission_payer", PAYERS), name="commission_payer_valid"),
        CheckConstraint("charges_amount >= 0", name="charges_nonnegative"),
        CheckConstraint(NET_SQL, name="net_is_total_less_farmer_lines"),
        CheckConstraint("paid_amount >= 0 AND paid_amount <= net_amount", name="paid_range"),
        CheckConstraint(_in("payment_status", PAYMENT_STATUSES), name="payment_status_valid"),
        CheckConstraint(_in("status", BILL_STATUSES), name="status_valid"),
        UniqueConstraint("verification_code", name="uq_bills_verification_code"),
        CheckConstraint(
            f"verification_code ~ '{VERIFICATION_CODE_PATTERN}'", name="verification_code_format"
        ),
        Index("ix_bills_commissioner_session", "commissioner_id", "session_id"),
        Index("ix_bills_commissioner_farmer", "commissioner_id", "farmer_id"),
        Index("ix_bills_session_id", "session_id"),
        Index("ix_bills_farmer_id", "farmer_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("auction_sessions.id", ondelete="RESTRICT"),
        nullable=False,
    )
    farmer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("farmers.id", ondelete="RESTRICT"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    bill_number: Mapped[str] = mapped_column(Text, Computed(BILL_NUMBER_SQL, persisted=True))
    total_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    commission_rate: Mapped[Decimal] = mapped_column(RATE, nullable=False)
    commission_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    commission_payer: Mapped[str] = mapped_column(
        Text, nullable=False, default="FARMER", server_default=text("'FARMER'")
    )
    # The sum of the farmer-side charge lines (`charges`), the commission not included.
    charges_amount: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, default=Decimal("0.00"), server_default=text("0")
    )
    net_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    due_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text(DUE_AT_FALLBACK_SQL)
    )
    paid_amount: Mapped[Decimal] = mapped_column(
        MONEY, nullable=False, default=Decimal("0.00"), server_default=text("0")
    )
    payment_status: Mapped[str] = mapped_column(
        Text, nullable=False, default="UNPAID", server_default=text("'UNPAID'")
    )
    status: Mapped[str] = mapped_column(
        Text, nullable=False, default="ACTIVE", server_default=text("'ACTIVE'")
    )
    # The farmer's key to the public, signed copy (GET /api/public/bills/{code}).
    verification_code: Mapped[str] = mapped_column(
        Text,
        nullable=False,
        default=new_verification_code,
        server_default=text(VERIFICATION_CODE_SQL),
    )

    farmer: Mapped[Farmer] = relationship(lazy="raise")
    bill_items: Mapped[list[BillItem]] = relationship(
        back_populates="bill",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(BillItem.created_at, BillItem.id)",
    )
    charges: Mapped[list[BillCharge]] = relationship(
        back_populates="bill",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(BillCharge.position, BillCharge.id)",
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="bill",
        lazy="raise",
        order_by="(Payment.created_at, Payment.id)",
    )


class BillItem(Timestamps, Base):
    """A copy of one billed lot, kept even when the bill is voided and the lot re-billed."""

    __tablename__ = "bill_items"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        Index("ix_bill_items_bill_id", "bill_id"),
        Index("ix_bill_items_auction_item_id", "auction_item_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    bill_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bills.id", ondelete="CASCADE"), nullable=False
    )
    # No foreign keys: a bill line is a snapshot and outlives edits to the lot and the product.
    auction_item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    product_name: Mapped[str] = mapped_column(Text, nullable=False)
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)

    bill: Mapped[Bill] = relationship(back_populates="bill_items", lazy="raise")


class BillCharge(Timestamps, Base):
    """A farmer-side charge as it was applied to one bill: a snapshot, kept when the charge is
    later edited or deleted (so no foreign key to `charges`)."""

    __tablename__ = "bill_charges"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint(_in("kind", CHARGE_KINDS), name="kind_valid"),
        CheckConstraint(_in("account", ACCOUNTS), name="account_valid"),
        CheckConstraint("basis >= 0", name="basis_nonnegative"),
        CheckConstraint("rate >= 0", name="rate_nonnegative"),
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        UniqueConstraint("bill_id", "position", name="uq_bill_charges_bill_id_position"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    bill_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bills.id", ondelete="CASCADE"), nullable=False
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

    bill: Mapped[Bill] = relationship(back_populates="charges", lazy="raise")


class Payment(Timestamps, Base):
    """A payout to the farmer against a bill's net amount."""

    __tablename__ = "payments"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_in("method", PAYMENT_METHODS), name="method_valid"),
        CheckConstraint(
            f"reference IS NULL OR char_length(reference) <= {REFERENCE_MAX}",
            name="reference_length",
        ),
        Index("ix_payments_bill_id", "bill_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    bill_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bills.id", ondelete="RESTRICT"), nullable=False
    )
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    method: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The bank's transaction reference (a UTR for an Indian bank transfer), as typed.
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)

    bill: Mapped[Bill] = relationship(back_populates="payments", lazy="raise")
