"""masters, auction sessions and auction items

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNITS = ("KG", "QUINTAL", "TONNE", "BAG", "BOX", "CRATE", "DOZEN", "PIECE")


def _id() -> sa.Column:
    return sa.Column(
        "id",
        postgresql.UUID(as_uuid=True),
        server_default=sa.text("gen_random_uuid()"),
        nullable=False,
    )


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "categories",
        _id(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
    )
    op.create_index(
        "uq_categories_commissioner_id_lower_name",
        "categories",
        ["commissioner_id", sa.text("lower(name)")],
        unique=True,
    )

    op.create_table(
        "products",
        _id(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_products_category_id_categories"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index("ix_products_commissioner_id_name", "products", ["commissioner_id", "name"])
    op.create_index("ix_products_category_id", "products", ["category_id"])

    op.create_table(
        "farmers",
        _id(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("village", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_farmers")),
    )
    op.create_index("ix_farmers_commissioner_id_name", "farmers", ["commissioner_id", "name"])

    op.create_table(
        "buyers",
        _id(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyers")),
    )
    op.create_index("ix_buyers_commissioner_id_name", "buyers", ["commissioner_id", "name"])

    op.create_table(
        "auction_sessions",
        _id(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'ACTIVE'"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "status IN ('ACTIVE', 'COMPLETED')", name=op.f("ck_auction_sessions_status_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auction_sessions")),
    )
    # One ACTIVE session per commissioner per UTC calendar date, settled by the database.
    op.create_index(
        "uq_auction_sessions_one_active_per_date",
        "auction_sessions",
        ["commissioner_id", sa.text("((date AT TIME ZONE 'UTC')::date)")],
        unique=True,
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_index(
        "ix_auction_sessions_commissioner_id_date", "auction_sessions", ["commissioner_id", "date"]
    )

    units = ", ".join(f"'{u}'" for u in UNITS)
    op.create_table(
        "auction_items",
        _id(),
        sa.Column("session_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("farmer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("product_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("buyer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("final_price", sa.Numeric(14, 2), nullable=False),
        # The foreign key to bills comes with part B's migration 0003.
        sa.Column("bill_id", postgresql.UUID(as_uuid=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(f"unit IN ({units})", name=op.f("ck_auction_items_unit_valid")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_auction_items_quantity_positive")),
        sa.CheckConstraint(
            "final_price >= 0", name=op.f("ck_auction_items_final_price_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auction_sessions.id"],
            name=op.f("fk_auction_items_session_id_auction_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["farmer_id"],
            ["farmers.id"],
            name=op.f("fk_auction_items_farmer_id_farmers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_auction_items_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["buyers.id"],
            name=op.f("fk_auction_items_buyer_id_buyers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auction_items")),
    )
    op.create_index(
        "ix_auction_items_session_id_created_at", "auction_items", ["session_id", "created_at"]
    )
    op.create_index("ix_auction_items_farmer_id", "auction_items", ["farmer_id"])
    op.create_index("ix_auction_items_product_id", "auction_items", ["product_id"])
    op.create_index("ix_auction_items_buyer_id", "auction_items", ["buyer_id"])
    op.create_index("ix_auction_items_bill_id", "auction_items", ["bill_id"])


def downgrade() -> None:
    op.drop_table("auction_items")
    op.drop_table("auction_sessions")
    op.drop_table("buyers")
    op.drop_table("farmers")
    op.drop_table("products")
    op.drop_table("categories")
