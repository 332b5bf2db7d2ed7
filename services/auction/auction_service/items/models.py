"""Auction items: one lot sold in a session, from a farmer to a buyer."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, Timestamps, uuid_pk
from ..masters.models import Buyer, Farmer, Product

UNITS = ("KG", "QUINTAL", "TONNE", "BAG", "BOX", "CRATE", "DOZEN", "PIECE")


class AuctionItem(Timestamps, Base):
    __tablename__ = "auction_items"
    __table_args__ = (
        CheckConstraint("unit IN (" + ", ".join(f"'{u}'" for u in UNITS) + ")", name="unit_valid"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("final_price >= 0", name="final_price_nonnegative"),
        Index("ix_auction_items_session_id_created_at", "session_id", "created_at"),
        Index("ix_auction_items_farmer_id", "farmer_id"),
        Index("ix_auction_items_product_id", "product_id"),
        Index("ix_auction_items_buyer_id", "buyer_id"),
        Index("ix_auction_items_bill_id", "bill_id"),
        Index("ix_auction_items_invoice_id", "invoice_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("auction_sessions.id", ondelete="RESTRICT"), nullable=False
    )
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    farmer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("farmers.id", ondelete="RESTRICT"), nullable=False
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("products.id", ondelete="RESTRICT"), nullable=False
    )
    buyer_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("buyers.id", ondelete="RESTRICT"), nullable=False
    )
    unit: Mapped[str] = mapped_column(Text, nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3), nullable=False)
    final_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    # Part B's migration 0003 adds the foreign key to bills (ON DELETE SET NULL).
    bill_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("bills.id", ondelete="SET NULL"), nullable=True
    )
    # The ACTIVE buyer invoice the lot is on (0008_buyer_invoices); a void sets it back to null.
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("buyer_invoices.id", ondelete="SET NULL"), nullable=True
    )

    farmer: Mapped[Farmer] = relationship(lazy="raise")
    product: Mapped[Product] = relationship(lazy="raise")
    buyer: Mapped[Buyer] = relationship(lazy="raise")
