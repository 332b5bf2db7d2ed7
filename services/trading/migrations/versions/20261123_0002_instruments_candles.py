"""instruments and candles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMEFRAMES = "'M1','M5','M10','M15','M30','H1','H2','H4','D1','W1'"


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("digits", sa.SmallInteger(), nullable=False),
        sa.Column("point", sa.Numeric(), nullable=False),
        sa.Column("contract_size", sa.Numeric(), nullable=False),
        sa.Column("min_volume", sa.Numeric(), nullable=False),
        sa.Column("volume_step", sa.Numeric(), nullable=False),
        sa.Column("max_volume", sa.Numeric(), nullable=False),
        sa.Column(
            "base_timeframe", sa.String(length=3), server_default=sa.text("'M1'"), nullable=False
        ),
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
        sa.CheckConstraint("digits BETWEEN 0 AND 10", name=op.f("ck_instruments_digits_range")),
        sa.CheckConstraint("point > 0", name=op.f("ck_instruments_point_positive")),
        sa.CheckConstraint("contract_size > 0", name=op.f("ck_instruments_contract_size_positive")),
        sa.CheckConstraint("min_volume > 0", name=op.f("ck_instruments_min_volume_positive")),
        sa.CheckConstraint("volume_step > 0", name=op.f("ck_instruments_volume_step_positive")),
        sa.CheckConstraint("min_volume <= max_volume", name=op.f("ck_instruments_volume_range")),
        sa.CheckConstraint(
            f"base_timeframe IN ({TIMEFRAMES})", name=op.f("ck_instruments_base_timeframe_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruments")),
        sa.UniqueConstraint("symbol", name=op.f("uq_instruments_symbol")),
    )
    # No foreign key to instruments: a per-row RI check would dominate a million-row COPY.
    # Imports lock the instrument row, and deleting an instrument deletes its candles first.
    op.create_table(
        "candles",
        sa.Column("instrument_id", sa.BigInteger(), nullable=False),
        sa.Column("timeframe", sa.String(length=3), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Numeric(), nullable=False),
        sa.Column("high", sa.Numeric(), nullable=False),
        sa.Column("low", sa.Numeric(), nullable=False),
        sa.Column("close", sa.Numeric(), nullable=False),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", "timeframe", "ts", name=op.f("pk_candles")),
    )


def downgrade() -> None:
    op.drop_table("candles")
    op.drop_table("instruments")
