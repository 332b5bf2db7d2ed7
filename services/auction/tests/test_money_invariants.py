"""Issue 11, the cross-invariants, on random trading days: random farmers, buyers and lots over
two sessions, charges of every kind, payer and account (some inactive), the commission on
either side, then random payments, collections and voids (a voided document sometimes made
again). Every expected figure is computed here by hand (half up per line), never by the code:

- each ACTIVE invoice's total = its lots + its buyer-side lines (+ the commission when the
  buyer pays it), and so for their sums;
- Σ farmer bills' net = Σ billed lots - Σ farmer-side lines (- the commission when the farmer
  pays it); a bill that would go below zero is 409 CHARGES_EXCEED_TOTAL;
- the commission report's income = commission + Σ AGENT lines; the market-fee register's
  total = Σ MARKET_YARD lines = Σ of its per-lot fees;
- each farmer's and buyer's journal balance = their documents - payments or collections,
  voids reversed;
- `GET /api/ledger/verify` succeeds, and after any one row of `ledger_entries` is altered or
  deleted directly in the database (the append-only trigger bypassed with
  `session_replication_role = replica`, as the conftest does) it fails naming that row.

Deterministic (derandomized, no example database); PROPERTY_EXAMPLES and PROPERTY_RANDOM=1
widen it locally.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, text

from auction_service.ledger.models import LedgerEntry

from .conftest import AuctionApi, property_settings

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
UNITS = ("KG", "QUINTAL", "BAG")
DATES = ("2026-05-01", "2026-05-02")
RANGE = f"from={DATES[0]}&to={DATES[-1]}"
# A fresh commissioner per example: examples never see each other's data.
COMMISSIONERS = itertools.count(60_000)


def half_up(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def money(lo: str, hi: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(lo), max_value=Decimal(hi), places=2)


@dataclass(frozen=True)
class Charge:
    kind: str
    rate: Decimal
    unit: str | None
    payer: str
    account: str
    active: bool


@dataclass(frozen=True)
class Lot:
    session: int
    farmer: int
    buyer: int
    unit: str
    quantity: Decimal
    price: Decimal


@dataclass
class Doc:
    """A bill or invoice as the test expects it (by hand) and tracks it."""

    kind: str  # "bill" or "invoice"
    id: str
    session: int
    party: int
    lots: Decimal  # Σ lots
    lines: list[tuple[str, str, Decimal]]  # (name, account, amount) of the charge lines
    commission: Decimal  # the part the document's party pays (0 when the other side does)
    amount: Decimal  # bill: net; invoice: total
    paid: Decimal = ZERO
    events: int = 1  # its journal entries
    active: bool = True


charge_st = st.builds(
    lambda shape, payer, account, active: Charge(
        shape[0], shape[1], shape[2], payer, account, active
    ),
    st.one_of(
        st.tuples(st.just("PERCENT"), money("0", "8"), st.none()),
        st.tuples(st.just("PER_UNIT"), money("0", "5"), st.sampled_from(UNITS)),
        st.tuples(st.just("FIXED_PER_LOT"), money("0", "30"), st.none()),
    ),
    st.sampled_from(["FARMER", "BUYER"]),
    st.sampled_from(["AGENT", "MARKET_YARD", "THIRD_PARTY"]),
    st.sampled_from([True, True, False]),  # active, mostly
)
lot_st = st.builds(
    Lot,
    st.integers(0, len(DATES) - 1),
    st.integers(0, 1),
    st.integers(0, 1),
    st.sampled_from(UNITS),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999"), places=3),
    money("0", "50000"),
)
# (what, which document, how much: a percent of what is owed; 101 overpays and is refused)
op_st = st.tuples(
    st.sampled_from(["pay", "collect", "void_bill", "void_invoice"]),
    st.integers(0, 7),
    st.sampled_from([1, 37, 50, 100, 101]),
    st.booleans(),  # after a void: make the document again
)
TAMPER = {
    "amount": "UPDATE ledger_entries SET amount = amount + 0.01 {where}",
    "payload": "UPDATE ledger_entries SET payload = payload || ' ' {where}",
    "at": "UPDATE ledger_entries SET at = at + interval '1 microsecond' {where}",
    "party": "UPDATE ledger_entries SET party_id = gen_random_uuid() {where}",
    "number": "UPDATE ledger_entries SET document_number = document_number || 'X' {where}",
    "prev_hash": "UPDATE ledger_entries SET prev_hash = repeat('f', 64) {where}",
    "hash": "UPDATE ledger_entries SET hash = repeat('e', 64) {where}",
    "deleted": "DELETE FROM ledger_entries {where}",
}


async def alter(app: Any, cid: int, seq: int, sql: str) -> dict[str, Any]:
    """Change (or delete) one journal row behind the service's back; the row as it was."""
    where = {"c": cid, "s": seq}
    async with app.state.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        select = "SELECT * FROM ledger_entries WHERE commissioner_id = :c AND seq = :s"
        row = dict((await conn.execute(text(select), where)).mappings().one())
        done = await conn.execute(
            text(sql.format(where="WHERE commissioner_id = :c AND seq = :s")), where
        )
        assert done.rowcount == 1
    return row


