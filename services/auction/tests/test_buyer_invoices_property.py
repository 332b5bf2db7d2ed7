"""The buyer-invoice invariant on random sessions (issue 11, "Done when"): over every
invoice, Σ total = Σ lots + Σ buyer-side lines (the commission included when the buyer pays
it), each line computed here by hand (half up per line), farmer-side charges never on an
invoice, and each buyer's ledger balance is its invoice's total."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .charge_days import (
    ChargeSpec,
    Lot,
    charges_st,
    expected_lines,
    lots_st,
    money,
    other_side_names,
    random_day,
)
from .conftest import AuctionApi, property_settings

# A fresh commissioner per example: examples never see each other's data.
COMMISSIONERS = itertools.count(41_000)


# Arithmetic on random days, many requests each: run once, in-process; the gateway pass of
# the contract tests already covers these routes on the wire (and keeps CI under 20 minutes).
pytestmark = pytest.mark.in_process_only


@property_settings(25)
@given(
    lots=lots_st,
    charges=charges_st,
    rate=money("0", "10"),
    commission_payer=st.sampled_from(["FARMER", "BUYER"]),
)
async def test_sum_of_invoice_totals_is_lots_plus_buyer_side_lines(
    api: AuctionApi,
    lots: list[Lot],
    charges: list[ChargeSpec],
    rate: Decimal,
    commission_payer: str,
) -> None:
    cid = next(COMMISSIONERS)
    sid, buyers, by_buyer = await random_day(
        api, cid, "BUYER", lots, charges, rate, commission_payer
    )
    sum_total = sum_lots = sum_lines = Decimal(0)
    farmer_side = other_side_names(charges, "BUYER")
    for buyer, buyer_lots in by_buyer.items():
        want = expected_lines(buyer_lots, charges, rate, commission_payer, "BUYER")
        lots_total = sum((price for _, _, price in buyer_lots), Decimal(0))
        resp = await api.call(
            "POST", f"/api/sessions/{sid}/buyer-invoices", cid, json={"buyer_id": buyers[buyer]}
        )
        assert resp.status_code == 201, resp.text
        inv = resp.json(parse_float=Decimal)["data"]
        got = [Decimal(c["amount"]) for c in inv["charges"]]
        assert got == want
        assert not farmer_side & {c["name"] for c in inv["charges"]}
        assert Decimal(inv["lots_amount"]) == lots_total
        assert Decimal(inv["total_amount"]) == lots_total + sum(want, Decimal(0))
        ledger = await api.ok("GET", f"/api/buyers/{buyers[buyer]}/ledger", cid)
        assert [Decimal(str(e["balance"])) for e in ledger] == [Decimal(inv["total_amount"])]
        sum_total += Decimal(inv["total_amount"])
        sum_lots += lots_total
        sum_lines += sum(want, Decimal(0))
    assert sum_total == sum_lots + sum_lines
