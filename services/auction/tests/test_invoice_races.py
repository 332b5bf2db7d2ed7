"""Buyer invoices under real concurrency (issue 11, "Concurrency"): parallel invoices of one
buyer make one; parallel collections never exceed the total; numbers stay gapless; invoicing,
billing, voids and lot edits racing each other never deadlock; zero 5xx."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

from .conftest import AuctionApi
from .test_buyer_invoices import Market

C = 1501
D = Decimal


def no_5xx(answers: list[Any]) -> None:
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers]


async def buyers(api: AuctionApi, n: int) -> list[str]:
    return [
        (await api.ok("POST", "/api/buyers", C, 201, json={"name": f"Buyer {i}"}))["id"]
        for i in range(n)
    ]


async def test_parallel_invoices_of_one_buyer_make_exactly_one(api: AuctionApi) -> None:
    """8 parallel POSTs for one buyer with 3 lots (10.00 + 20.00 + 30.50 = 60.50): one 201,
    seven 409, one invoice holding all three lots, INV-001, one journal entry."""
    market = await Market(api, C).setup()
    sid = await market.session()
    lots = [await market.lot(sid, price) for price in (10.0, 20.0, 30.5)]
    answers = await asyncio.gather(
        *(market.post_invoice(sid, {"buyer_id": market.buyer}) for _ in range(8))
    )
    no_5xx(answers)
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    winner = next(a.json()["data"] for a in answers if a.status_code == 201)
    assert (winner["invoice_number"], D(winner["total_amount"])) == ("INV-001", D("60.50"))
    listed = await api.ok("GET", "/api/buyer-invoices", C)
    assert [i["id"] for i in listed] == [winner["id"]]
    items = await api.ok("GET", f"/api/sessions/{sid}/items", C)
    assert {i["id"]: i["invoice_id"] for i in items} == {lot["id"]: winner["id"] for lot in lots}
    entries = await api.ok("GET", f"/api/buyers/{market.buyer}/ledger", C)
    assert [(e["kind"], D(e["amount"])) for e in entries] == [("INVOICE", D("60.50"))]


async def test_parallel_invoices_of_many_buyers_are_numbered_without_gap_or_repeat(
    api: AuctionApi,
) -> None:
    """10 buyers invoiced at once, twice each (20 POSTs): ten 201 numbered INV-001..INV-010,
    ten 409, one invoice per buyer."""
    market = await Market(api, C).setup()
    ids = await buyers(api, 10)
    sid = await market.session()
    for n, buyer in enumerate(ids):
        await market.lot(sid, 1 + n, buyer=buyer)
    answers = await asyncio.gather(
        *(market.post_invoice(sid, {"buyer_id": b}) for b in ids for _ in range(2))
    )
    no_5xx(answers)
    made = [a.json()["data"] for a in answers if a.status_code == 201]
    assert sorted(a.status_code for a in answers) == [201] * 10 + [409] * 10
    assert sorted(i["invoice_number"] for i in made) == [f"INV-{n:03d}" for n in range(1, 11)]
    assert sorted(i["buyer_id"] for i in made) == sorted(ids)
    verify = await api.ok("GET", "/api/ledger/verify", C)
    assert (verify["valid"], verify["entries"]) == (True, 10)


async def test_parallel_collections_never_exceed_the_total(api: AuctionApi) -> None:
    """Total 100.00; 10 parallel collections of 30.00 (300.00 asked): exactly three accepted
    (90.00), seven 409; collected 90.00, PARTIAL, balance 10.00; the buyer's ledger says
    100.00 - 90.00 = 10.00. Then 10 parallel collections of 1.00 + one of 10.00: whatever
    wins, the collected sum never passes 100.00 and the status follows it."""
    market = await Market(api, C).setup()
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    answers = await asyncio.gather(*(market.collect(inv["id"], 30) for _ in range(10)))
    no_5xx(answers)
    assert sorted(a.status_code for a in answers) == [201] * 3 + [409] * 7
    got = await market.get(inv["id"])
    assert (D(got["collected_amount"]), got["collection_status"]) == (D("90.00"), "PARTIAL")
    assert D(got["balance_amount"]) == D("10.00")
    entries = await api.ok("GET", f"/api/buyers/{market.buyer}/ledger", C)
    assert D(entries[-1]["balance"]) == D("10.00") and len(entries) == 4

    more = await asyncio.gather(*(market.collect(inv["id"], amount) for amount in [1] * 10 + [10]))
    no_5xx(more)
    accepted = sum((D(a.json()["data"]["amount"]) for a in more if a.status_code == 201), D("0"))
    got = await market.get(inv["id"])
    assert D(got["collected_amount"]) == D("90.00") + accepted <= D("100.00")
    assert got["collection_status"] == ("PAID" if accepted == 10 else "PARTIAL")
    assert sum((D(c["amount"]) for c in got["collections"]), D("0")) == D(got["collected_amount"])
    entries = await api.ok("GET", f"/api/buyers/{market.buyer}/ledger?limit=100", C)
    assert D(entries[-1]["balance"]) == D("100.00") - D(got["collected_amount"])


async def test_parallel_retries_with_one_key_make_one_invoice(api: AuctionApi) -> None:
    """5 parallel retries with one Idempotency-Key: one invoice; the others replay it or are
    409 (the first still running), never a second invoice."""
    market = await Market(api, C).setup()
    sid = await market.session()
    await market.lot(sid, 5.0)
    key = {"Idempotency-Key": "race-key"}
    answers = await asyncio.gather(
        *(market.post_invoice_with(sid, market.buyer, key) for _ in range(5))
    )
    no_5xx(answers)
    assert {a.status_code for a in answers} <= {201, 409}
    made = {a.json()["data"]["id"] for a in answers if a.status_code == 201}
    assert len(made) == 1
    assert len(await api.ok("GET", "/api/buyer-invoices", C)) == 1


async def test_bills_invoices_and_voids_racing_on_shared_lots_never_deadlock(
    api: AuctionApi,
) -> None:
    """Three farmers sell to three buyers, every pair one lot (9 lots, each on one farmer's
    bill and one buyer's invoice). All six documents made at once: all 201. Then, three
    rounds: every invoice voided while every bill is voided and the buyers re-invoiced at
    once; never a 5xx (a deadlock would be one), and in the end every lot is on exactly
    one active invoice and numbers stay gapless."""
    market = await Market(api, C).setup()
    farmers = [market.m["farmer_id"], market.m["farmer2_id"]]
    farmers.append((await api.ok("POST", "/api/farmers", C, 201, json={"name": "F3"}))["id"])
    buyer_ids = [market.buyer, market.buyer2]
    buyer_ids.append((await api.ok("POST", "/api/buyers", C, 201, json={"name": "B3"}))["id"])
    sid = await market.session()
    prices = itertools.count(1)
    for f in farmers:
        for b in buyer_ids:
            await market.lot(sid, float(next(prices)), buyer=b, farmer=f)

    def bill(f: str) -> Any:
        return api.call("POST", f"/api/sessions/{sid}/bills", C, json={"farmer_id": f})

    def invoice(b: str) -> Any:
        return market.post_invoice(sid, {"buyer_id": b})

    answers = await asyncio.gather(*(bill(f) for f in farmers), *(invoice(b) for b in buyer_ids))
    no_5xx(answers)
    assert [a.status_code for a in answers] == [201] * 6
    bills = [a.json()["data"]["id"] for a in answers[:3]]
    invoices = [a.json()["data"]["id"] for a in answers[3:]]
    for _ in range(3):
        round_ = await asyncio.gather(
            *(market.void(i) for i in invoices),
            *(api.call("DELETE", f"/api/bills/{b}", C) for b in bills),
            *(invoice(b) for b in buyer_ids),
            *(bill(f) for f in farmers),
        )
        no_5xx(round_)
        assert all(a.status_code in (200, 201, 409) for a in round_)
        # Whatever raced, every buyer's lots end up on one active invoice and every farmer's
        # on one active bill.
        for b in buyer_ids:
            again = await invoice(b)
            assert again.status_code in (201, 409)
        for f in farmers:
            assert (await bill(f)).status_code in (201, 409)
        active = await api.ok("GET", "/api/buyer-invoices?status=ACTIVE&limit=100", C)
        assert len(active) == 3
        invoices = [i["id"] for i in active]
        bills = [b["id"] for b in await api.ok("GET", "/api/bills?status=ACTIVE&limit=100", C)]
        assert len(bills) == 3
    items = await api.ok("GET", f"/api/sessions/{sid}/items?limit=100", C)
    assert {i["invoice_id"] for i in items} == set(invoices)
    assert {i["bill_id"] for i in items} == set(bills)
    everything = await api.ok("GET", "/api/buyer-invoices?limit=100", C)
    seqs = sorted(int(i["invoice_number"].removeprefix("INV-")) for i in everything)
    assert seqs == list(range(1, len(seqs) + 1))
    verify = await api.ok("GET", "/api/ledger/verify", C)
    assert verify["valid"] is True


async def test_void_racing_a_collection_one_wins(api: AuctionApi) -> None:
    """Void and a collection at once, five times: (void 200, collection 409) or (collection
    201, void 409); never both, never a 5xx."""
    market = await Market(api, C).setup()
    for _ in range(5):
        sid = await market.session()
        await market.lot(sid, 50.0)
        inv = await market.invoice(sid)
        void, collect = await asyncio.gather(market.void(inv["id"]), market.collect(inv["id"], 5))
        assert (void.status_code, collect.status_code) in ((200, 409), (409, 201)), (
            void.text,
            collect.text,
        )


async def test_lot_edit_racing_invoicing_is_consistent(api: AuctionApi) -> None:
    """A price edit (10.00 -> 99.00) racing the invoice, five times: either the edit lands
    first (invoice 99.00) or the invoice does (10.00, the edit 409); the invoice always says
    what the lot said when it was invoiced."""
    market = await Market(api, C).setup()
    for _ in range(5):
        sid = await market.session()
        lot = await market.lot(sid, 10.0)
        url = f"/api/sessions/{sid}/items/{lot['id']}"
        edit, made = await asyncio.gather(
            api.call("PUT", url, C, json={"final_price": 99}),
            market.post_invoice(sid, {"buyer_id": market.buyer}),
        )
        assert made.status_code == 201, made.text
        total = D(made.json()["data"]["total_amount"])
        if edit.status_code == 200:
            assert total == D("99.00")
        else:
            assert edit.status_code == 409 and total == D("10.00"), edit.text
