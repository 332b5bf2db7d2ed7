"""trading sessions and their replay clock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'DRAFT', 'RUNNING', 'PAUSED', 'COMPLETED', 'ARCHIVED'"
SPEEDS = "'0.5x', '1x', '2x', '3x', '5x', '10x', '15x'"
TIMEFRAMES = "'M1','M5','M10','M15','M30','H1','H2','H4','D1','W1'"


def upgrade() -> None:
    op.create_table(
        "trading_sessions",
        sa.Column("id", sa.Integer(), sa.Identity(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("instrument_id", sa.BigInteger(), nullable=False),
        sa.Column("timeframe", sa.String(length=3), nullable=False),
        sa.Column(
            "session_status",
            sa.String(length=16),
            server_default=sa.text("'DRAFT'"),
            nullable=False,
        ),
        sa.Column("speed", sa.String(length=4), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("initial_balance", sa.Numeric(18, 2), nullable=False),
        sa.Column("leverage", sa.Numeric(12, 4), nullable=False),
        sa.Column("spread_pts", sa.Integer(), nullable=False),
        sa.Column("slippage_pts", sa.Integer(), nullable=False),
        sa.Column("commission_per_fill", sa.Numeric(18, 2), nullable=False),
        sa.Column("current_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=True),
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
            f"session_status IN ({STATUSES})", name=op.f("ck_trading_sessions_status_known")
        ),
        sa.CheckConstraint(f"speed IN ({SPEEDS})", name=op.f("ck_trading_sessions_speed_known")),
        sa.CheckConstraint(
            f"timeframe IN ({TIMEFRAMES})", name=op.f("ck_trading_sessions_timeframe_known")
        ),
        sa.CheckConstraint(
            "end_ts IS NULL OR end_ts > start_ts", name=op.f("ck_trading_sessions_end_after_start")
        ),
        sa.CheckConstraint(
            "initial_balance > 0", name=op.f("ck_trading_sessions_initial_balance_positive")
        ),
        sa.CheckConstraint("leverage > 0", name=op.f("ck_trading_sessions_leverage_positive")),
        sa.CheckConstraint("spread_pts >= 0", name=op.f("ck_trading_sessions_spread_non_negative")),
        sa.CheckConstraint(
            "slippage_pts >= 0", name=op.f("ck_trading_sessions_slippage_non_negative")
        ),
        sa.CheckConstraint(
            "commission_per_fill >= 0", name=op.f("ck_trading_sessions_commission_non_negative")
        ),
        sa.CheckConstraint(
            "(session_status = 'DRAFT') = (current_ts IS NULL)",
            name=op.f("ck_trading_sessions_current_ts_after_start"),
        ),
        sa.CheckConstraint(
            "(session_status = 'RUNNING') = (anchor_at IS NOT NULL)",
            name=op.f("ck_trading_sessions_anchor_iff_running"),
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instruments.id"],
            name=op.f("fk_trading_sessions_instrument_id_instruments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trading_sessions")),
    )
    op.create_index(
        "ix_trading_sessions_user_created", "trading_sessions", ["user_id", "created_at", "id"]
    )
    op.create_index("ix_trading_sessions_created", "trading_sessions", ["created_at", "id"])
    op.create_index(
        op.f("ix_trading_sessions_instrument_id"), "trading_sessions", ["instrument_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trading_sessions_instrument_id"), table_name="trading_sessions")
    op.drop_index("ix_trading_sessions_created", table_name="trading_sessions")
    op.drop_index("ix_trading_sessions_user_created", table_name="trading_sessions")
    op.drop_table("trading_sessions")
