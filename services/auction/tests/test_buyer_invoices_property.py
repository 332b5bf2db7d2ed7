"""The buyer-invoice invariant on random sessions (issue 11, "Done when"): over every
invoice, Σ total = Σ lots + Σ buyer-side lines (the commission included when the buyer pays
it), each line computed here by hand (half up per line), farmer-side charges never on an
invoice, and each buyer's ledger balance is its invoice's total."""

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
COMMISSIONERS = itertools.count(41_000)


def half_up(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def money(lo: str, hi: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(lo), max_value=Decimal(hi), places=2)


lots_st = st.lists(
    st.tuples(
        st.integers(0, 2),  # buyer
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
    """The buyer-side line amounts of one buyer's invoice, by the rules, by hand."""
    total = sum((price for _, _, price in lots), Decimal(0))
    out = [half_up(total * rate / 100)] if payer == "BUYER" and rate > 0 else []
    # Lines come in name order: "Charge 0".."Charge 3", the list's own order.
    for (kind, r, unit), charge_payer, active in charges:
        if charge_payer != "BUYER" or not active:
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
async def test_sum_of_invoice_totals_is_lots_plus_buyer_side_lines(
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
    buyers = [m["buyer_id"]]
    for n in (1, 2):
        b = await api.ok("POST", "/api/buyers", cid, 201, json={"name": f"Buyer {n}"})
        buyers.append(b["id"])
    s = await api.session(cid)
    by_buyer: dict[int, list[tuple[str, Decimal, Decimal]]] = {}
    for buyer, unit, quantity, price in lots:
        await api.item(
            s["id"],
            {**m, "buyer_id": buyers[buyer]},
            cid,
            unit=unit,
            quantity=float(quantity),
            final_price=float(price),
        )
        by_buyer.setdefault(buyer, []).append((unit, quantity, price))

    sum_total = sum_lots = sum_lines = Decimal(0)
    farmer_side = {f"Charge {n}" for n, (_, payer, _) in enumerate(charges) if payer == "FARMER"}
    for buyer, buyer_lots in by_buyer.items():
        want = expected_lines(buyer_lots, charges, rate, commission_payer)
        lots_total = sum((price for _, _, price in buyer_lots), Decimal(0))
        resp = await api.call(
            "POST",
            f"/api/sessions/{s['id']}/buyer-invoices",
            cid,
            json={"buyer_id": buyers[buyer]},
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
