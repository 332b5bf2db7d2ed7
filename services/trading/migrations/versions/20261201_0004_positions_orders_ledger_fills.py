"""positions, pending orders, the ledger and the fill log; the session's balance

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Sessions started before this revision get their ledger's opening DEPOSIT (at their first bar)
and a balance, so the ledger identity holds for every started session.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fills",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=14), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("position_id", sa.BigInteger(), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bar_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('OPEN', 'CLOSE', 'PARTIAL_CLOSE', 'ORDER_FILLED', 'ORDER_REJECTED')",
            name=op.f("ck_fills_kind_known"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_fills_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
    )
    op.create_index("ix_fills_session_id", "fills", ["session_id", "id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=5), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column(
            "status", sa.String(length=9), server_default=sa.text("'PENDING'"), nullable=False
        ),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("stop_loss", sa.Numeric(), nullable=True),
        sa.Column("take_profit", sa.Numeric(), nullable=True),
        sa.Column("placed_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position_id", sa.BigInteger(), nullable=True),
        sa.Column("filled_price", sa.Numeric(), nullable=True),
        sa.Column("filled_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=True),
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
        sa.CheckConstraint(
            "(status = 'FILLED') = (position_id IS NOT NULL AND filled_price IS NOT NULL AND filled_ts IS NOT NULL)",
            name=op.f("ck_orders_filled_iff_fill"),
        ),
        sa.CheckConstraint("side IN ('BUY', 'SELL')", name=op.f("ck_orders_side_known")),
        sa.CheckConstraint(
            "status IN ('PENDING', 'FILLED', 'CANCELLED', 'REJECTED')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.CheckConstraint("type IN ('LIMIT', 'STOP')", name=op.f("ck_orders_type_known")),
        sa.CheckConstraint("price > 0", name=op.f("ck_orders_price_positive")),
        sa.CheckConstraint("volume > 0", name=op.f("ck_orders_volume_positive")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_orders_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(
        "ix_orders_session_status", "orders", ["session_id", "status", "id"], unique=False
    )
    op.create_table(
        "positions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=6), server_default=sa.text("'OPEN'"), nullable=False),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.Column("open_price", sa.Numeric(), nullable=False),
        sa.Column("open_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stop_loss", sa.Numeric(), nullable=True),
        sa.Column("take_profit", sa.Numeric(), nullable=True),
        sa.Column("margin", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column(
            "commission",
            sa.Numeric(precision=20, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("close_price", sa.Numeric(), nullable=True),
        sa.Column("close_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=16), nullable=True),
        sa.Column("profit", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("ambiguous", sa.Boolean(), server_default=sa.text("false"), nullable=False),
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
        sa.CheckConstraint(
            "(status = 'CLOSED') = (close_price IS NOT NULL AND close_ts IS NOT NULL AND close_reason IS NOT NULL AND profit IS NOT NULL)",
            name=op.f("ck_positions_closed_iff_close_fill"),
        ),
        sa.CheckConstraint("side IN ('BUY', 'SELL')", name=op.f("ck_positions_side_known")),
        sa.CheckConstraint("status IN ('OPEN', 'CLOSED')", name=op.f("ck_positions_status_known")),
        sa.CheckConstraint("commission >= 0", name=op.f("ck_positions_commission_non_negative")),
        sa.CheckConstraint("open_price > 0", name=op.f("ck_positions_open_price_positive")),
        sa.CheckConstraint("volume > 0", name=op.f("ck_positions_volume_positive")),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["positions.id"],
            name=op.f("fk_positions_parent_id_positions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_positions_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_positions")),
    )
    op.create_index(op.f("ix_positions_parent_id"), "positions", ["parent_id"], unique=False)
    op.create_index(
        "ix_positions_session_status", "positions", ["session_id", "status", "id"], unique=False
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("balance_after", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("replay_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "type <> 'COMMISSION' OR amount <= 0",
            name=op.f("ck_transactions_commission_is_a_debit"),
        ),
        sa.CheckConstraint(
            "type <> 'DEPOSIT' OR amount > 0", name=op.f("ck_transactions_deposit_is_a_credit")
        ),
        sa.CheckConstraint(
            "type IN ('DEPOSIT', 'COMMISSION', 'PROFIT')", name=op.f("ck_transactions_type_known")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["trading_sessions.id"],
            name=op.f("fk_transactions_session_id_trading_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    op.create_index(
        "ix_transactions_session_id", "transactions", ["session_id", "id"], unique=False
    )
    op.create_index(
        "ix_transactions_session_type", "transactions", ["session_id", "type", "id"], unique=False
    )
    op.add_column(
        "trading_sessions", sa.Column("balance", sa.Numeric(precision=20, scale=2), nullable=True)
    )
    op.add_column(
        "trading_sessions", sa.Column("next_event_ts", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "INSERT INTO transactions (session_id, type, amount, balance_after, replay_ts) "
        "SELECT s.id, 'DEPOSIT', s.initial_balance, s.initial_balance, COALESCE(("
        " SELECT min(c.ts) FROM candles c WHERE c.instrument_id = s.instrument_id"
        " AND c.timeframe = s.timeframe AND c.ts >= s.start_ts), s.current_ts) "
        "FROM trading_sessions s WHERE s.session_status <> 'DRAFT' ORDER BY s.id"
    )
    op.execute(
        "UPDATE trading_sessions SET balance = initial_balance WHERE session_status <> 'DRAFT'"
    )
    op.create_check_constraint(
        op.f("ck_trading_sessions_balance_after_start"),
        "trading_sessions",
        "(session_status = 'DRAFT') = (balance IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_trading_sessions_balance_after_start"), "trading_sessions", type_="check"
    )
    op.drop_column("trading_sessions", "next_event_ts")
    op.drop_column("trading_sessions", "balance")
    op.drop_index("ix_transactions_session_type", table_name="transactions")
    op.drop_index("ix_transactions_session_id", table_name="transactions")
    op.drop_table("transactions")
    op.drop_index("ix_positions_session_status", table_name="positions")
    op.drop_index(op.f("ix_positions_parent_id"), table_name="positions")
    op.drop_table("positions")
    op.drop_index("ix_orders_session_status", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_fills_session_id", table_name="fills")
    op.drop_table("fills")
