"""Random auction days for the charge-line property tests (farmer bills, buyer invoices): the
strategies, the house (settings and charges), the lots, and each document's lines by hand."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from .conftest import AuctionApi

CENT = Decimal("0.01")
UNITS = ("KG", "QUINTAL", "BAG")

Lot = tuple[int, str, Decimal, Decimal]  # (party 0..2, unit, quantity, price)
# ((kind, rate, unit), payer, active)
ChargeSpec = tuple[tuple[str, Decimal, str | None], str, bool]
PartyLots = list[tuple[str, Decimal, Decimal]]  # (unit, quantity, price)


def half_up(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def money(lo: str, hi: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(lo), max_value=Decimal(hi), places=2)


lots_st = st.lists(
    st.tuples(
        st.integers(0, 2),  # the farmer (bills) or the buyer (invoices) of the lot
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
    lots: PartyLots, charges: list[ChargeSpec], rate: Decimal, commission_payer: str, side: str
) -> list[Decimal]:
    """The line amounts of one party's document on `side` (FARMER: a bill, BUYER: an invoice),
    by the rules, by hand. The commission line comes first when that side pays it (a bill shows
    it even at 0 %, an invoice only above 0 %); then the charges in name order ("Charge 0"..)."""
    total = sum((price for _, _, price in lots), Decimal(0))
    with_commission = commission_payer == side and (side == "FARMER" or rate > 0)
    out = [half_up(total * rate / 100)] if with_commission else []
    for (kind, r, unit), charge_payer, active in charges:
        if charge_payer != side or not active:
            continue
        if kind == "PERCENT":
            out.append(half_up(total * r / 100))
        elif kind == "PER_UNIT":
            out.append(half_up(sum((q for u, q, _ in lots if u == unit), Decimal(0)) * r))
        else:
            out.append(half_up(len(lots) * r))
    return out


def other_side_names(charges: list[ChargeSpec], side: str) -> set[str]:
    """The names of the charges the other side pays: never a line on `side`'s document."""
    return {f"Charge {n}" for n, (_, payer, _) in enumerate(charges) if payer != side}


async def random_day(
    api: AuctionApi,
    cid: int,
    side: str,
    lots: list[Lot],
    charges: list[ChargeSpec],
    rate: Decimal,
    commission_payer: str,
) -> tuple[str, list[str], dict[int, PartyLots]]:
    """The house rules and the charges, three parties on `side` (farmers or buyers), one
    session with the lots: its id, the parties' ids, and each party's lots."""
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
    key, plural, title = (
        ("farmer_id", "farmers", "Farmer") if side == "FARMER" else ("buyer_id", "buyers", "Buyer")
    )
    parties = [m[key]]
    for n in (1, 2):
        made = await api.ok("POST", f"/api/{plural}", cid, 201, json={"name": f"{title} {n}"})
        parties.append(made["id"])
    s = await api.session(cid)
    by_party: dict[int, PartyLots] = {}
    for party, unit, quantity, price in lots:
        await api.item(
            s["id"],
            {**m, key: parties[party]},
            cid,
            unit=unit,
            quantity=float(quantity),
            final_price=float(price),
        )
        by_party.setdefault(party, []).append((unit, quantity, price))
    return s["id"], parties, by_party
