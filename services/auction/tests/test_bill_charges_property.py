"""The farmer-bill invariant on random sessions (issue 11, "Done when"): over every bill,
Σ net = Σ lots - Σ farmer-side lines (the commission included when the farmer pays it), each
line computed here by hand (half up per line), and buyer-side charges never on a bill."""

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
COMMISSIONERS = itertools.count(40_000)


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
async def test_sum_of_farmer_nets_is_lots_less_farmer_side_lines(
    api: AuctionApi,
    lots: list[Lot],
    charges: list[ChargeSpec],
    rate: Decimal,
    commission_payer: str,
) -> None:
    cid = next(COMMISSIONERS)
    sid, farmers, by_farmer = await random_day(
        api, cid, "FARMER", lots, charges, rate, commission_payer
    )
    sum_net = sum_lots = sum_lines = Decimal(0)
    buyer_side = other_side_names(charges, "FARMER")
    for farmer, farmer_lots in by_farmer.items():
        want = expected_lines(farmer_lots, charges, rate, commission_payer, "FARMER")
        total = sum((price for _, _, price in farmer_lots), Decimal(0))
        resp = await api.call(
            "POST", f"/api/sessions/{sid}/bills", cid, json={"farmer_id": farmers[farmer]}
        )
        if total - sum(want, Decimal(0)) < 0:  # more deducted than sold: refused
            assert resp.status_code == 409, resp.text
            assert resp.json()["error"]["details"]["reason"] == "CHARGES_EXCEED_TOTAL"
            continue
        assert resp.status_code == 201, resp.text
        b = resp.json(parse_float=Decimal)["data"]
        got = [Decimal(c["amount"]) for c in b["charges"]]
        assert got == want
        assert not buyer_side & {c["name"] for c in b["charges"]}
        assert Decimal(b["total_amount"]) == total
        assert Decimal(b["net_amount"]) == total - sum(got, Decimal(0))
        sum_net += Decimal(b["net_amount"])
        sum_lots += total
        sum_lines += sum(want, Decimal(0))
    assert sum_net == sum_lots - sum_lines
