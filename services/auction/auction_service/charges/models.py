"""Charges: a commissioner's deductions and fees (market fee, labour, weighing...), each with
how it is computed (kind) and who pays it by law (payer)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Numeric, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, Timestamps, uuid_pk
from ..items.models import UNITS

CHARGE_KINDS = ("PERCENT", "PER_UNIT", "FIXED_PER_LOT")
PAYERS = ("FARMER", "BUYER")
# Whose money a charge is once collected: the agent's own income, the market yard's (the market
# fee, remitted and listed in the market-fee register) or a third party's (labourers, weighmen).
ACCOUNTS = ("AGENT", "MARKET_YARD", "THIRD_PARTY")
# A percent for PERCENT, money per unit for PER_UNIT, money per lot for FIXED_PER_LOT.
CHARGE_RATE = Numeric(14, 2)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Charge(Timestamps, Base):
    __tablename__ = "charges"
    __table_args__ = (
        CheckConstraint(_in("kind", CHARGE_KINDS), name="kind_valid"),
        CheckConstraint(_in("payer", PAYERS), name="payer_valid"),
        CheckConstraint(_in("account", ACCOUNTS), name="account_valid"),
        CheckConstraint("rate >= 0", name="rate_nonnegative"),
        CheckConstraint("kind <> 'PERCENT' OR rate <= 100", name="percent_range"),
        # A unit exactly for PER_UNIT charges, and one the lots can have.
        CheckConstraint("(kind = 'PER_UNIT') = (unit IS NOT NULL)", name="unit_iff_per_unit"),
        CheckConstraint(f"unit IS NULL OR {_in('unit', UNITS)}", name="unit_valid"),
        Index("ix_charges_commissioner_id_name", "commissioner_id", "name"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    rate: Mapped[Decimal] = mapped_column(CHARGE_RATE, nullable=False)
    unit: Mapped[str | None] = mapped_column(Text, nullable=True)
    payer: Mapped[str] = mapped_column(Text, nullable=False)
    account: Mapped[str] = mapped_column(
        Text, nullable=False, default="AGENT", server_default=text("'AGENT'")
    )
    active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=text("true")
    )
