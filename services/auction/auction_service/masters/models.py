"""A commissioner's masters: categories, products, farmers and buyers."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, Timestamps, uuid_pk


class Category(Timestamps, Base):
    __tablename__ = "categories"
    __table_args__ = (
        # One name per commissioner, case-insensitively.
        Index(
            "uq_categories_commissioner_id_lower_name",
            "commissioner_id",
            func.lower(text("name")),
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)


class Product(Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_commissioner_id_name", "commissioner_id", "name"),
        Index("ix_products_category_id", "category_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    category_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False
    )
    active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("true")
    )

    category: Mapped[Category] = relationship(lazy="raise")


class Farmer(Timestamps, Base):
    __tablename__ = "farmers"
    __table_args__ = (Index("ix_farmers_commissioner_id_name", "commissioner_id", "name"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    phone: Mapped[str | None] = mapped_column(Text, nullable=True)
    village: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("true")
    )


class Buyer(Timestamps, Base):
    __tablename__ = "buyers"
    __table_args__ = (Index("ix_buyers_commissioner_id_name", "commissioner_id", "name"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    phone: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("true")
    )