async def put_back(app: Any, row: dict[str, Any]) -> None:
    async with app.state.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("DELETE FROM ledger_entries WHERE commissioner_id = :c AND seq = :s"),
            {"c": row["commissioner_id"], "s": row["seq"]},
        )
        await conn.execute(insert(LedgerEntry.__table__).values(**row))


def line_amount(c: Charge, lots: list[Lot]) -> Decimal:
    if c.kind == "PERCENT":
        return half_up(sum((lot.price for lot in lots), ZERO) * c.rate / 100)
    if c.kind == "PER_UNIT":
        return half_up(sum((lot.quantity for lot in lots if lot.unit == c.unit), ZERO) * c.rate)
    return half_up(len(lots) * c.rate)


def expected_lines(
    charges: list[Charge], payer: str, lots: list[Lot]
) -> list[tuple[str, str, Decimal]]:
    """(name, account, amount) of each active charge of that payer, in name order."""
    return [
        (f"Charge {n}", c.account, line_amount(c, lots))
        for n, c in enumerate(charges)
        if c.active and c.payer == payer
    ]


class Floor:
    """One commissioner's day: the API calls, and what each document should hold."""

    def __init__(self, api: AuctionApi, cid: int, charges: list[Charge], rate: Decimal, payer: str):
        self.api, self.cid = api, cid
        self.charges, self.rate, self.payer = charges, rate, payer
        self.docs: list[Doc] = []
        self.sessions: list[str] = []
        self.farmers: list[str] = []
        self.buyers: list[str] = []
        self.lots: dict[tuple[str, int, int], list[Lot]] = {}

    async def setup(self, lots: list[Lot]) -> None:
        api, cid = self.api, self.cid
        body = {"commission_rate": float(self.rate), "commission_payer": self.payer}
        await api.ok("PUT", "/api/settings", cid, json=body)
        for n, c in enumerate(self.charges):
            charge: dict[str, Any] = {
                "name": f"Charge {n}",
                "kind": c.kind,
                "rate": str(c.rate),
                "payer": c.payer,
                "account": c.account,
                "active": c.active,
            }
            if c.unit is not None:
                charge["unit"] = c.unit
            await api.ok("POST", "/api/charges", cid, 201, json=charge)
        m = await api.masters(cid)
        self.farmers = [m["farmer_id"], (await self._master("farmers", "Farmer 2"))]
        self.buyers = [m["buyer_id"], (await self._master("buyers", "Buyer 2"))]
        self.sessions = [(await api.session(cid, f"{d}T10:00:00Z"))["id"] for d in DATES]
        for lot in lots:
            await api.item(
                self.sessions[lot.session],
                {**m, "farmer_id": self.farmers[lot.farmer], "buyer_id": self.buyers[lot.buyer]},
                cid,
                unit=lot.unit,
                quantity=str(lot.quantity),
                final_price=str(lot.price),
            )
            self.lots.setdefault(("bill", lot.session, lot.farmer), []).append(lot)
            self.lots.setdefault(("invoice", lot.session, lot.buyer), []).append(lot)

    async def _master(self, plural: str, name: str) -> str:
        return str(
            (await self.api.ok("POST", f"/api/{plural}", self.cid, 201, json={"name": name}))["id"]
        )

    async def make(self, kind: str, session: int, party: int) -> None:
        """Bill a farmer's (or invoice a buyer's) lots of a session; check it by hand."""
        lots = self.lots[(kind, session, party)]
        total = sum((lot.price for lot in lots), ZERO)
        commission = half_up(total * self.rate / 100)
        if kind == "bill":
            lines = expected_lines(self.charges, "FARMER", lots)
            mine = commission if self.payer == "FARMER" else ZERO
            amount = total - sum((a for _, _, a in lines), ZERO) - mine
            url = f"/api/sessions/{self.sessions[session]}/bills"
            body = {"farmer_id": self.farmers[party]}
        else:
            lines = expected_lines(self.charges, "BUYER", lots)
            mine = commission if self.payer == "BUYER" else ZERO
            amount = total + sum((a for _, _, a in lines), ZERO) + mine
            url = f"/api/sessions/{self.sessions[session]}/buyer-invoices"
            body = {"buyer_id": self.buyers[party]}
        resp = await self.api.call("POST", url, self.cid, json=body)
        if amount < 0:  # more deducted than sold: refused, nothing written
            assert resp.status_code == 409, resp.text
            assert resp.json()["error"]["details"]["reason"] == "CHARGES_EXCEED_TOTAL"
            return
        assert resp.status_code == 201, resp.text
        got = resp.json(parse_float=Decimal)["data"]
        charged = [c for c in got["charges"] if c["type"] == "CHARGE"]
        assert [(c["name"], c["account"], c["amount"]) for c in charged] == lines
        if kind == "bill":
            assert (got["total_amount"], got["net_amount"]) == (total, amount)
            assert got["commission_amount"] == commission
        else:
            assert (got["lots_amount"], got["total_amount"]) == (total, amount)
            assert got["commission_amount"] == mine
        self.docs.append(Doc(kind, got["id"], session, party, total, lines, mine, amount))

    async def step(self, what: str, index: int, percent: int, again: bool) -> None:
        kind = "bill" if what in ("pay", "void_bill") else "invoice"
        docs = [d for d in self.docs if d.kind == kind]
        if not docs:
            return
        doc = docs[index % len(docs)]
        if what in ("pay", "collect"):
            owed = doc.amount - doc.paid
            amount = owed + CENT if percent > 100 else half_up(owed * percent / 100)
            if amount <= 0:
                return
            path = "payments" if kind == "bill" else "collections"
            prefix = "/api/bills" if kind == "bill" else "/api/buyer-invoices"
            resp = await self.api.call(
                "POST",
                f"{prefix}/{doc.id}/{path}",
                self.cid,
                json={"amount": str(amount), "method": "UPI"},
            )
            ok = doc.active and amount <= owed
            assert resp.status_code == (201 if ok else 409), resp.text
            if ok:
                doc.paid += amount
                doc.events += 1
            return
        prefix = "/api/bills" if kind == "bill" else "/api/buyer-invoices"
        resp = await self.api.call("DELETE", f"{prefix}/{doc.id}", self.cid)
        ok = doc.active and doc.paid == 0
        assert resp.status_code == (200 if ok else 409), resp.text
        if ok:
            doc.active = False
            doc.events += 1
            if again:
                await self.make(kind, doc.session, doc.party)


