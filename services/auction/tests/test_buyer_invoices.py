"""Buyer invoices and collections (issue 11 item 2), the buyer's ledger and buyers in the
outstanding report (item 4). Every amount is computed by hand in the test's docstring or
comments, never by calling the code under test.

Rules: an invoice takes every uninvoiced lot of one buyer in one session; its lines are the
buyer-side charges (never a farmer-side one), half up per line, plus the commission when the
settings put it on the buyer; total = lots + lines; numbers INV-001.. per commissioner,
gapless across voids; due_date = sale day + buyer_credit_days, overdue at read time; a void
keeps the number, releases the lots and is a reversal in the journal; collections move the
status UNPAID -> PARTIAL -> PAID and never exceed the total.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from auction_service.bills import repository as bills_repo
from auction_service.bills.models import CommissionerSettings

from .conftest import AuctionApi

C1, C2 = 1401, 1402
GENESIS = "0" * 64
FUTURE = "2999-06-01T09:00:00.000Z"


def D(x: Any) -> Decimal:
    return Decimal(str(x))


_days = itertools.count()


def _next_date() -> str:
    """A past date of its own per session (one ACTIVE session per commissioner per date)."""
    day = dt.date(2021, 1, 1) + dt.timedelta(days=next(_days))
    return f"{day}T10:00:00.000Z"


class Market:
    """One commissioner's masters (a product, two farmers, two buyers), sessions and lots."""

    def __init__(self, api: AuctionApi, cid: int = C1) -> None:
        self.api = api
        self.cid = cid
        self.m: dict[str, str] = {}

    async def setup(self, suffix: str = "") -> Market:
        self.m = await self.api.masters(self.cid, suffix)
        f2 = await self.api.ok(
            "POST", "/api/farmers", self.cid, 201, json={"name": "Second Farmer" + suffix}
        )
        b2 = await self.api.ok(
            "POST", "/api/buyers", self.cid, 201, json={"name": "Other Buyer" + suffix}
        )
        self.m["farmer2_id"], self.m["buyer2_id"] = f2["id"], b2["id"]
        return self

    @property
    def buyer(self) -> str:
        return self.m["buyer_id"]

    @property
    def buyer2(self) -> str:
        return self.m["buyer2_id"]

    async def session(self, date: str | None = None) -> str:
        s = await self.api.session(self.cid, date or _next_date())
        return str(s["id"])

    async def lot(
        self,
        sid: str,
        price: Any,
        quantity: Any = 1,
        unit: str = "KG",
        buyer: str | None = None,
        farmer: str | None = None,
    ) -> dict[str, Any]:
        return await self.api.item(
            sid,
            {**self.m, "buyer_id": buyer or self.buyer, "farmer_id": farmer or self.m["farmer_id"]},
            self.cid,
            unit=unit,
            quantity=quantity,
            final_price=price,
        )

    async def charge(self, **body: Any) -> dict[str, Any]:
        body.setdefault("payer", "BUYER")
        data: dict[str, Any] = await self.api.ok("POST", "/api/charges", self.cid, 201, json=body)
        return data

    async def invoice(self, sid: str, buyer: str | None = None, **kw: Any) -> dict[str, Any]:
        data: dict[str, Any] = await self.api.ok(
            "POST",
            f"/api/sessions/{sid}/buyer-invoices",
            self.cid,
            201,
            json={"buyer_id": buyer or self.buyer},
            **kw,
        )
        return data

    async def post_invoice(self, sid: str, body: Any, cid: int | None = None) -> Any:
        return await self.api.call(
            "POST", f"/api/sessions/{sid}/buyer-invoices", cid or self.cid, json=body
        )

    async def post_invoice_with(self, sid: str, buyer: str, headers: dict[str, str]) -> Any:
        return await self.api.call(
            "POST",
            f"/api/sessions/{sid}/buyer-invoices",
            self.cid,
            json={"buyer_id": buyer},
            headers=headers,
        )

    async def collect(
        self, invoice_id: str, amount: Any, headers: dict[str, str] | None = None, **body: Any
    ) -> Any:
        return await self.api.call(
            "POST",
            f"/api/buyer-invoices/{invoice_id}/collections",
            self.cid,
            json={"amount": amount, "method": "CASH", **body},
            headers=headers or {},
        )

    async def get(self, invoice_id: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.api.ok(
            "GET", f"/api/buyer-invoices/{invoice_id}", self.cid
        )
        return data

    async def void(self, invoice_id: str) -> Any:
        return await self.api.call("DELETE", f"/api/buyer-invoices/{invoice_id}", self.cid)

    async def settings(self, **body: Any) -> dict[str, Any]:
        data: dict[str, Any] = await self.api.ok("PUT", "/api/settings", self.cid, json=body)
        return data


@pytest.fixture
async def market(api: AuctionApi) -> Market:
    return await Market(api).setup()


def lines(inv: dict[str, Any]) -> list[tuple[str, str, str, Decimal, Decimal, Decimal]]:
    return [
        (c["type"], c["name"], c["kind"], D(c["basis"]), D(c["rate"]), D(c["amount"]))
        for c in inv["charges"]
    ]


def money(inv: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return (
        D(inv["lots_amount"]),
        D(inv["charges_amount"]),
        D(inv["commission_amount"]),
        D(inv["total_amount"]),
    )


def conflict(resp: Any, message: str | None = None) -> dict[str, Any]:
    assert resp.status_code == 409, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] == "CONFLICT"
    if message is not None:
        assert error["message"] == message
    return error


# --- generation ---------------------------------------------------------------------------


async def test_invoice_takes_every_uninvoiced_lot_of_the_buyer_in_the_session(
    market: Market,
) -> None:
    """Buyer A bought 50.5 kg for 2525.00 (50.00/kg) from farmer 1, 2.5 quintal for 1000.00
    (400.00/quintal) and 3 kg for 100.00 (33.333.. -> 33.33/kg) from farmer 2: lots
    2525.00 + 1000.00 + 100.00 = 3625.00. No charges and the farmer pays the commission
    (the default): total 3625.00, UNPAID. Buyer B's lot is not on it."""
    sid = await market.session()
    farmer2 = market.m["farmer2_id"]
    a1 = await market.lot(sid, 2525.0, 50.5)
    a2 = await market.lot(sid, 1000.0, 2.5, "QUINTAL", farmer=farmer2)
    a3 = await market.lot(sid, 100.0, 3, farmer=farmer2)
    b1 = await market.lot(sid, 10.0, buyer=market.buyer2)
    inv = await market.invoice(sid)
    assert inv["invoice_number"] == "INV-001"
    assert (inv["session_id"], inv["buyer_id"], inv["commissioner_id"]) == (
        sid,
        market.buyer,
        str(C1),
    )
    assert money(inv) == (D("3625.00"), D("0.00"), D("0.00"), D("3625.00"))
    assert D(inv["commission_rate"]) == 0 and inv["charges"] == []
    assert (D(inv["collected_amount"]), D(inv["balance_amount"])) == (D("0"), D("3625.00"))
    assert (inv["collection_status"], inv["status"]) == ("UNPAID", "ACTIVE")
    assert inv["buyer"] == {"id": market.buyer, "name": "Jane Buyer", "phone": "+0987654321"}
    assert inv["collections"] == []
    got = [
        (
            i["auction_item_id"],
            i["farmer_id"],
            i["product_name"],
            i["unit"],
            D(i["quantity"]),
            D(i["price"]),
            D(i["amount"]),
        )
        for i in inv["invoice_items"]
    ]
    fid = market.m["farmer_id"]
    assert got == [
        (a1["id"], fid, "Tomatoes", "KG", D("50.5"), D("50.00"), D("2525.00")),
        (a2["id"], farmer2, "Tomatoes", "QUINTAL", D("2.5"), D("400.00"), D("1000.00")),
        (a3["id"], farmer2, "Tomatoes", "KG", D("3"), D("33.33"), D("100.00")),
    ]
    assert inv["invoice_items"][0]["product"] == {"id": market.m["product_id"], "name": "Tomatoes"}
    items = {i["id"]: i for i in await market.api.ok("GET", f"/api/sessions/{sid}/items", C1)}
    assert {items[x["id"]]["invoice_id"] for x in (a1, a2, a3)} == {inv["id"]}
    assert items[b1["id"]]["invoice_id"] is None
    assert await market.get(inv["id"]) == inv


async def test_money_is_json_numbers(market: Market) -> None:
    sid = await market.session()
    await market.lot(sid, 12.5)
    inv = await market.invoice(sid)
    for key in ("lots_amount", "charges_amount", "commission_amount", "total_amount"):
        assert isinstance(inv[key], float), key
    assert isinstance(inv["due_date"], str) and len(inv["due_date"]) == 10  # YYYY-MM-DD


async def test_no_uninvoiced_lots_is_409(market: Market) -> None:
    """A buyer with no lots in the session, and a buyer whose lots are all invoiced: 409."""
    sid = await market.session()
    await market.lot(sid, 10.0)
    conflict(
        await market.post_invoice(sid, {"buyer_id": market.buyer2}),
        "No uninvoiced items for this buyer in this session",
    )
    await market.invoice(sid)
    conflict(await market.post_invoice(sid, {"buyer_id": market.buyer}))


async def test_lots_bought_after_an_invoice_go_on_the_next_one(market: Market) -> None:
    """10.00 invoiced (INV-001); then 20.00 bought: INV-002 holds only the 20.00."""
    sid = await market.session()
    await market.lot(sid, 10.0)
    await market.invoice(sid)
    await market.lot(sid, 20.0)
    inv = await market.invoice(sid)
    assert inv["invoice_number"] == "INV-002" and D(inv["total_amount"]) == D("20.00")
    assert len(inv["invoice_items"]) == 1


async def test_invoicing_works_after_the_session_completes_and_the_buyer_deactivates(
    market: Market,
) -> None:
    """As bills: invoicing settles lots already sold."""
    sid = await market.session()
    await market.lot(sid, 42.0)
    await market.api.ok("PUT", f"/api/sessions/{sid}", C1, json={"status": "COMPLETED"})
    await market.api.ok("PUT", f"/api/buyers/{market.buyer}", C1, json={"active": False})
    inv = await market.invoice(sid)
    assert D(inv["total_amount"]) == D("42.00")


# --- charges and commission ---------------------------------------------------------------


async def test_percent_buyer_charge_is_a_percent_of_the_lots_total(market: Market) -> None:
    """PERCENT 1.5: lots 1000.00 + 333.33 = 1333.33; 1.5% = 19.99995 -> 20.00 (half up).
    Total 1333.33 + 20.00 = 1353.33."""
    await market.charge(name="Market fee", kind="PERCENT", rate=1.5, account="MARKET_YARD")
    sid = await market.session()
    await market.lot(sid, 1000.0, 100)
    await market.lot(sid, 333.33, 10)
    inv = await market.invoice(sid)
    assert lines(inv) == [("CHARGE", "Market fee", "PERCENT", D("1333.33"), D("1.5"), D("20.00"))]
    assert inv["charges"][0]["payer"] == "BUYER"
    assert inv["charges"][0]["account"] == "MARKET_YARD"
    assert money(inv) == (D("1333.33"), D("20.00"), D("0.00"), D("1353.33"))


async def test_per_unit_buyer_charge_counts_only_lots_in_its_unit(market: Market) -> None:
    """PER_UNIT QUINTAL 3.00: 2.5 + 1.25 quintal = 3.75 x 3.00 = 11.25 (the 100 kg lot is
    not counted). Lots 600 + 300 + 100 = 1000.00; total 1011.25."""
    await market.charge(name="Weighing", kind="PER_UNIT", rate=3, unit="QUINTAL")
    sid = await market.session()
    await market.lot(sid, 600, 2.5, "QUINTAL")
    await market.lot(sid, 300, 1.25, "QUINTAL")
    await market.lot(sid, 100, 100, "KG")
    inv = await market.invoice(sid)
    assert lines(inv) == [("CHARGE", "Weighing", "PER_UNIT", D("3.75"), D("3"), D("11.25"))]
    assert inv["charges"][0]["unit"] == "QUINTAL"
    assert money(inv) == (D("1000.00"), D("11.25"), D("0.00"), D("1011.25"))


async def test_fixed_per_lot_buyer_charge_is_rate_times_lots(market: Market) -> None:
    """FIXED_PER_LOT 7.50 x 3 lots = 22.50; lots 300.00; total 322.50."""
    await market.charge(name="Loading", kind="FIXED_PER_LOT", rate=7.5, account="THIRD_PARTY")
    sid = await market.session()
    for unit in ("BAG", "BAG", "CRATE"):
        await market.lot(sid, 100, 2, unit)
    inv = await market.invoice(sid)
    assert lines(inv) == [("CHARGE", "Loading", "FIXED_PER_LOT", D("3"), D("7.5"), D("22.50"))]
    assert inv["charges"][0]["account"] == "THIRD_PARTY"
    assert money(inv) == (D("300.00"), D("22.50"), D("0.00"), D("322.50"))


async def test_every_buyer_charge_is_its_own_line_and_farmer_charges_never_appear(
    market: Market,
) -> None:
    """Lots 2000.00 (100 kg) + 1234.55 (50.5 kg) = 3234.55. Buyer-side: Cess 0.5% =
    16.17275 -> 16.17, Unloading 5.00 x 2 lots = 10.00, lines by name (Cess, Unloading);
    charges 26.17, total 3260.72. The farmer's Market fee and the inactive buyer Old fee
    are not on the invoice; the farmer's bill has the Market fee and no buyer line."""
    await market.charge(name="Unloading", kind="FIXED_PER_LOT", rate=5)
    await market.charge(name="Cess", kind="PERCENT", rate=0.5)
    await market.charge(name="Old fee", kind="PERCENT", rate=10, active=False)
    await market.charge(name="Market fee", kind="PERCENT", rate=1.5, payer="FARMER")
    sid = await market.session()
    await market.lot(sid, 2000.0, 100)
    await market.lot(sid, 1234.55, 50.5)
    inv = await market.invoice(sid)
    assert lines(inv) == [
        ("CHARGE", "Cess", "PERCENT", D("3234.55"), D("0.5"), D("16.17")),
        ("CHARGE", "Unloading", "FIXED_PER_LOT", D("2"), D("5"), D("10.00")),
    ]
    assert money(inv) == (D("3234.55"), D("26.17"), D("0.00"), D("3260.72"))
    bill = await market.api.ok(
        "POST", f"/api/sessions/{sid}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    assert [c["name"] for c in bill["charges"]] == ["Commission", "Market fee"]


async def test_commission_is_on_the_buyer_when_the_buyer_pays_it(market: Market) -> None:
    """commission_payer BUYER at 3%: lots 1234.55 -> 37.0365 -> 37.04 on the invoice (a
    COMMISSION line first, then the charges); with Unloading 5.00 x 1 lot: total 1234.55 +
    5.00 + 37.04 = 1276.59. The farmer's bill then deducts no commission: net 1234.55."""
    await market.settings(commission_payer="BUYER", commission_rate=3)
    await market.charge(name="Unloading", kind="FIXED_PER_LOT", rate=5)
    sid = await market.session()
    await market.lot(sid, 1234.55, 10)
    inv = await market.invoice(sid)
    assert lines(inv) == [
        ("COMMISSION", "Commission", "PERCENT", D("1234.55"), D("3"), D("37.04")),
        ("CHARGE", "Unloading", "FIXED_PER_LOT", D("1"), D("5"), D("5.00")),
    ]
    assert inv["charges"][0]["charge_id"] is None and inv["charges"][0]["payer"] == "BUYER"
    assert D(inv["commission_rate"]) == D("3")
    assert money(inv) == (D("1234.55"), D("5.00"), D("37.04"), D("1276.59"))
    bill = await market.api.ok(
        "POST", f"/api/sessions/{sid}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    assert D(bill["net_amount"]) == D("1234.55")


async def test_commission_paid_by_the_farmer_is_not_on_the_invoice(market: Market) -> None:
    """The default (FARMER pays 5%): the invoice's commission is 0 at rate 0, no line."""
    sid = await market.session()
    await market.lot(sid, 1000.0)
    inv = await market.invoice(sid)
    assert (D(inv["commission_rate"]), D(inv["commission_amount"])) == (D("0"), D("0"))
    assert lines(inv) == []


async def test_buyer_commission_above_the_profile_cap_is_409_and_burns_no_number(
    market: Market,
) -> None:
    """Cap 2%, the buyer pays 3%: 409 COMMISSION_RATE_ABOVE_CAP; after lowering the rate to
    2% the first invoice is still INV-001 (20.00 on 1000.00)."""
    await market.settings(commission_payer="BUYER", commission_rate=3)
    await market.settings(profile={"max_commission_rate": 2})
    sid = await market.session()
    await market.lot(sid, 1000.0)
    error = conflict(await market.post_invoice(sid, {"buyer_id": market.buyer}))
    assert error["details"]["reason"] == "COMMISSION_RATE_ABOVE_CAP"
    await market.settings(commission_rate=2)
    inv = await market.invoice(sid)
    assert inv["invoice_number"] == "INV-001" and D(inv["commission_amount"]) == D("20.00")


async def test_each_line_rounds_half_up_and_the_total_is_the_sum_of_rounded_lines(
    market: Market,
) -> None:
    """Lots 0.10 + 0.10 + 0.10 = 0.30. A 5% = 0.015 -> 0.02, B 5% = 0.02 (each line half
    up on its own; one 10% line would be 0.03). Total 0.30 + 0.02 + 0.02 = 0.34."""
    await market.charge(name="A", kind="PERCENT", rate=5)
    await market.charge(name="B", kind="PERCENT", rate=5)
    sid = await market.session()
    for _ in range(3):
        await market.lot(sid, 0.10)
    inv = await market.invoice(sid)
    assert [line[-1] for line in lines(inv)] == [D("0.02"), D("0.02")]
    assert money(inv) == (D("0.30"), D("0.04"), D("0.00"), D("0.34"))


async def test_charge_lines_are_a_snapshot(market: Market) -> None:
    """Editing or deactivating the charge later leaves the issued invoice as it was."""
    c = await market.charge(name="Cess", kind="PERCENT", rate=1)
    sid = await market.session()
    await market.lot(sid, 500.0)
    inv = await market.invoice(sid)
    await market.api.ok("PUT", f"/api/charges/{c['id']}", C1, json={"rate": 9, "active": False})
    got = await market.get(inv["id"])
    assert lines(got) == [("CHARGE", "Cess", "PERCENT", D("500.00"), D("1"), D("5.00"))]
    assert got["charges"][0]["charge_id"] == c["id"]


# --- numbers ------------------------------------------------------------------------------


async def test_invoice_numbers_are_gapless_across_voids_and_per_commissioner(
    api: AuctionApi, market: Market
) -> None:
    """INV-001 voided keeps its number; the next is INV-002 (a void never frees a number).
    Another commissioner starts at INV-001. Bills count separately (BILL-001)."""
    sid = await market.session()
    await market.lot(sid, 10.0)
    first = await market.invoice(sid)
    assert (await market.void(first["id"])).status_code == 200
    second = await market.invoice(sid)
    assert second["invoice_number"] == "INV-002"
    voided = await market.get(first["id"])
    assert (voided["invoice_number"], voided["status"]) == ("INV-001", "VOID")
    other = await Market(api, C2).setup()
    osid = await other.session()
    await other.lot(osid, 5.0)
    assert (await other.invoice(osid))["invoice_number"] == "INV-001"
    bill = await api.ok(
        "POST", f"/api/sessions/{sid}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    assert bill["bill_number"] == "BILL-001"
    third_sid = await market.session()
    await market.lot(third_sid, 1.0)
    assert (await market.invoice(third_sid))["invoice_number"] == "INV-003"


async def test_invoice_number_grows_past_999(market: Market, auction_app: Any) -> None:
    async with auction_app.state.db.sessionmaker.begin() as db:
        db.add(CommissionerSettings(commissioner_id=C1, last_invoice_seq=999))
    sid = await market.session()
    await market.lot(sid, 1.0)
    assert (await market.invoice(sid))["invoice_number"] == "INV-1000"


async def test_rolled_back_invoice_never_burns_a_number(auction_app: Any) -> None:
    maker = auction_app.state.db.sessionmaker
    async with maker() as db:
        assert (await bills_repo.take_invoice_seq(db, C1))[0] == 1
        await db.rollback()
    async with maker.begin() as db:
        assert (await bills_repo.take_invoice_seq(db, C1))[0] == 1
    async with maker.begin() as db:
        assert (await bills_repo.take_invoice_seq(db, C1))[0] == 2
        # The bill counter is its own.
        assert (await bills_repo.take_bill_seq(db, C1))[0] == 1


# --- due date, overdue and the credit setting ---------------------------------------------


async def test_buyer_credit_days_setting_defaults_to_0_and_is_set_alone(market: Market) -> None:
    assert (await market.api.ok("GET", "/api/settings", C1))["buyer_credit_days"] == 0
    s = await market.settings(buyer_credit_days=30)
    assert s["buyer_credit_days"] == 30 and s["payment_terms"] == "SAME_DAY"
    s = await market.settings(payment_terms="WITHIN_24_HOURS")
    assert s["buyer_credit_days"] == 30
    assert (await market.api.ok("GET", "/api/settings", C2))["buyer_credit_days"] == 0
    assert (await market.settings(buyer_credit_days=365))["buyer_credit_days"] == 365


@pytest.mark.parametrize("days", [-1, 366, None, 1.5, "7", True, 10**20])
async def test_invalid_buyer_credit_days_are_400(market: Market, days: Any) -> None:
    resp = await market.api.call("PUT", "/api/settings", C1, json={"buyer_credit_days": days})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await market.api.ok("GET", "/api/settings", C1))["buyer_credit_days"] == 0


@pytest.mark.parametrize(
    ("days", "due"), [(0, "2026-03-10"), (1, "2026-03-11"), (7, "2026-03-17"), (30, "2026-04-09")]
)
async def test_due_date_is_the_sale_day_plus_the_credit_days(
    market: Market, days: int, due: str
) -> None:
    """A sale at 2026-03-10 23:30 UTC: the sale day is 2026-03-10; + 0/1/7/30 days. Long past
    and unpaid: overdue."""
    await market.settings(buyer_credit_days=days)
    sid = await market.session("2026-03-10T23:30:00.000Z")
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    assert (inv["due_date"], inv["overdue"]) == (due, True)


async def test_overdue_only_after_the_due_date_and_never_when_paid_or_void(
    market: Market,
) -> None:
    """Today (UTC) is not past a due date of today: not overdue. A future sale: not overdue.
    A past one: overdue until fully collected (partly collected is still overdue); a void
    invoice is owed nothing, so never overdue."""
    today = dt.datetime.now(dt.UTC).date()
    sid = await market.session(f"{today}T00:00:01.000Z")
    await market.lot(sid, 10.0)
    inv = await market.invoice(sid)
    assert (inv["due_date"], inv["overdue"]) == (str(today), False)

    future = await market.session(FUTURE)
    await market.lot(future, 10.0)
    assert (await market.invoice(future))["overdue"] is False

    past = await market.session()
    await market.lot(past, 100.0)
    late = await market.invoice(past)
    assert late["overdue"] is True
    assert (await market.collect(late["id"], 40)).status_code == 201
    assert (await market.get(late["id"]))["overdue"] is True
    assert (await market.collect(late["id"], 60)).status_code == 201
    paid = await market.get(late["id"])
    assert (paid["collection_status"], paid["overdue"]) == ("PAID", False)

    other = await market.session()
    await market.lot(other, 5.0)
    gone = await market.invoice(other)
    assert (await market.void(gone["id"])).status_code == 200
    assert (await market.get(gone["id"]))["overdue"] is False


async def test_issued_invoice_keeps_its_due_date_when_the_credit_days_change(
    market: Market,
) -> None:
    sid = await market.session("2026-03-10T10:00:00.000Z")
    await market.lot(sid, 1.0)
    inv = await market.invoice(sid)
    await market.settings(buyer_credit_days=90)
    assert (await market.get(inv["id"]))["due_date"] == "2026-03-10"


# --- voids and locked lots ----------------------------------------------------------------


async def test_void_keeps_the_number_and_releases_the_lots_for_reinvoicing(
    market: Market,
) -> None:
    """Void of INV-001 (100.00 + 50.00): 200 with the seed's message; status VOID, number
    kept, both lots uninvoiced; re-invoicing puts both on INV-002 (150.00)."""
    sid = await market.session()
    x = await market.lot(sid, 100.0)
    y = await market.lot(sid, 50.0)
    inv = await market.invoice(sid)
    resp = await market.void(inv["id"])
    assert resp.status_code == 200
    assert resp.json()["data"] == {"message": "Buyer invoice voided successfully"}
    items = await market.api.ok("GET", f"/api/sessions/{sid}/items", C1)
    assert {i["id"]: i["invoice_id"] for i in items} == {x["id"]: None, y["id"]: None}
    again = await market.invoice(sid)
    assert again["invoice_number"] == "INV-002" and D(again["total_amount"]) == D("150.00")
    assert sorted(i["auction_item_id"] for i in again["invoice_items"]) == sorted(
        [x["id"], y["id"]]
    )
    voided = await market.get(inv["id"])
    assert voided["status"] == "VOID" and len(voided["invoice_items"]) == 2
    conflict(await market.void(inv["id"]), "Buyer invoice is already void")


async def test_invoiced_lot_cannot_be_edited_or_deleted_until_the_invoice_is_void(
    market: Market,
) -> None:
    sid = await market.session()
    lot = await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    url = f"/api/sessions/{sid}/items/{lot['id']}"
    msg = "Cannot modify an invoiced auction item. Void its buyer invoice first."
    conflict(await market.api.call("PUT", url, C1, json={"final_price": 1}), msg)
    conflict(await market.api.call("DELETE", url, C1), msg)
    assert (await market.void(inv["id"])).status_code == 200
    edited = await market.api.ok("PUT", url, C1, json={"final_price": 1})
    assert D(edited["final_price"]) == D("1.00")
    await market.api.ok("DELETE", url, C1, 204)


async def test_invoice_with_collections_cannot_be_voided(market: Market) -> None:
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    assert (await market.collect(inv["id"], 1)).status_code == 201
    conflict(await market.void(inv["id"]), "Cannot delete a buyer invoice with collections")
    assert (await market.get(inv["id"]))["status"] == "ACTIVE"


async def test_a_lot_is_on_one_invoice_and_one_bill_at_once(market: Market) -> None:
    """Invoicing (buyer side) and billing (farmer side) are independent: a lot is on at most
    one active invoice and one active bill; voiding one leaves the other."""
    sid = await market.session()
    lot = await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    bill = await market.api.ok(
        "POST", f"/api/sessions/{sid}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    item = await market.api.ok("GET", f"/api/sessions/{sid}/items/{lot['id']}", C1)
    assert (item["invoice_id"], item["bill_id"]) == (inv["id"], bill["id"])
    await market.api.ok("DELETE", f"/api/bills/{bill['id']}", C1)
    item = await market.api.ok("GET", f"/api/sessions/{sid}/items/{lot['id']}", C1)
    assert (item["invoice_id"], item["bill_id"]) == (inv["id"], None)


# --- collections --------------------------------------------------------------------------


async def test_collection_status_follows_the_collected_sum(market: Market) -> None:
    """Total 1000.00: 400.00 by UPI (ref) -> PARTIAL, balance 600.00; 600.00 by BANK ->
    PAID, balance 0.00. The collections list oldest first, with reference and note."""
    sid = await market.session()
    await market.lot(sid, 1000.0)
    inv = await market.invoice(sid)
    first = await market.collect(inv["id"], "400.00", method="UPI", reference="UTR-123")
    assert first.status_code == 201, first.text
    data = first.json()["data"]
    assert (D(data["amount"]), data["method"], data["reference"], data["note"]) == (
        D("400.00"),
        "UPI",
        "UTR-123",
        None,
    )
    assert data["invoice_id"] == inv["id"]
    assert data["invoice"] == {
        "id": inv["id"],
        "invoice_number": "INV-001",
        "total_amount": 1000.0,
        "collected_amount": 400.0,
        "balance_amount": 600.0,
        "collection_status": "PARTIAL",
        "status": "ACTIVE",
    }
    second = await market.collect(inv["id"], 600, method="BANK", note="final")
    assert second.json()["data"]["invoice"]["collection_status"] == "PAID"
    got = await market.get(inv["id"])
    assert (D(got["collected_amount"]), D(got["balance_amount"])) == (D("1000.00"), D("0"))
    listed = await market.api.ok("GET", f"/api/buyer-invoices/{inv['id']}/collections", C1)
    assert [(D(c["amount"]), c["method"], c["reference"], c["note"]) for c in listed] == [
        (D("400.00"), "UPI", "UTR-123", None),
        (D("600.00"), "BANK", None, "final"),
    ]
    assert listed == got["collections"]


async def test_over_collection_is_409_with_the_outstanding_amount(market: Market) -> None:
    """Total 100.00, 30.00 collected: 70.01 is refused (70.00 outstanding), 70.00 is not."""
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    assert (await market.collect(inv["id"], 30)).status_code == 201
    error = conflict(
        await market.collect(inv["id"], "70.01"),
        "Collection exceeds the outstanding amount of 70.00 (overcollection)",
    )
    assert error["details"] == {"outstanding_amount": 70.0}
    assert (await market.collect(inv["id"], 70)).status_code == 201
    conflict(await market.collect(inv["id"], "0.01"))


async def test_collection_on_a_void_invoice_is_409(market: Market) -> None:
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    await market.void(inv["id"])
    conflict(await market.collect(inv["id"], 1), "Cannot collect on a void invoice")


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "method": "CASH"},
        {"amount": -1, "method": "CASH"},
        {"amount": "1.005", "method": "CASH"},
        {"amount": 1, "method": "CHEQUE_"},
        {"amount": 1},
        {"method": "CASH"},
        {"amount": 1, "method": "CASH", "reference": "x" * 65},
        {"amount": 1, "method": "CASH", "reference": "UTR\n123"},
        {"amount": 1, "method": "CASH", "reference": ""},
        {"amount": 1, "method": "CASH", "extra": True},
    ],
)
async def test_invalid_collection_is_400(market: Market, body: dict[str, Any]) -> None:
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    resp = await market.api.call(
        "POST", f"/api/buyer-invoices/{inv['id']}/collections", C1, json=body
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await market.get(inv["id"]))["collections"] == []


async def test_reference_of_64_characters_is_kept(market: Market) -> None:
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    resp = await market.collect(inv["id"], 1, method="CHEQUE", reference="R" * 64)
    assert resp.json()["data"]["reference"] == "R" * 64


# --- not found, validation, ownership, idempotency ----------------------------------------


async def test_session_and_buyer_checks(api: AuctionApi, market: Market) -> None:
    """An unknown, malformed or another commissioner's session is 404; a missing or foreign
    buyer is 400 VALIDATION_ERROR naming buyer_id (as a bill's farmer, and as items'
    masters); a bad body is 400."""
    sid = await market.session()
    await market.lot(sid, 1.0)
    other = await Market(api, C2).setup()
    osid = await other.session()
    body = {"buyer_id": market.buyer}
    for bad_sid in (str(uuid.uuid4()), "not-a-uuid", osid):
        resp = await market.post_invoice(bad_sid, body)
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"] == {"message": "Session not found", "code": "NOT_FOUND"}
    for bad_buyer in (str(uuid.uuid4()), other.buyer):
        resp = await market.post_invoice(sid, {"buyer_id": bad_buyer})
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["details"][0]["loc"] == ["body", "buyer_id"]
    for bad_body in ({}, {"buyer_id": "nope"}, {"buyer_id": market.buyer, "x": 1}, [1]):
        resp = await market.post_invoice(sid, bad_body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await api.ok("GET", "/api/buyer-invoices", C1) == []


async def test_another_commissioners_invoice_is_404(api: AuctionApi, market: Market) -> None:
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    url = f"/api/buyer-invoices/{inv['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("DELETE", url, None),
        ("GET", f"{url}/collections", None),
        ("POST", f"{url}/collections", {"amount": 1, "method": "CASH"}),
    ):
        resp = await api.call(method, path, C2, json=body)
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["message"] == "Buyer invoice not found"
    for missing in (str(uuid.uuid4()), "nope"):
        resp = await api.call("GET", f"/api/buyer-invoices/{missing}", C1)
        assert resp.status_code == 404
    assert await api.ok("GET", "/api/buyer-invoices", C2) == []
    assert (await market.get(inv["id"]))["status"] == "ACTIVE"


async def test_invoices_need_a_commissioner(api: AuctionApi) -> None:
    resp = await api.client.get("/api/buyer-invoices")
    assert resp.status_code == 401
    resp = await api.client.get("/api/buyer-invoices", headers=api.headers(C1, ("trader",)))
    assert resp.status_code == 403


async def test_idempotent_invoice_and_collection(market: Market) -> None:
    """A retry with the same key and body replays the first answer and makes nothing new;
    the same key with another body is 422 IDEMPOTENCY_KEY_REUSED."""
    sid = await market.session()
    await market.lot(sid, 100.0)
    await market.lot(sid, 7.0, buyer=market.buyer2)
    key = {"Idempotency-Key": "inv-key-1"}
    first = await market.post_invoice_with(sid, market.buyer, key)
    again = await market.post_invoice_with(sid, market.buyer, key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["data"] == first.json()["data"]
    reused = await market.post_invoice_with(sid, market.buyer2, key)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(await market.api.ok("GET", "/api/buyer-invoices", C1)) == 1

    inv_id = first.json()["data"]["id"]
    ckey = {"Idempotency-Key": "col-key-1"}
    c1 = await market.collect(inv_id, 10, headers=ckey)
    c2 = await market.collect(inv_id, 10, headers=ckey)
    assert c1.status_code == c2.status_code == 201
    assert c1.json()["data"] == c2.json()["data"]
    assert D((await market.get(inv_id))["collected_amount"]) == D("10.00")


async def test_list_filters_and_pagination(api: AuctionApi, market: Market) -> None:
    """Three invoices: INV-001 (buyer A, session 1, PAID), INV-002 (buyer B, session 1,
    VOID), INV-003 (buyer A, session 2, UNPAID). Newest number first."""
    s1, s2 = await market.session(), await market.session()
    await market.lot(s1, 10.0)
    await market.lot(s1, 20.0, buyer=market.buyer2)
    await market.lot(s2, 30.0)
    i1 = await market.invoice(s1)
    i2 = await market.invoice(s1, market.buyer2)
    i3 = await market.invoice(s2)
    await market.collect(i1["id"], 10)
    await market.void(i2["id"])

    async def numbers(url: str) -> list[str]:
        return [i["invoice_number"] for i in await api.ok("GET", url, C1)]

    assert await numbers("/api/buyer-invoices") == ["INV-003", "INV-002", "INV-001"]
    assert await numbers(f"/api/buyer-invoices?buyer_id={market.buyer}") == ["INV-003", "INV-001"]
    assert await numbers(f"/api/buyer-invoices?session_id={s1}") == ["INV-002", "INV-001"]
    assert await numbers("/api/buyer-invoices?status=VOID") == ["INV-002"]
    assert await numbers("/api/buyer-invoices?collection_status=PAID") == ["INV-001"]
    assert await numbers(f"/api/sessions/{s1}/buyer-invoices") == ["INV-002", "INV-001"]
    assert await numbers(f"/api/sessions/{s1}/buyer-invoices?status=ACTIVE") == ["INV-001"]
    assert await numbers(f"/api/sessions/{s2}/buyer-invoices?buyer_id={market.buyer2}") == []
    page = await api.call("GET", "/api/buyer-invoices?page=2&limit=2", C1)
    body = page.json()
    assert [i["invoice_number"] for i in body["data"]] == ["INV-001"]
    assert {k: body["meta"][k] for k in ("page", "limit", "total", "totalPages")} == {
        "page": 2,
        "limit": 2,
        "total": 3,
        "totalPages": 2,
    }
    assert i3["id"] == (await api.ok("GET", "/api/buyer-invoices?limit=1", C1))[0]["id"]
    for bad in ("status=PAID", "collection_status=VOID", "buyer_id=x", "limit=101"):
        assert (await api.call("GET", f"/api/buyer-invoices?{bad}", C1)).status_code == 400
    resp = await api.call("GET", f"/api/sessions/{uuid.uuid4()}/buyer-invoices", C1)
    assert resp.status_code == 404


async def test_a_buyer_or_charge_on_an_invoice_cannot_be_deleted(market: Market) -> None:
    """Referenced masters are deactivated, not deleted (409), also once the lot is gone."""
    c = await market.charge(name="Cess", kind="PERCENT", rate=1)
    sid = await market.session()
    lot = await market.lot(sid, 10.0, buyer=market.buyer2)
    inv = await market.invoice(sid, market.buyer2)
    await market.void(inv["id"])
    await market.api.ok("DELETE", f"/api/sessions/{sid}/items/{lot['id']}", C1, 204)
    for url in (f"/api/buyers/{market.buyer2}", f"/api/charges/{c['id']}"):
        conflict(await market.api.call("DELETE", url, C1))


async def test_a_session_with_an_invoice_cannot_be_deleted(market: Market) -> None:
    """Even once its lot is gone (the invoice voided first), the invoice keeps the session:
    409, never a 500."""
    sid = await market.session()
    lot = await market.lot(sid, 10.0)
    inv = await market.invoice(sid)
    await market.void(inv["id"])
    await market.api.ok("DELETE", f"/api/sessions/{sid}/items/{lot['id']}", C1, 204)
    conflict(
        await market.api.call("DELETE", f"/api/sessions/{sid}", C1),
        "Cannot delete session with buyer invoices.",
    )
    assert (await market.get(inv["id"]))["session_id"] == sid


async def test_table_enforces_total_and_collected_ranges(market: Market, auction_app: Any) -> None:
    """The database refuses total <> lots + charges + commission and collected > total."""
    sid = await market.session()
    await market.lot(sid, 100.0)
    inv = await market.invoice(sid)
    for sql in (
        "UPDATE buyer_invoices SET total_amount = total_amount + 1 WHERE id = :id",
        "UPDATE buyer_invoices SET collected_amount = total_amount + 1 WHERE id = :id",
    ):
        with pytest.raises(IntegrityError):
            async with auction_app.state.db.engine.begin() as conn:
                await conn.execute(text(sql), {"id": inv["id"]})


# --- the journal: invoices, collections, voids; the buyer's ledger ------------------------


async def test_void_is_a_reversal_in_the_journal(market: Market) -> None:
    """INVOICE +150.00 then INVOICE_VOID -150.00 (the entry is not edited): balance 0.00;
    the re-invoice INV-002 +150.00; the chain verifies."""
    sid = await market.session()
    await market.lot(sid, 100.0)
    await market.lot(sid, 50.0)
    inv = await market.invoice(sid)
    await market.void(inv["id"])
    again = await market.invoice(sid)
    entries = await market.api.ok("GET", f"/api/buyers/{market.buyer}/ledger", C1)
    assert [
        (e["kind"], e["document_number"], D(e["amount"]), D(e["balance"])) for e in entries
    ] == [
        ("INVOICE", "INV-001", D("150.00"), D("150.00")),
        ("INVOICE_VOID", "INV-001", D("-150.00"), D("0.00")),
        ("INVOICE", "INV-002", D("150.00"), D("150.00")),
    ]
    assert {e["party_type"] for e in entries} == {"BUYER"}
    assert [e["document_id"] for e in entries] == [inv["id"], inv["id"], again["id"]]
    assert entries[0]["payload"]["total_amount"] == "150.00"
    assert entries[0]["payload"]["due_date"] == inv["due_date"]
    verify = await market.api.ok("GET", "/api/ledger/verify", C1)
    assert (verify["valid"], verify["entries"]) == (True, 3)


async def test_buyer_ledger_running_balance_is_what_the_buyer_owes(market: Market) -> None:
    """Cess 2% on the buyer. INV-001 lots 500.00 + 10.00 = 510.00 (+510.00); collected 300.00
    (-300.00 -> 210.00); INV-002 lots 100.00 + 2.00 = 102.00 (+102.00 -> 312.00); collected
    12.00 (-> 300.00). The farmer's bill is in the farmer's ledger, not the buyer's; the other
    buyer's ledger is empty. Page 2 carries the running sum on."""
    await market.charge(name="Cess", kind="PERCENT", rate=2)
    s1, s2 = await market.session(), await market.session()
    await market.lot(s1, 500.0)
    await market.lot(s2, 100.0)
    i1 = await market.invoice(s1)
    await market.collect(i1["id"], 300, method="UPI", reference="UTR9")
    i2 = await market.invoice(s2)
    await market.collect(i2["id"], 12)
    await market.api.ok(
        "POST", f"/api/sessions/{s1}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    entries = await market.api.ok("GET", f"/api/buyers/{market.buyer}/ledger", C1)
    assert [(e["kind"], D(e["amount"]), D(e["balance"])) for e in entries] == [
        ("INVOICE", D("510.00"), D("510.00")),
        ("COLLECTION", D("-300.00"), D("210.00")),
        ("INVOICE", D("102.00"), D("312.00")),
        ("COLLECTION", D("-12.00"), D("300.00")),
    ]
    assert entries[1]["payload"]["reference"] == "UTR9"
    page2 = await market.api.ok("GET", f"/api/buyers/{market.buyer}/ledger?page=2&limit=2", C1)
    assert [D(e["balance"]) for e in page2] == [D("312.00"), D("300.00")]
    assert await market.api.ok("GET", f"/api/buyers/{market.buyer2}/ledger", C1) == []
    farmer = await market.api.ok("GET", f"/api/farmers/{market.m['farmer_id']}/ledger", C1)
    assert [e["kind"] for e in farmer] == ["BILL"]


async def test_buyer_ledger_of_an_unknown_or_foreign_buyer_is_404(
    api: AuctionApi, market: Market
) -> None:
    for buyer in (str(uuid.uuid4()), "nope"):
        resp = await api.call("GET", f"/api/buyers/{buyer}/ledger", C1)
        assert resp.status_code == 404
    resp = await api.call("GET", f"/api/buyers/{market.buyer}/ledger", C2)
    assert resp.json()["error"] == {"message": "Buyer not found", "code": "NOT_FOUND"}


async def test_buyer_ledger_csv_is_exact(api: AuctionApi, market: Market) -> None:
    """Buyer '@SUM(1)' with INV-001 of 100.00 and a collection of 40.00: the CSV byte for
    byte, by `.csv` and by Accept."""
    buyer = await api.ok("POST", "/api/buyers", C1, 201, json={"name": "@SUM(1)"})
    sid = await market.session()
    await market.lot(sid, 100.0, buyer=buyer["id"])
    inv = await market.invoice(sid, buyer["id"])
    await market.collect(inv["id"], 40)
    e1, e2 = await api.ok("GET", f"/api/buyers/{buyer['id']}/ledger", C1)
    raw = await api.client.get(f"/api/buyers/{buyer['id']}/ledger.csv", headers=api.headers(C1))
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "text/csv; charset=utf-8"
    assert raw.headers["content-disposition"] == 'attachment; filename="ledger-SUM-1.csv"'
    rows = raw.content.decode("utf-8").split("\r\n")
    at1, at2 = rows[1].split(",")[1], rows[2].split(",")[1]
    assert at1[:23] == e1["at"][:23] and at2[:23] == e2["at"][:23]
    bid = buyer["id"]
    assert raw.text == (
        "seq,at,kind,party_type,party_id,document_number,amount,balance,hash\r\n"
        f"1,{at1},INVOICE,BUYER,{bid},INV-001,100.00,100.00,{e1['hash']}\r\n"
        f"2,{at2},COLLECTION,BUYER,{bid},INV-001,-40.00,60.00,{e2['hash']}\r\n"
    )
    by_accept = await api.client.get(
        f"/api/buyers/{buyer['id']}/ledger", headers={**api.headers(C1), "Accept": "text/csv"}
    )
    assert by_accept.content == raw.content


# --- the outstanding report: buyers uncollected, overdue first ----------------------------


async def test_outstanding_lists_buyers_uncollected_overdue_first(market: Market) -> None:
    """Three past sales and a future one. Farmer bill BILL-001 (past, 100.00, net 95.00,
    unpaid: overdue). Invoices: INV-001 (past, buyer 2, 100.00) collected in full and INV-004
    (extra) voided are not listed; INV-002 (later past, 100.00, 30.00 collected: 70.00 owed,
    overdue); INV-003 (future, 50.00, not overdue). Overdue first, then by due time: the
    bill (due the midnight after the first sale), INV-002, then INV-003."""
    past = await market.session()
    later_past = await market.session()
    future = await market.session(FUTURE)
    extra = await market.session()
    await market.lot(past, 100.0, buyer=market.buyer2)
    await market.lot(later_past, 100.0)
    await market.lot(future, 50.0)
    await market.lot(extra, 5.0)
    bill = await market.api.ok(
        "POST", f"/api/sessions/{past}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    paid = await market.invoice(past, market.buyer2)
    await market.collect(paid["id"], 100)
    p = await market.invoice(later_past)
    await market.collect(p["id"], 30)
    q = await market.invoice(future)
    v = await market.invoice(extra)
    await market.void(v["id"])
    assert [x["invoice_number"] for x in (paid, p, q, v)] == [
        "INV-001",
        "INV-002",
        "INV-003",
        "INV-004",
    ]

    rows = await market.api.ok("GET", "/api/reports/outstanding", C1)
    assert [(r["party_type"], r["document_number"], r["overdue"]) for r in rows] == [
        ("FARMER", "BILL-001", True),
        ("BUYER", "INV-002", True),
        ("BUYER", "INV-003", False),
    ]
    farmer_row, p_row, q_row = rows
    assert (farmer_row["bill_id"], farmer_row["document_id"]) == (bill["id"], bill["id"])
    assert (farmer_row["invoice_id"], farmer_row["buyer"], farmer_row["due_date"]) == (
        None,
        None,
        None,
    )
    assert (D(farmer_row["net_amount"]), D(farmer_row["outstanding_amount"])) == (
        D("95.00"),
        D("95.00"),
    )
    p_due = dt.date.fromisoformat(p["due_date"]) + dt.timedelta(days=1)
    assert p_row == {
        "party_type": "BUYER",
        "document_id": p["id"],
        "document_number": "INV-002",
        "bill_id": None,
        "bill_number": None,
        "invoice_id": p["id"],
        "invoice_number": "INV-002",
        "date": p["created_at"],
        "farmer": None,
        "buyer": {"id": market.buyer, "name": "Jane Buyer", "phone": "+0987654321"},
        "net_amount": 100.0,
        "paid_amount": 30.0,
        "outstanding_amount": 70.0,
        "due_at": f"{p_due}T00:00:00.000Z",
        "due_date": p["due_date"],
        "overdue": True,
    }
    assert (q_row["due_date"], D(q_row["outstanding_amount"])) == ("2999-06-01", D("50.00"))
    page = await market.api.call("GET", "/api/reports/outstanding?page=2&limit=2", C1)
    assert [r["document_number"] for r in page.json()["data"]] == ["INV-003"]
    assert page.json()["meta"]["total"] == 3


async def test_outstanding_csv_keeps_its_columns_and_adds_the_party(market: Market) -> None:
    """The farmer columns come first as before; party_type, invoice_number, buyer_id,
    buyer_name and due_date follow. A buyer row leaves the farmer columns empty."""
    sid = await market.session("2026-03-10T10:00:00.000Z")
    await market.lot(sid, 100.0)
    bill = await market.api.ok(
        "POST", f"/api/sessions/{sid}/bills", C1, 201, json={"farmer_id": market.m["farmer_id"]}
    )
    inv = await market.invoice(sid)
    await market.collect(inv["id"], "12.50")
    out = await market.api.client.get(
        "/api/reports/outstanding.csv", headers=market.api.headers(C1)
    )
    assert out.headers["content-disposition"] == 'attachment; filename="outstanding.csv"'
    header, farmer_row, buyer_row, end = out.text.split("\r\n")
    assert header == (
        "bill_number,date,farmer_id,farmer_name,net_amount,paid_amount,outstanding_amount,"
        "due_at,overdue,party_type,invoice_number,buyer_id,buyer_name,due_date"
    )
    bill_created = farmer_row.split(",")[1]
    inv_created = buyer_row.split(",")[1]
    assert bill_created[:23] == bill["created_at"][:23]
    assert inv_created[:23] == inv["created_at"][:23]
    fid, bid = market.m["farmer_id"], market.buyer
    # The bill is due at the end of its sale day (2026-03-11T00:00Z); so is the invoice
    # (its due date 2026-03-10 ends then): equal due times, the bill was made first.
    assert farmer_row == (
        f"BILL-001,{bill_created},{fid},John Farmer,95.00,0.00,95.00,"
        "2026-03-11T00:00:00.000000Z,true,FARMER,,,,"
    )
    assert buyer_row == (
        f",{inv_created},,,100.00,12.50,87.50,"
        f"2026-03-11T00:00:00.000000Z,true,BUYER,INV-001,{bid},Jane Buyer,2026-03-10"
    )
    assert end == ""
