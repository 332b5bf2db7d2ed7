"""bills: commissioner settings, bills, bill items, payments; auction_items.bill_id FK

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BILL_NUMBER_SQL = "'BILL-' || CASE WHEN seq < 1000 THEN lpad(seq::text, 3, '0') ELSE seq::text END"


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


def _uuid_pk() -> sa.Column:
    return sa.Column(
        "id",
        postgresql.UUID(as_uuid=True),
        server_default=sa.text("gen_random_uuid()"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "commissioner_settings",
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "commission_rate", sa.Numeric(5, 2), server_default=sa.text("5.00"), nullable=False
        ),
        sa.Column("last_bill_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "commission_rate >= 0 AND commission_rate <= 100",
            name=op.f("ck_commissioner_settings_rate_range"),
        ),
        sa.CheckConstraint(
            "last_bill_seq >= 0", name=op.f("ck_commissioner_settings_seq_nonnegative")
        ),
        sa.PrimaryKeyConstraint("commissioner_id", name=op.f("pk_commissioner_settings")),
    )

    op.create_table(
        "bills",
        _uuid_pk(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("session_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("farmer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "bill_number", sa.Text(), sa.Computed(BILL_NUMBER_SQL, persisted=True), nullable=False
        ),
        sa.Column("total_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("commission_rate", sa.Numeric(5, 2), nullable=False),
        sa.Column("commission_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("net_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_amount", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False),
        sa.Column("payment_status", sa.Text(), server_default=sa.text("'UNPAID'"), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'ACTIVE'"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_bills_seq_positive")),
        sa.CheckConstraint("total_amount >= 0", name=op.f("ck_bills_total_nonnegative")),
        sa.CheckConstraint(
            "commission_rate >= 0 AND commission_rate <= 100", name=op.f("ck_bills_rate_range")
        ),
        sa.CheckConstraint(
            "commission_amount >= 0 AND commission_amount <= total_amount",
            name=op.f("ck_bills_commission_range"),
        ),
        sa.CheckConstraint(
            "net_amount = total_amount - commission_amount", name=op.f("ck_bills_net_is_difference")
        ),
        sa.CheckConstraint(
            "paid_amount >= 0 AND paid_amount <= net_amount", name=op.f("ck_bills_paid_range")
        ),
        sa.CheckConstraint(
            "payment_status IN ('UNPAID', 'PARTIAL', 'PAID')",
            name=op.f("ck_bills_payment_status_valid"),
        ),
        sa.CheckConstraint("status IN ('ACTIVE', 'VOID')", name=op.f("ck_bills_status_valid")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auction_sessions.id"],
            name=op.f("fk_bills_session_id_auction_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["farmer_id"],
            ["farmers.id"],
            name=op.f("fk_bills_farmer_id_farmers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint("commissioner_id", "seq", name=op.f("uq_bills_commissioner_id_seq")),
    )
    op.create_index("ix_bills_commissioner_session", "bills", ["commissioner_id", "session_id"])
    op.create_index("ix_bills_commissioner_farmer", "bills", ["commissioner_id", "farmer_id"])
    op.create_index("ix_bills_session_id", "bills", ["session_id"])
    op.create_index("ix_bills_farmer_id", "bills", ["farmer_id"])

    op.create_table(
        "bill_items",
        _uuid_pk(),
        sa.Column("bill_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("auction_item_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("product_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_bill_items_quantity_positive")),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_bill_items_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_bill_items_bill_id_bills"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_items")),
    )
    op.create_index("ix_bill_items_bill_id", "bill_items", ["bill_id"])
    op.create_index("ix_bill_items_auction_item_id", "bill_items", ["auction_item_id"])

    op.create_table(
        "payments",
        _uuid_pk(),
        sa.Column("bill_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "method IN ('CASH', 'BANK', 'UPI', 'CHEQUE')", name=op.f("ck_payments_method_valid")
        ),
        sa.ForeignKeyConstraint(
            ["bill_id"], ["bills.id"], name=op.f("fk_payments_bill_id_bills"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_bill_id", "payments", ["bill_id"])

    op.create_foreign_key(
        op.f("fk_auction_items_bill_id_bills"),
        "auction_items",
        "bills",
        ["bill_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_auction_items_bill_id_bills"), "auction_items", type_="foreignkey")
    op.drop_index("ix_payments_bill_id", table_name="payments")
    op.drop_table("payments")
    op.drop_index("ix_bill_items_auction_item_id", table_name="bill_items")
    op.drop_index("ix_bill_items_bill_id", table_name="bill_items")
    op.drop_table("bill_items")
    op.drop_index("ix_bills_farmer_id", table_name="bills")
    op.drop_index("ix_bills_commissioner_farmer", table_name="bills")
    op.drop_index("ix_bills_commissioner_session", table_name="bills")
    op.drop_table("bills")
    op.drop_table("commissioner_settings")
