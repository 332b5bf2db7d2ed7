"""buyer_invoices: buyer invoices (INV-001.. per commissioner), their lot and charge lines,
collections, each lot's invoice_id, and the settings' invoice counter and buyer credit days

Revision ID: 0008_buyer_invoices
Revises: 0007_accounts
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_buyer_invoices"
down_revision: str | None = "0007_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_NUMBER_SQL = (
    "'INV-' || CASE WHEN seq < 1000 THEN lpad(seq::text, 3, '0') ELSE seq::text END"
)
STATUSES = ("UNPAID", "PARTIAL", "PAID")
METHODS = ("CASH", "BANK", "UPI", "CHEQUE")
KINDS = ("PERCENT", "PER_UNIT", "FIXED_PER_LOT")
ACCOUNTS = ("AGENT", "MARKET_YARD", "THIRD_PARTY")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


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


def _invoice_fk(table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["invoice_id"],
        ["buyer_invoices.id"],
        name=op.f(f"fk_{table}_invoice_id_buyer_invoices"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.add_column(
        "commissioner_settings",
        sa.Column("last_invoice_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "commissioner_settings",
        sa.Column("buyer_credit_days", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_commissioner_settings_invoice_seq_nonnegative"),
        "commissioner_settings",
        "last_invoice_seq >= 0",
    )
    op.create_check_constraint(
        op.f("ck_commissioner_settings_buyer_credit_days_range"),
        "commissioner_settings",
        "buyer_credit_days >= 0 AND buyer_credit_days <= 365",
    )

    t = "buyer_invoices"
    op.create_table(
        t,
        _uuid_pk(),
        sa.Column("commissioner_id", sa.BigInteger(), nullable=False),
        sa.Column("session_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("buyer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "invoice_number",
            sa.Text(),
            sa.Computed(INVOICE_NUMBER_SQL, persisted=True),
            nullable=False,
        ),
        sa.Column("lots_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("charges_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("commission_rate", sa.Numeric(5, 2), nullable=False),
        sa.Column("commission_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("total_amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column(
            "collected_amount", sa.Numeric(14, 2), server_default=sa.text("0"), nullable=False
        ),
        sa.Column(
            "collection_status", sa.Text(), server_default=sa.text("'UNPAID'"), nullable=False
        ),
        sa.Column("status", sa.Text(), server_default=sa.text("'ACTIVE'"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("seq >= 1", name=op.f(f"ck_{t}_seq_positive")),
        sa.CheckConstraint("lots_amount >= 0", name=op.f(f"ck_{t}_lots_nonnegative")),
        sa.CheckConstraint("charges_amount >= 0", name=op.f(f"ck_{t}_charges_nonnegative")),
        sa.CheckConstraint(
            "commission_rate >= 0 AND commission_rate <= 100", name=op.f(f"ck_{t}_rate_range")
        ),
        sa.CheckConstraint("commission_amount >= 0", name=op.f(f"ck_{t}_commission_nonnegative")),
        sa.CheckConstraint(
            "total_amount = lots_amount + charges_amount + commission_amount",
            name=op.f(f"ck_{t}_total_is_lots_plus_buyer_lines"),
        ),
        sa.CheckConstraint(
            "collected_amount >= 0 AND collected_amount <= total_amount",
            name=op.f(f"ck_{t}_collected_range"),
        ),
        sa.CheckConstraint(
            _in("collection_status", STATUSES), name=op.f(f"ck_{t}_collection_status_valid")
        ),
        sa.CheckConstraint(_in("status", ("ACTIVE", "VOID")), name=op.f(f"ck_{t}_status_valid")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auction_sessions.id"],
            name=op.f(f"fk_{t}_session_id_auction_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["buyer_id"], ["buyers.id"], name=op.f(f"fk_{t}_buyer_id_buyers"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("commissioner_id", "seq", name=op.f(f"uq_{t}_commissioner_id_seq")),
    )
    op.create_index(f"ix_{t}_commissioner_session", t, ["commissioner_id", "session_id"])
    op.create_index(f"ix_{t}_commissioner_buyer", t, ["commissioner_id", "buyer_id"])
    op.create_index(f"ix_{t}_session_id", t, ["session_id"])
    op.create_index(f"ix_{t}_buyer_id", t, ["buyer_id"])

    t = "invoice_items"
    op.create_table(
        t,
        _uuid_pk(),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("auction_item_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("product_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("product_name", sa.Text(), nullable=False),
        sa.Column("farmer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(14, 3), nullable=False),
        sa.Column("price", sa.Numeric(18, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("position >= 1", name=op.f(f"ck_{t}_position_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f(f"ck_{t}_quantity_positive")),
        sa.CheckConstraint("price >= 0", name=op.f(f"ck_{t}_price_nonnegative")),
        sa.CheckConstraint("amount >= 0", name=op.f(f"ck_{t}_amount_nonnegative")),
        _invoice_fk(t, "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(f"ix_{t}_invoice_id", t, ["invoice_id"])
    op.create_index(f"ix_{t}_auction_item_id", t, ["auction_item_id"])

    t = "invoice_charges"
    op.create_table(
        t,
        _uuid_pk(),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("charge_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("basis", sa.Numeric(16, 3), nullable=False),
        sa.Column("rate", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("account", sa.Text(), server_default=sa.text("'AGENT'"), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(_in("kind", KINDS), name=op.f(f"ck_{t}_kind_valid")),
        sa.CheckConstraint(_in("account", ACCOUNTS), name=op.f(f"ck_{t}_account_valid")),
        sa.CheckConstraint("basis >= 0", name=op.f(f"ck_{t}_basis_nonnegative")),
        sa.CheckConstraint("rate >= 0", name=op.f(f"ck_{t}_rate_nonnegative")),
        sa.CheckConstraint("amount >= 0", name=op.f(f"ck_{t}_amount_nonnegative")),
        _invoice_fk(t, "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("invoice_id", "position", name=op.f(f"uq_{t}_invoice_id_position")),
    )

    t = "collections"
    op.create_table(
        t,
        _uuid_pk(),
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("amount > 0", name=op.f(f"ck_{t}_amount_positive")),
        sa.CheckConstraint(_in("method", METHODS), name=op.f(f"ck_{t}_method_valid")),
        sa.CheckConstraint(
            "reference IS NULL OR char_length(reference) <= 64",
            name=op.f(f"ck_{t}_reference_length"),
        ),
        _invoice_fk(t, "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    op.create_index(f"ix_{t}_invoice_id", t, ["invoice_id"])

    op.add_column(
        "auction_items",
        sa.Column("invoice_id", postgresql.UUID(as_uuid=True), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_auction_items_invoice_id_buyer_invoices"),
        "auction_items",
        "buyer_invoices",
        ["invoice_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_auction_items_invoice_id", "auction_items", ["invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_auction_items_invoice_id", table_name="auction_items")
    op.drop_constraint(
        op.f("fk_auction_items_invoice_id_buyer_invoices"), "auction_items", type_="foreignkey"
    )
    op.drop_column("auction_items", "invoice_id")
    op.drop_index("ix_collections_invoice_id", table_name="collections")
    op.drop_table("collections")
    op.drop_table("invoice_charges")
    op.drop_index("ix_invoice_items_auction_item_id", table_name="invoice_items")
    op.drop_index("ix_invoice_items_invoice_id", table_name="invoice_items")
    op.drop_table("invoice_items")
    for name in ("buyer_id", "session_id", "commissioner_buyer", "commissioner_session"):
        op.drop_index(f"ix_buyer_invoices_{name}", table_name="buyer_invoices")
    op.drop_table("buyer_invoices")
    for name in ("buyer_credit_days_range", "invoice_seq_nonnegative"):
        op.drop_constraint(
            op.f(f"ck_commissioner_settings_{name}"), "commissioner_settings", type_="check"
        )
    op.drop_column("commissioner_settings", "buyer_credit_days")
    op.drop_column("commissioner_settings", "last_invoice_seq")
