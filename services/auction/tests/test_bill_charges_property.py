"""The farmer-bill invariant on random sessions (issue 11, "Done when"): over every bill,
Σ net = Σ lots - Σ farmer-side lines (the commission included when the farmer pays it), each
line computed here by hand (half up per line), and buyer-side charges never on a bill."""

from __future__ import annotations

import itertools
import os
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import AuctionApi

CENT = Decimal("0.01")
UNITS = ("KG", "QUINTAL", "BAG")
# A fresh commissioner per example: examples never see each other's data.
COMMISSIONERS = itertools.count(40_000)


def half_up(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def money(lo: str, hi: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(lo), max_value=Decimal(hi), places=2)


lots_st = st.lists(
    st.tuples(
        st.integers(0, 2),  # farmer
        st.sampled_from(UNITS),
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999"), places=3),
        money("0", "99999"),
    ),
    min_size=1,
    max_size=8,
)
charge_st = st.one_of(
    st.tuples(st.just("PERCENT"), money("0", "12"), st.none()),
    st.tuples(st.just("PER_UNIT"), money("0", "6"), st.sampled_from(UNITS)),
    st.tuples(st.just("FIXED_PER_LOT"), money("0", "40"), st.none()),
)
charges_st = st.lists(
    st.tuples(charge_st, st.sampled_from(["FARMER", "BUYER"]), st.booleans()), max_size=4
)


def expected_lines(
    lots: list[tuple[str, Decimal, Decimal]],
    charges: list[tuple[tuple[str, Decimal, str | None], str, bool]],
    rate: Decimal,
    payer: str,
) -> list[Decimal]:
    """The farmer-side line amounts of one farmer's bill, by the rules, by hand."""
    total = sum((price for _, _, price in lots), Decimal(0))
    out = [half_up(total * rate / 100)] if payer == "FARMER" else []
    for (kind, r, unit), charge_payer, active in charges:
        if charge_payer != "FARMER" or not active:
            continue
        if kind == "PERCENT":
            out.append(half_up(total * r / 100))
        elif kind == "PER_UNIT":
            out.append(half_up(sum((q for u, q, _ in lots if u == unit), Decimal(0)) * r))
        else:
            out.append(half_up(len(lots) * r))
    return out


# Arithmetic on random days, many requests each: run once, in-process; the gateway pass of
# the contract tests already covers these routes on the wire (and keeps CI under 20 minutes).
pytestmark = pytest.mark.in_process_only


@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "25")),
    deadline=None,
    database=None,
    derandomize=os.environ.get("PROPERTY_RANDOM") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lots=lots_st,
    charges=charges_st,
    rate=money("0", "10"),
    commission_payer=st.sampled_from(["FARMER", "BUYER"]),
)
async def test_sum_of_farmer_nets_is_lots_less_farmer_side_lines(
    api: AuctionApi,
    lots: list[tuple[int, str, Decimal, Decimal]],
    charges: list[tuple[tuple[str, Decimal, str | None], str, bool]],
    rate: Decimal,
    commission_payer: str,
) -> None:
    cid = next(COMMISSIONERS)
    await api.ok(
        "PUT",
        "/api/settings",
        cid,
        json={"commission_rate": float(rate), "commission_payer": commission_payer},
    )
    for n, ((kind, r, unit), payer, active) in enumerate(charges):
        body: dict[str, Any] = {
            "name": f"Charge {n}",
            "kind": kind,
            "rate": float(r),
            "payer": payer,
            "active": active,
        }
        if unit is not None:
            body["unit"] = unit
        await api.ok("POST", "/api/charges", cid, 201, json=body)
    m = await api.masters(cid)
    farmers = [m["farmer_id"]]
    for n in (1, 2):
        f = await api.ok("POST", "/api/farmers", cid, 201, json={"name": f"Farmer {n}"})
        farmers.append(f["id"])
    s = await api.session(cid)
    by_farmer: dict[int, list[tuple[str, Decimal, Decimal]]] = {}
    for farmer, unit, quantity, price in lots:
        await api.item(
            s["id"],
            {**m, "farmer_id": farmers[farmer]},
            cid,
            unit=unit,
            quantity=float(quantity),
            final_price=float(price),
        )
        by_farmer.setdefault(farmer, []).append((unit, quantity, price))

    sum_net = sum_lots = sum_lines = Decimal(0)
    buyer_side = {f"Charge {n}" for n, (_, payer, _) in enumerate(charges) if payer == "BUYER"}
    for farmer, farmer_lots in by_farmer.items():
        want = expected_lines(farmer_lots, charges, rate, commission_payer)
        total = sum((price for _, _, price in farmer_lots), Decimal(0))
        resp = await api.call(
            "POST",
            f"/api/sessions/{s['id']}/bills",
            cid,
            json={"farmer_id": farmers[farmer]},
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
