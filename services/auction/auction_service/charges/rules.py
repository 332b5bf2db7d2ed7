"""How a charge becomes a line on a document (a farmer bill or a buyer invoice): pure rules,
shared by both so the two always compute a charge the same way."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..items.models import AuctionItem
from .models import Charge

CENT = Decimal("0.01")


def charge_basis(charge: Charge, lots: Sequence[AuctionItem]) -> Decimal:
    """PERCENT: the lots total; PER_UNIT: the quantity of lots sold in the charge's unit;
    FIXED_PER_LOT: the number of lots."""
    if charge.kind == "PERCENT":
        return sum((lot.final_price for lot in lots), Decimal("0.00"))
    if charge.kind == "PER_UNIT":
        return sum((lot.quantity for lot in lots if lot.unit == charge.unit), Decimal("0.000"))
    return Decimal(len(lots))


def charge_amount(kind: str, basis: Decimal, rate: Decimal) -> Decimal:
    """basis x rate (/ 100 for a percent), rounded half up to cents: each line on its own."""
    raw = basis * rate / 100 if kind == "PERCENT" else basis * rate
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


def line_values(charges: Sequence[Charge], lots: Sequence[AuctionItem]) -> list[dict[str, Any]]:
    """One snapshot line per charge, in the given order (positions from 1): the columns
    `bill_charges` and `invoice_charges` share."""
    lines = []
    for position, charge in enumerate(charges, start=1):
        basis = charge_basis(charge, lots)
        lines.append(
            {
                "position": position,
                "charge_id": charge.id,
                "name": charge.name,
                "kind": charge.kind,
                "unit": charge.unit,
                "basis": basis,
                "rate": charge.rate,
                "amount": charge_amount(charge.kind, basis, charge.rate),
                "account": charge.account,
            }
        )
    return lines
