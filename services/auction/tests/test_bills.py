"""Bills and payments (SPEC section 4 "Bills", section 8 Auction; auction issue item 6).

Lots are seeded straight into part A's tables by the `floor` fixture: fast enough for 997
lots, and independent of the masters/items API, which part A tests.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select, update

from auction_service.bills import repository as bills_repo
from auction_service.bills.models import Bill, BillItem, CommissionerSettings, Payment
from auction_service.items.models import AuctionItem
from auction_service.masters.models import Buyer, Category, Farmer, Product
from auction_service.sessions.models import AuctionSession
from devstack.testing import TokenFactory

C1, C2 = 101, 202
CENT = Decimal("0.01")


def expected_commission(total: Decimal, rate: Decimal) -> Decimal:
    """Independent of the service: exact decimal, half up to cents."""
    return (total * rate / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)


def data(resp: httpx.Response) -> Any:
    """The envelope's data, with JSON numbers read as exact decimals."""
    body = resp.json(parse_float=Decimal)
    assert body["success"] is True, resp.text
    assert body["meta"]["timestamp"].endswith("Z")
    return body["data"]


def error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["meta"]["timestamp"].endswith("Z")
    err: dict[str, Any] = body["error"]
    return err


class Floor:
    """Masters, sessions and lots of a commissioner, written straight to the database."""

    def __init__(self, app: FastAPI) -> None:
        self.maker = app.state.db.sessionmaker
        self._masters: dict[int, tuple[uuid.UUID, uuid.UUID]] = {}
        self._days = itertools.count()

    async def _product_and_buyer(self, cid: int) -> tuple[uuid.UUID, uuid.UUID]:
        if cid not in self._masters:
            async with self.maker.begin() as db:
                category = Category(commissioner_id=cid, name="Vegetables")
                db.add(category)
                await db.flush()
                product = Product(commissioner_id=cid, name="Tomatoes", category_id=category.id)
                buyer = Buyer(commissioner_id=cid, name="Jane Buyer", phone="+0987654321")
                db.add_all([product, buyer])
                await db.flush()
                self._masters[cid] = (product.id, buyer.id)
        return self._masters[cid]

    async def farmer(self, cid: int, name: str = "John Farmer") -> str:
        async with self.maker.begin() as db:
            farmer = Farmer(commissioner_id=cid, name=name, phone="+1234567890", village="Vlg")
            db.add(farmer)
            await db.flush()
            return str(farmer.id)

    async def session(self, cid: int) -> str:
        # A new UTC day each time: one ACTIVE session per date is part A's rule.
        day = datetime(2025, 8, 3, 10, tzinfo=UTC) + timedelta(days=next(self._days))
        async with self.maker.begin() as db:
            session = AuctionSession(commissioner_id=cid, date=day, status="ACTIVE")
            db.add(session)
            await db.flush()
            return str(session.id)

    async def lots(
        self,
        cid: int,
        session_id: str,
        farmer_id: str,
        prices: Sequence[Decimal | str],
        *,
        quantity: str = "10.500",
        unit: str = "KG",
    ) -> list[str]:
        product_id, buyer_id = await self._product_and_buyer(cid)
        rows = [
            {
                "id": uuid.uuid4(),
                "session_id": uuid.UUID(session_id),
                "commissioner_id": cid,
                "farmer_id": uuid.UUID(farmer_id),
                "product_id": product_id,
                "buyer_id": buyer_id,
                "unit": unit,
                "quantity": Decimal(quantity),
                "final_price": Decimal(price),
            }
            for price in prices
        ]
        async with self.maker.begin() as db:
            await db.execute(insert(AuctionItem), rows)
        return [str(r["id"]) for r in rows]

    async def bill_ids_of(self, item_ids: Sequence[str]) -> dict[str, str | None]:
        async with self.maker() as db:
            stmt = select(AuctionItem.id, AuctionItem.bill_id).where(
                AuctionItem.id.in_([uuid.UUID(i) for i in item_ids])
            )
            rows = (await db.execute(stmt)).all()
        return {str(i): (str(b) if b else None) for i, b in rows}

    async def count(self, model: type[Any]) -> int:
        async with self.maker() as db:
            return int((await db.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
def floor(auction_app: FastAPI) -> Floor:
    return Floor(auction_app)


@pytest.fixture
def hdr(tokens: TokenFactory) -> Any:
    def make(cid: int, roles: Sequence[str] = ("commissioner",)) -> dict[str, str]:
        return tokens.headers(cid, list(roles))

    return make


async def bill(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    session_id: str,
    farmer_id: str,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/sessions/{session_id}/bills",
        json={"farmer_id": farmer_id, **extra},
        headers=headers,
    )


# --- generation ---------------------------------------------------------------------------


async def test_bill_generation_bills_every_unbilled_item_of_the_farmer(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: bills every unbilled item of that farmer in that session; total = sum of
    final_price; commission at the default 5 %; net = total - commission; UNPAID; bill_items
    copy product, unit, quantity, amount; billed items get bill_id."""
    sid = await floor.session(C1)
    fid = await floor.farmer(C1)
    other = await floor.farmer(C1, "Other Farmer")
    lots = await floor.lots(C1, sid, fid, ["2525.00", "100.10", "0.99"])
    other_lots = await floor.lots(C1, sid, other, ["50.00"])

    resp = await bill(client, hdr(C1), sid, fid)
    assert resp.status_code == 201, resp.text
    b = data(resp)
    total = Decimal("2525.00") + Decimal("100.10") + Decimal("0.99")
    commission = expected_commission(total, Decimal(5))
    assert b["bill_number"] == "BILL-001"
    assert b["session_id"] == sid
    assert b["farmer_id"] == fid
    assert b["commissioner_id"] == str(C1)
    assert b["farmer"]["id"] == fid and b["farmer"]["name"] == "John Farmer"
    assert Decimal(b["total_amount"]) == total
    assert Decimal(b["commission_rate"]) == 5
    assert Decimal(b["commission_amount"]) == commission
    assert Decimal(b["net_amount"]) == total - commission
    assert Decimal(b["paid_amount"]) == 0
    assert b["payment_status"] == "UNPAID"
    assert b["status"] == "ACTIVE"
    assert b["payments"] == []
    assert b["created_at"].endswith("Z")
    assert sorted(i["auction_item_id"] for i in b["bill_items"]) == sorted(lots)
    for line in b["bill_items"]:
        assert line["product_name"] == "Tomatoes"
        assert line["product"] == {"id": line["product_id"], "name": "Tomatoes"}
        assert line["unit"] == "KG"
        assert Decimal(line["quantity"]) == Decimal("10.5")
    assert sorted(Decimal(i["amount"]) for i in b["bill_items"]) == sorted(
        Decimal(p) for p in ["2525.00", "100.10", "0.99"]
    )
    assert set((await floor.bill_ids_of(lots)).values()) == {b["id"]}
    assert set((await floor.bill_ids_of(other_lots)).values()) == {None}


async def test_money_is_json_numbers(client: httpx.AsyncClient, floor: Floor, hdr: Any) -> None:
    """SPEC section 8: money is a JSON number, as the seed shows it (500.0, not "500.00")."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["500.00"])
    b = (await bill(client, hdr(C1), sid, fid)).json()["data"]
    assert b["total_amount"] == 500.0 and isinstance(b["total_amount"], float)
    assert b["commission_amount"] == 25.0 and b["net_amount"] == 475.0


async def test_no_unbilled_items_is_409(client: httpx.AsyncClient, floor: Floor, hdr: Any) -> None:
    """SPEC: 409 if the farmer has no unbilled item in the session (none, or all billed)."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    error(await bill(client, hdr(C1), sid, fid), 409, "CONFLICT")
    await floor.lots(C1, sid, fid, ["10.00"])
    assert (await bill(client, hdr(C1), sid, fid)).status_code == 201
    err = error(await bill(client, hdr(C1), sid, fid), 409, "CONFLICT")
    assert "unbilled" in err["message"]


async def test_lots_added_after_a_bill_go_on_the_next_bill(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Items already billed are never billed again; later lots make the next bill."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["10.00", "20.00"])
    first = data(await bill(client, hdr(C1), sid, fid))
    late = await floor.lots(C1, sid, fid, ["7.00"])
    second = data(await bill(client, hdr(C1), sid, fid))
    assert (first["bill_number"], second["bill_number"]) == ("BILL-001", "BILL-002")
    assert [i["auction_item_id"] for i in second["bill_items"]] == late
    assert Decimal(second["total_amount"]) == Decimal("7.00")


async def test_bill_numbers_are_per_commissioner(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: BILL-001, BILL-002, ... per commissioner."""
    s1, f1a, f1b = await floor.session(C1), await floor.farmer(C1), await floor.farmer(C1)
    s2, f2 = await floor.session(C2), await floor.farmer(C2)
    for sid, fid, cid in ((s1, f1a, C1), (s1, f1b, C1), (s2, f2, C2)):
        await floor.lots(cid, sid, fid, ["1.00"])
    assert data(await bill(client, hdr(C1), s1, f1a))["bill_number"] == "BILL-001"
    assert data(await bill(client, hdr(C2), s2, f2))["bill_number"] == "BILL-001"
    assert data(await bill(client, hdr(C1), s1, f1b))["bill_number"] == "BILL-002"


async def test_ten_parallel_generations_number_bills_1_to_10_without_gap_or_repeat(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Issue item 6: 10 parallel generations across farmers -> exactly BILL-001..BILL-010."""
    sid = await floor.session(C1)
    farmers = [await floor.farmer(C1, f"Farmer {n}") for n in range(10)]
    for fid in farmers:
        await floor.lots(C1, sid, fid, ["12.34", "0.01"])
    responses = await asyncio.gather(*(bill(client, hdr(C1), sid, f) for f in farmers))
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    numbers = sorted(data(r)["bill_number"] for r in responses)
    assert numbers == [f"BILL-{n:03d}" for n in range(1, 11)]
    assert sorted({data(r)["farmer_id"] for r in responses}) == sorted(farmers)


async def test_two_concurrent_generations_for_one_farmer_bill_each_lot_once(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Issue item 6: two concurrent generations for one farmer -> one 201, one 409, no lot
    billed twice and no bill number burnt (five farmers raced at once)."""
    sid = await floor.session(C1)
    farmers = [await floor.farmer(C1, f"F{n}") for n in range(5)]
    lots = {f: await floor.lots(C1, sid, f, ["5.00", "6.00", "7.00"]) for f in farmers}
    responses = await asyncio.gather(
        *(bill(client, hdr(C1), sid, f) for f in farmers for _ in range(2))
    )
    for n, fid in enumerate(farmers):
        pair = sorted(r.status_code for r in responses[2 * n : 2 * n + 2])
        assert pair == [201, 409], [r.text for r in responses[2 * n : 2 * n + 2]]
        winner = next(data(r) for r in responses[2 * n : 2 * n + 2] if r.status_code == 201)
        assert set((await floor.bill_ids_of(lots[fid])).values()) == {winner["id"]}
    assert await floor.count(Bill) == 5
    assert await floor.count(BillItem) == 15
    numbers = sorted(data(r)["bill_number"] for r in responses if r.status_code == 201)
    assert numbers == [f"BILL-{n:03d}" for n in range(1, 6)]


async def test_rolled_back_bill_never_burns_a_number(auction_app: FastAPI) -> None:
    """SPEC: gapless: the number is taken in the bill's own transaction, so a rollback
    hands it back."""
    maker = auction_app.state.db.sessionmaker
    async with maker() as db:
        seq, rate = await bills_repo.next_bill_seq(db, C1)
        assert (seq, rate) == (1, Decimal("5.00"))
        await db.rollback()
    async with maker.begin() as db:
        assert (await bills_repo.next_bill_seq(db, C1))[0] == 1
    async with maker.begin() as db:
        assert (await bills_repo.next_bill_seq(db, C1))[0] == 2


async def test_bill_number_grows_past_999(
    client: httpx.AsyncClient, floor: Floor, hdr: Any, auction_app: FastAPI
) -> None:
    """'BILL-' || lpad(seq, 3, '0') growing past 999 naturally: BILL-1000, not BILL-100."""
    async with auction_app.state.db.sessionmaker.begin() as db:
        db.add(CommissionerSettings(commissioner_id=C1, last_bill_seq=999))
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["1.00"])
    assert data(await bill(client, hdr(C1), sid, fid))["bill_number"] == "BILL-1000"


async def test_sold_lots_are_billable_after_the_session_completes_or_farmer_deactivates(
    client: httpx.AsyncClient, floor: Floor, hdr: Any, auction_app: FastAPI
) -> None:
    """Decision: billing settles lots already sold, so a COMPLETED session and a farmer
    deactivated since (SPEC: deactivate instead of delete) are still billed."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["42.00"])
    async with auction_app.state.db.sessionmaker.begin() as db:
        await db.execute(update(AuctionSession).values(status="COMPLETED"))
        await db.execute(update(Farmer).values(active=False))
    resp = await bill(client, hdr(C1), sid, fid)
    assert resp.status_code == 201, resp.text
    assert Decimal(data(resp)["total_amount"]) == Decimal("42.00")


async def test_generation_session_and_farmer_checks(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Session must exist and be the caller's (404); a missing farmer is 400
    VALIDATION_ERROR with details, like items; a malformed farmer_id is 400."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["1.00"])
    other_sid, other_fid = await floor.session(C2), await floor.farmer(C2)

    err = error(await bill(client, hdr(C1), str(uuid.uuid4()), fid), 404, "NOT_FOUND")
    assert err["message"] == "Session not found"
    error(await bill(client, hdr(C1), "not-a-uuid", fid), 404, "NOT_FOUND")
    error(await bill(client, hdr(C1), other_sid, fid), 404, "NOT_FOUND")

    for bad in (str(uuid.uuid4()), other_fid):
        err = error(await bill(client, hdr(C1), sid, bad), 400, "VALIDATION_ERROR")
        assert err["details"][0]["loc"] == ["body", "farmer_id"]
    error(await bill(client, hdr(C1), sid, "nope"), 400, "VALIDATION_ERROR")
    resp = await client.post(f"/api/sessions/{sid}/bills", json={}, headers=hdr(C1))
    error(resp, 400, "VALIDATION_ERROR")
    resp = await client.post(f"/api/sessions/{sid}/bills", content=b"{not json", headers=hdr(C1))
    error(resp, 400, "VALIDATION_ERROR")
    assert await floor.count(Bill) == 0


async def test_bills_need_a_commissioner(client: httpx.AsyncClient, floor: Floor, hdr: Any) -> None:
    """Auction needs the commissioner role: 401 without a token, 403 for a trader."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["1.00"])
    anon = await client.post(f"/api/sessions/{sid}/bills", json={"farmer_id": fid})
    error(anon, 401, "UNAUTHORIZED")
    error(await bill(client, hdr(C1, ["trader"]), sid, fid), 403, "FORBIDDEN")
    for path in ("/api/bills", "/api/settings"):
        error(await client.get(path), 401, "UNAUTHORIZED")
        error(await client.get(path, headers=hdr(C1, ["trader"])), 403, "FORBIDDEN")


# --- commission rate ------------------------------------------------------------------------


async def test_bill_uses_the_commissioners_setting_and_body_overrides_it(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: commission = total x rate (the commissioner's setting); commission_rate in the
    body overrides the setting for this bill only; a later change leaves old bills alone."""
    sid = await floor.session(C1)
    f1, f2, f3 = [await floor.farmer(C1) for _ in range(3)]
    for fid in (f1, f2, f3):
        await floor.lots(C1, sid, fid, ["1000.00"])
    put = await client.put("/api/settings", json={"commission_rate": 7.5}, headers=hdr(C1))
    assert put.status_code == 200, put.text
    b1 = data(await bill(client, hdr(C1), sid, f1))
    assert Decimal(b1["commission_rate"]) == Decimal("7.5")
    assert Decimal(b1["commission_amount"]) == Decimal("75.00")
    b2 = data(await bill(client, hdr(C1), sid, f2, commission_rate=0))
    assert Decimal(b2["commission_amount"]) == 0 and Decimal(b2["net_amount"]) == 1000
    await client.put("/api/settings", json={"commission_rate": 10}, headers=hdr(C1))
    b3 = data(await bill(client, hdr(C1), sid, f3))
    assert Decimal(b3["commission_amount"]) == Decimal("100.00")
    again = data(await client.get(f"/api/bills/{b1['id']}", headers=hdr(C1)))
    assert Decimal(again["commission_amount"]) == Decimal("75.00")
    assert (
        Decimal(data(await client.get("/api/settings", headers=hdr(C1)))["commission_rate"]) == 10
    )


@pytest.mark.parametrize("rate", [-1, 100.01, 5.555, "abc", True, 1e20])
async def test_bill_commission_rate_override_must_be_0_to_100_with_2_decimals(
    client: httpx.AsyncClient, floor: Floor, hdr: Any, rate: Any
) -> None:
    """commission_rate in the body: 0..100, at most 2 decimals, else 400 (never rounded)."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["1.00"])
    error(await bill(client, hdr(C1), sid, fid, commission_rate=rate), 400, "VALIDATION_ERROR")
    assert await floor.count(Bill) == 0


# --- reading --------------------------------------------------------------------------------


async def test_list_bills_filters_and_pagination(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """GET /api/bills?session_id&farmer_id&payment_status&page&limit: enveloped list with
    page, limit, total, totalPages; newest number first."""
    s1, s2 = await floor.session(C1), await floor.session(C1)
    fa, fb = await floor.farmer(C1, "A"), await floor.farmer(C1, "B")
    made = []
    for sid, fid in ((s1, fa), (s1, fb), (s2, fa)):
        await floor.lots(C1, sid, fid, ["100.00"])
        made.append(data(await bill(client, hdr(C1), sid, fid)))
    pay = await client.post(
        f"/api/bills/{made[0]['id']}/payments",
        json={"amount": 10, "method": "CASH"},
        headers=hdr(C1),
    )
    assert pay.status_code == 201, pay.text

    resp = await client.get("/api/bills", params={"limit": 2}, headers=hdr(C1))
    body = resp.json()
    assert body["meta"]["total"] == 3 and body["meta"]["totalPages"] == 2
    assert (body["meta"]["page"], body["meta"]["limit"]) == (1, 2)
    assert [b["bill_number"] for b in body["data"]] == ["BILL-003", "BILL-002"]
    page2 = (await client.get("/api/bills?limit=2&page=2", headers=hdr(C1))).json()
    assert [b["bill_number"] for b in page2["data"]] == ["BILL-001"]

    async def numbers(**params: str) -> list[str]:
        resp = await client.get("/api/bills", params=params, headers=hdr(C1))
        assert resp.status_code == 200, resp.text
        return [b["bill_number"] for b in resp.json()["data"]]

    assert await numbers(session_id=s1) == ["BILL-002", "BILL-001"]
    assert await numbers(farmer_id=fa) == ["BILL-003", "BILL-001"]
    assert await numbers(session_id=s1, farmer_id=fa) == ["BILL-001"]
    assert await numbers(payment_status="PARTIAL") == ["BILL-001"]
    assert await numbers(payment_status="UNPAID") == ["BILL-003", "BILL-002"]
    assert await numbers(status="VOID") == []

    for bad in ({"payment_status": "SOME"}, {"session_id": "x"}, {"limit": "101"}, {"page": 0}):
        error(await client.get("/api/bills", params=bad, headers=hdr(C1)), 400, "VALIDATION_ERROR")


async def test_get_bill_has_farmer_items_payments_and_session(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """GET /api/bills/{id}: with farmer, bill_items, payments and the session id; a
    malformed or unknown id is 404."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["80.00", "20.00"], quantity="2.250", unit="QUINTAL")
    made = data(await bill(client, hdr(C1), sid, fid))
    await client.post(
        f"/api/bills/{made['id']}/payments",
        json={"amount": 15.5, "method": "UPI", "note": "first"},
        headers=hdr(C1),
    )
    got = data(await client.get(f"/api/bills/{made['id']}", headers=hdr(C1)))
    assert got["session_id"] == sid and got["farmer"]["village"] == "Vlg"
    assert {i["unit"] for i in got["bill_items"]} == {"QUINTAL"}
    assert {Decimal(i["quantity"]) for i in got["bill_items"]} == {Decimal("2.25")}
    assert [(Decimal(p["amount"]), p["method"], p["note"]) for p in got["payments"]] == [
        (Decimal("15.5"), "UPI", "first")
    ]
    listed = data(await client.get(f"/api/bills/{made['id']}/payments", headers=hdr(C1)))
    assert [p["id"] for p in listed] == [p["id"] for p in got["payments"]]
    error(await client.get(f"/api/bills/{uuid.uuid4()}", headers=hdr(C1)), 404, "NOT_FOUND")
    error(await client.get("/api/bills/123", headers=hdr(C1)), 404, "NOT_FOUND")


async def test_another_commissioners_bills_are_404(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: another commissioner's record of any kind is 404: get, list, pay, payments,
    void; nothing changes."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    lots = await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    bid = made["id"]
    error(await client.get(f"/api/bills/{bid}", headers=hdr(C2)), 404, "NOT_FOUND")
    error(await client.get(f"/api/bills/{bid}/payments", headers=hdr(C2)), 404, "NOT_FOUND")
    pay = await client.post(
        f"/api/bills/{bid}/payments", json={"amount": 1, "method": "CASH"}, headers=hdr(C2)
    )
    error(pay, 404, "NOT_FOUND")
    error(await client.delete(f"/api/bills/{bid}", headers=hdr(C2)), 404, "NOT_FOUND")
    listed = (await client.get("/api/bills", headers=hdr(C2))).json()
    assert listed["data"] == [] and listed["meta"]["total"] == 0
    assert (await client.get(f"/api/bills?session_id={sid}", headers=hdr(C2))).json()["data"] == []
    assert await floor.count(Payment) == 0
    assert set((await floor.bill_ids_of(lots)).values()) == {bid}


# --- void -----------------------------------------------------------------------------------


async def test_void_releases_items_and_keeps_the_number(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: DELETE voids the bill: it keeps its number with status VOID (the series stays
    gapless), its items become unbilled and can be billed again under the next number."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    lots = await floor.lots(C1, sid, fid, ["10.00", "20.00"])
    first = data(await bill(client, hdr(C1), sid, fid))
    resp = await client.delete(f"/api/bills/{first['id']}", headers=hdr(C1))
    assert resp.status_code == 200, resp.text
    assert data(resp) == {"message": "Bill voided successfully"}
    assert set((await floor.bill_ids_of(lots)).values()) == {None}
    voided = data(await client.get(f"/api/bills/{first['id']}", headers=hdr(C1)))
    assert (voided["bill_number"], voided["status"]) == ("BILL-001", "VOID")
    assert len(voided["bill_items"]) == 2
    again = data(await bill(client, hdr(C1), sid, fid))
    assert again["bill_number"] == "BILL-002"
    assert sorted(i["auction_item_id"] for i in again["bill_items"]) == sorted(lots)
    listed = (await client.get("/api/bills?status=VOID", headers=hdr(C1))).json()["data"]
    assert [b["bill_number"] for b in listed] == ["BILL-001"]
    error(await client.delete(f"/api/bills/{first['id']}", headers=hdr(C1)), 409, "CONFLICT")


async def test_bill_with_payments_cannot_be_voided(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: DELETE only with no payments (409 otherwise); the items stay billed."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    lots = await floor.lots(C1, sid, fid, ["10.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    await client.post(
        f"/api/bills/{made['id']}/payments", json={"amount": 1, "method": "CASH"}, headers=hdr(C1)
    )
    error(await client.delete(f"/api/bills/{made['id']}", headers=hdr(C1)), 409, "CONFLICT")
    assert set((await floor.bill_ids_of(lots)).values()) == {made["id"]}
    assert data(await client.get(f"/api/bills/{made['id']}", headers=hdr(C1)))["status"] == "ACTIVE"


# --- payments -------------------------------------------------------------------------------


async def pay(
    client: httpx.AsyncClient, headers: dict[str, str], bill_id: str, amount: Any, **extra: Any
) -> httpx.Response:
    body = {"amount": amount, "method": "CASH", **extra}
    return await client.post(f"/api/bills/{bill_id}/payments", json=body, headers=headers)


async def test_payment_status_follows_the_paid_sum(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC: status follows the paid sum: 0 UNPAID, < net PARTIAL, == net PAID; 201 payment
    with the updated bill."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    assert Decimal(made["net_amount"]) == Decimal("95.00")
    first = await pay(client, hdr(C1), made["id"], 40.25, method="BANK", note="advance")
    assert first.status_code == 201, first.text
    p = data(first)
    assert (Decimal(p["amount"]), p["method"], p["note"]) == (Decimal("40.25"), "BANK", "advance")
    assert p["bill_id"] == made["id"] and p["created_at"].endswith("Z")
    assert p["bill"]["payment_status"] == "PARTIAL"
    assert Decimal(p["bill"]["paid_amount"]) == Decimal("40.25")
    assert Decimal(p["bill"]["balance_amount"]) == Decimal("54.75")
    last = data(await pay(client, hdr(C1), made["id"], 54.75, method="CHEQUE"))
    assert last["bill"]["payment_status"] == "PAID"
    assert Decimal(last["bill"]["balance_amount"]) == 0
    got = data(await client.get(f"/api/bills/{made['id']}", headers=hdr(C1)))
    assert got["payment_status"] == "PAID" and Decimal(got["paid_amount"]) == Decimal("95.00")
    assert [p["method"] for p in got["payments"]] == ["BANK", "CHEQUE"]


async def test_overpayment_is_409(client: httpx.AsyncClient, floor: Floor, hdr: Any) -> None:
    """SPEC: the paid sum may not exceed net_amount: 409 CONFLICT "overpayment"."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    err = error(await pay(client, hdr(C1), made["id"], 95.01), 409, "CONFLICT")
    assert "overpayment" in err["message"]
    assert (await pay(client, hdr(C1), made["id"], 90)).status_code == 201
    error(await pay(client, hdr(C1), made["id"], 5.01), 409, "CONFLICT")
    got = data(await client.get(f"/api/bills/{made['id']}", headers=hdr(C1)))
    assert Decimal(got["paid_amount"]) == 90 and got["payment_status"] == "PARTIAL"
    assert await floor.count(Payment) == 1


async def test_void_bill_cannot_be_paid(client: httpx.AsyncClient, floor: Floor, hdr: Any) -> None:
    """VOID bills can't be paid (409)."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    assert (await client.delete(f"/api/bills/{made['id']}", headers=hdr(C1))).status_code == 200
    error(await pay(client, hdr(C1), made["id"], 1), 409, "CONFLICT")
    assert await floor.count(Payment) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "method": "CASH"},
        {"amount": -5, "method": "CASH"},
        {"amount": 10.005, "method": "CASH"},
        {"amount": "abc", "method": "CASH"},
        {"amount": 1e15, "method": "CASH"},
        {"amount": 10, "method": "GOLD"},
        {"amount": 10},
        {"method": "CASH"},
        {"amount": 10, "method": "CASH", "note": "x" * 1001},
        {"amount": 10, "method": "CASH", "note": "nul \u0000 inside"},
    ],
)
async def test_payment_validation_is_400(
    client: httpx.AsyncClient, floor: Floor, hdr: Any, body: dict[str, Any]
) -> None:
    """A payment is positive with at most 2 decimals and a known method, else 400 (money
    is never silently rounded)."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    resp = await client.post(f"/api/bills/{made['id']}/payments", json=body, headers=hdr(C1))
    error(resp, 400, "VALIDATION_ERROR")
    assert await floor.count(Payment) == 0


async def test_concurrent_payments_never_overpay(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """The bill row is locked: 8 concurrent payments of 30 on a net of 95 -> 3 succeed."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    responses = await asyncio.gather(*(pay(client, hdr(C1), made["id"], 30) for _ in range(8)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] * 3 + [409] * 5, [r.text for r in responses]
    got = data(await client.get(f"/api/bills/{made['id']}", headers=hdr(C1)))
    assert Decimal(got["paid_amount"]) == 90 and len(got["payments"]) == 3


async def test_zero_net_bill_is_settled(client: httpx.AsyncClient, floor: Floor, hdr: Any) -> None:
    """A bill with nothing to pay out (net 0) is PAID from the start; any payment would
    overpay it (409)."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["0.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    assert Decimal(made["net_amount"]) == 0 and made["payment_status"] == "PAID"
    error(await pay(client, hdr(C1), made["id"], 0.01), 409, "CONFLICT")


# --- idempotency ----------------------------------------------------------------------------


async def test_idempotent_bill_creation_one_key_one_bill(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """SPEC section 6: a retry with the same Idempotency-Key and body returns the first
    response and bills nothing twice; a different body with the key is 422."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    lots = await floor.lots(C1, sid, fid, ["10.00"])
    headers = {**hdr(C1), "Idempotency-Key": "bill-1"}
    first = await bill(client, headers, sid, fid)
    await floor.lots(C1, sid, fid, ["99.00"])  # a retry must not pick this lot up
    retry = await bill(client, headers, sid, fid)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert data(retry)["id"] == data(first)["id"]
    assert data(retry)["bill_number"] == "BILL-001"
    assert await floor.count(Bill) == 1
    assert set((await floor.bill_ids_of(lots)).values()) == {data(first)["id"]}
    err = error(
        await bill(client, headers, sid, fid, commission_rate=1), 422, "IDEMPOTENCY_KEY_REUSED"
    )
    assert err["message"]
    # Another commissioner's identical key is a different key.
    other = await bill(client, {**hdr(C2), "Idempotency-Key": "bill-1"}, sid, fid)
    error(other, 404, "NOT_FOUND")


async def test_concurrent_retries_with_one_key_make_one_bill(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """A flaky network on an auction floor must never bill a lot twice: concurrent retries
    with one key make exactly one bill (the others replay it or get 409 in progress)."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["10.00"])
    headers = {**hdr(C1), "Idempotency-Key": "flaky"}
    responses = await asyncio.gather(*(bill(client, headers, sid, fid) for _ in range(5)))
    ok = [r for r in responses if r.status_code == 201]
    assert ok and {data(r)["id"] for r in ok} == {data(ok[0])["id"]}
    for r in responses:
        if r.status_code != 201:
            assert r.json()["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS", r.text
    assert await floor.count(Bill) == 1


async def test_idempotent_payment_one_key_one_payment(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Idempotency-Key on payment creation: a retry records nothing new."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["100.00"])
    made = data(await bill(client, hdr(C1), sid, fid))
    headers = {**hdr(C1), "Idempotency-Key": "pay-1"}
    first = await pay(client, headers, made["id"], 50)
    retry = await pay(client, headers, made["id"], 50)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert data(first)["id"] == data(retry)["id"]
    assert await floor.count(Payment) == 1
    got = data(await client.get(f"/api/bills/{made['id']}", headers=hdr(C1)))
    assert Decimal(got["paid_amount"]) == 50


# --- money ----------------------------------------------------------------------------------


async def test_money_half_up_rounding_of_0_005(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Exact decimal money, half up to 2 places: 100.10 at 5 % = 5.005 -> 5.01 (a float or
    banker's rounding would give 5.00); 0.10 at 5 % = 0.005 -> 0.01."""
    sid = await floor.session(C1)
    cases = [("100.10", None, "5.01"), ("0.10", None, "0.01"), ("0.20", 2.5, "0.01")]
    for price, rate, commission in cases:
        fid = await floor.farmer(C1)
        await floor.lots(C1, sid, fid, [price])
        extra = {} if rate is None else {"commission_rate": rate}
        b = data(await bill(client, hdr(C1), sid, fid, **extra))
        total = Decimal(price)
        expected = expected_commission(total, Decimal(str(rate)) if rate else Decimal(5))
        assert expected == Decimal(commission)
        assert Decimal(b["commission_amount"]) == expected
        assert Decimal(b["net_amount"]) == total - expected


async def test_money_many_small_lots(
    client: httpx.AsyncClient, floor: Floor, hdr: Any, auction_app: FastAPI
) -> None:
    """997 lots of 0.01..0.99 at an awkward 3.33 % agree with Python's decimal."""
    sid, fid = await floor.session(C1), await floor.farmer(C1)
    prices = [Decimal(1 + n % 99) / 100 for n in range(997)]
    await floor.lots(C1, sid, fid, prices)
    resp = await bill(client, hdr(C1), sid, fid, commission_rate=3.33)
    b = data(resp)
    total = sum(prices, Decimal(0))
    commission = expected_commission(total, Decimal("3.33"))
    assert Decimal(b["total_amount"]) == total
    assert Decimal(b["commission_amount"]) == commission
    assert Decimal(b["net_amount"]) == total - commission
    assert len(b["bill_items"]) == 997
    assert sum((Decimal(i["amount"]) for i in b["bill_items"]), Decimal(0)) == total
    async with auction_app.state.db.sessionmaker() as db:
        stored = (await db.execute(select(Bill.total_amount, Bill.net_amount))).one()
    assert tuple(stored) == (total, total - commission)


async def test_money_large_totals(
    client: httpx.AsyncClient, floor: Floor, hdr: Any, auction_app: FastAPI
) -> None:
    """Large totals stay exact: 9,999,999,999.99 at 5 %, and lots summing to the
    NUMERIC(14,2) cap 999,999,999,999.99 at 33.33 %; a total past the cap is 409, not 500."""
    sid = await floor.session(C1)
    cases: list[tuple[list[str], Decimal]] = [
        (["9999999999.99"], Decimal(5)),
        (["499999999999.99", "500000000000.00"], Decimal("33.33")),
        (["123456789.01", "987654321.09", "0.07"], Decimal("12.34")),
    ]
    for prices, rate in cases:
        fid = await floor.farmer(C1)
        await floor.lots(C1, sid, fid, prices)
        b = data(await bill(client, hdr(C1), sid, fid, commission_rate=float(rate)))
        total = sum((Decimal(p) for p in prices), Decimal(0))
        commission = expected_commission(total, rate)
        assert Decimal(b["total_amount"]) == total
        assert Decimal(b["commission_amount"]) == commission
        assert Decimal(b["net_amount"]) == total - commission
        async with auction_app.state.db.sessionmaker() as db:
            stored = (
                await db.execute(
                    select(Bill.commission_amount, Bill.net_amount).where(Bill.id == b["id"])
                )
            ).one()
        assert tuple(stored) == (commission, total - commission)
        pay_all = await pay(client, hdr(C1), b["id"], float(total - commission))
        assert data(pay_all)["bill"]["payment_status"] == "PAID"

    fid = await floor.farmer(C1)
    await floor.lots(C1, sid, fid, ["999999999999.99", "0.01"])
    error(await bill(client, hdr(C1), sid, fid), 409, "CONFLICT")


async def test_money_random_awkward_lots_agree_with_decimal(
    client: httpx.AsyncClient, floor: Floor, hdr: Any
) -> None:
    """Seeded random lots and rates with 2 decimals: every bill agrees with Python's decimal."""
    rng = random.Random(20250803)
    sid = await floor.session(C1)
    for _ in range(6):
        fid = await floor.farmer(C1)
        prices = [Decimal(rng.randint(0, 10_000_000)) / 100 for _ in range(rng.randint(1, 40))]
        rate = Decimal(rng.randint(0, 10_000)) / 100
        await floor.lots(C1, sid, fid, prices)
        b = data(await bill(client, hdr(C1), sid, fid, commission_rate=float(rate)))
        total = sum(prices, Decimal(0))
        commission = expected_commission(total, rate)
        assert (Decimal(b["total_amount"]), Decimal(b["commission_amount"])) == (total, commission)
        assert Decimal(b["net_amount"]) == total - commission


async def test_bills_table_enforces_money_invariants(auction_app: FastAPI, floor: Floor) -> None:
    """The database itself refuses paid > net (belt and braces behind the row lock)."""
    from sqlalchemy.exc import IntegrityError

    sid, fid = await floor.session(C1), await floor.farmer(C1)
    async with auction_app.state.db.sessionmaker.begin() as db:
        db.add(
            Bill(
                commissioner_id=C1,
                session_id=uuid.UUID(sid),
                farmer_id=uuid.UUID(fid),
                seq=1,
                total_amount=Decimal(10),
                commission_rate=Decimal(5),
                commission_amount=Decimal("0.50"),
                net_amount=Decimal("9.50"),
            )
        )
    with pytest.raises(IntegrityError):
        async with auction_app.state.db.sessionmaker.begin() as db:
            await db.execute(update(Bill).values(paid_amount=Decimal("9.51")))