# Arithmetic on random days, many requests each: run once, in-process; the gateway pass of
# the contract tests already covers these routes on the wire (and keeps CI under 20 minutes).
pytestmark = pytest.mark.in_process_only


@pytest.mark.timeout(600)
@property_settings(10)
@given(
    charges=st.lists(charge_st, min_size=1, max_size=5),
    lots=st.lists(lot_st, min_size=2, max_size=8),
    rate=money("0", "10"),
    payer=st.sampled_from(["FARMER", "BUYER"]),
    ops=st.lists(op_st, min_size=2, max_size=8),
    which=st.integers(0, 1000),
)
async def test_money_invariants_hold_and_the_journal_detects_any_altered_row(
    api: AuctionApi,
    auction_app: Any,
    charges: list[Charge],
    lots: list[Lot],
    rate: Decimal,
    payer: str,
    ops: list[tuple[str, int, int, bool]],
    which: int,
) -> None:
    cid = next(COMMISSIONERS)
    floor = Floor(api, cid, charges, rate, payer)
    await floor.setup(lots)
    for kind, session, party in list(floor.lots):
        await floor.make(kind, session, party)
    for op in ops:
        await floor.step(*op)

    bills = [d for d in floor.docs if d.kind == "bill" and d.active]
    invoices = [d for d in floor.docs if d.kind == "invoice" and d.active]

    def lines_sum(docs: list[Doc], account: str | None = None) -> Decimal:
        return sum((a for d in docs for _, acc, a in d.lines if account in (None, acc)), ZERO)

    # The documents as the API shows them now, against the hand figures.
    shown_bills = await api.ok("GET", "/api/bills?status=ACTIVE&limit=100", cid)
    shown_bills = [b for b in shown_bills if b["status"] == "ACTIVE"]
    shown_invoices = await api.ok("GET", "/api/buyer-invoices?status=ACTIVE&limit=100", cid)
    assert sorted(b["id"] for b in shown_bills) == sorted(d.id for d in bills)
    assert sorted(i["id"] for i in shown_invoices) == sorted(d.id for d in invoices)
    sum_net = sum((D(b["net_amount"]) for b in shown_bills), ZERO)
    sum_total = sum((D(i["total_amount"]) for i in shown_invoices), ZERO)
    # Σ invoices' total = Σ invoiced lots + Σ buyer-side lines (+ the buyer-paid commission)
    assert sum_total == (
        sum((d.lots for d in invoices), ZERO)
        + lines_sum(invoices)
        + sum((d.commission for d in invoices), ZERO)
    )
    # Σ bills' net = Σ billed lots - Σ farmer-side lines (- the farmer-paid commission)
    assert sum_net == (
        sum((d.lots for d in bills), ZERO)
        - lines_sum(bills)
        - sum((d.commission for d in bills), ZERO)
    )

    # The commission report: income = commission + the AGENT lines, both sides.
    active = bills + invoices
    commission = sum((d.commission for d in active), ZERO)
    agent = lines_sum(active, "AGENT")
    resp = await api.call("GET", f"/api/reports/commission?{RANGE}", cid)
    totals = resp.json(parse_float=Decimal)["data"]["totals"]
    assert (totals["commission"], totals["agent_charges"]) == (commission, agent)
    assert totals["income"] == commission + agent
    assert totals["lots_count"] == len(lots)
    assert totals["lots_amount"] == sum((lot.price for lot in lots), ZERO)
    # The market-fee register: its total is the MARKET_YARD lines, and so are its lots' fees.
    resp = await api.call("GET", f"/api/reports/market-fee?{RANGE}&limit=100", cid)
    register = resp.json(parse_float=Decimal)
    fee = lines_sum(active, "MARKET_YARD")
    assert register["meta"]["totals"]["market_fee"] == fee
    assert sum((r["market_fee"] for r in register["data"]), ZERO) == fee
    assert all(r["market_fee"] >= 0 for r in register["data"])

    # Each party's journal balance: its documents less what was paid or collected.
    for n, farmer_id in enumerate(floor.farmers):
        want = sum((d.amount - d.paid for d in bills if d.party == n), ZERO)
        entries = await api.ok("GET", f"/api/farmers/{farmer_id}/ledger?limit=100", cid)
        assert (D(entries[-1]["balance"]) if entries else ZERO) == want
    for n, buyer_id in enumerate(floor.buyers):
        want = sum((d.amount - d.paid for d in invoices if d.party == n), ZERO)
        entries = await api.ok("GET", f"/api/buyers/{buyer_id}/ledger?limit=100", cid)
        assert (D(entries[-1]["balance"]) if entries else ZERO) == want

    # The chain holds every event; verify finds any one row altered (each way in turn, on a
    # row the example picks), and passes again once the row is put back.
    events = sum(d.events for d in floor.docs)
    result = await api.ok("GET", "/api/ledger/verify", cid)
    assert (result["valid"], result["entries"], result["first_broken_seq"]) == (True, events, None)
    for k, how in enumerate(sorted(TAMPER)):
        seq = 1 + (which + 3 * k) % events
        row = await alter(auction_app, cid, seq, TAMPER[how])
        broken = await api.ok("GET", "/api/ledger/verify", cid)
        assert (broken["valid"], broken["first_broken_seq"]) == (False, seq), (how, broken)
        assert broken["reason"]
        await put_back(auction_app, row)
        assert (await api.ok("GET", "/api/ledger/verify", cid))["valid"] is True, how
