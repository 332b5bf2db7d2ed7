"""Issue 11 reports: the commission report and the market-fee register over session days.

Every amount is computed by hand here, never by the code under test. Only ACTIVE documents
count, the range is of session days (UTC, both ends included), and another commissioner's
data never shows. Both answer JSON in the envelope or CSV (`.csv` or `Accept: text/csv`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from .conftest import AuctionApi

C, OTHER = 1301, 1302
D = Decimal
RANGE = "from=2026-03-01&to=2026-03-04"
DAY1, DAY2, DAY3 = "2026-03-02", "2026-03-03", "2026-03-05"


async def report(api: AuctionApi, url: str, user: int = C) -> dict[str, Any]:
    """The whole answer (data and meta), numbers as Decimal."""
    resp = await api.call("GET", url, user)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json(parse_float=Decimal)
    return body


async def charge(api: AuctionApi, user: int = C, **body: Any) -> None:
    await api.ok("POST", "/api/charges", user, 201, json=body)


async def farmer(api: AuctionApi, name: str, user: int = C) -> str:
    return str((await api.ok("POST", "/api/farmers", user, 201, json={"name": name}))["id"])


async def bill(api: AuctionApi, session_id: str, farmer_id: str, user: int = C, **kw: Any) -> Any:
    return await api.ok(
        "POST",
        f"/api/sessions/{session_id}/bills",
        user,
        201,
        json={"farmer_id": farmer_id, **kw},
    )


async def floor_with_voids(api: AuctionApi) -> dict[str, Any]:
    """Two days of sales inside the range, one after it, and another commissioner's.

    Charges: Hamali 10.00 a lot (farmer, AGENT), Market fee 1.5 % (farmer, MARKET_YARD),
    Weighing 2.00 a quintal (farmer, THIRD_PARTY), Cess 1 % (buyer, AGENT: never on a bill).
    Commission 5 %, paid by the farmer.

    Day 1 (2026-03-02): Asha sells 1000.00 (100 KG) and 500.00 (2.5 QUINTAL): BILL-001 total
      1500.00, commission 75.00, hamali 20.00, fee 22.50, weighing 5.00.
      Babu sells 333.33 (1.25 QUINTAL): BILL-002, commission 16.6665 -> 16.67, hamali 10.00,
      fee 4.99995 -> 5.00, weighing 2.50. Chandra's 200.00 (3 BAG) is not billed.
    Day 2 (2026-03-03): Asha sells 800.00 (10 KG): BILL-003 (voided), then BILL-004 at 4 %:
      commission 32.00, hamali 10.00, fee 12.00, weighing 0.00 (no quintals).
    Day 3 (2026-03-05, after the range): Asha 999.00: BILL-005.
    OTHER on day 1: 5000.00 billed with a 10 % market fee of their own.
    """
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=10, payer="FARMER")
    await charge(
        api, name="Market fee", kind="PERCENT", rate=1.5, payer="FARMER", account="MARKET_YARD"
    )
    await charge(
        api,
        name="Weighing",
        kind="PER_UNIT",
        rate=2,
        unit="QUINTAL",
        payer="FARMER",
        account="THIRD_PARTY",
    )
    await charge(api, name="Cess", kind="PERCENT", rate=1, payer="BUYER")
    m = await api.masters(C)
    asha = m["farmer_id"]
    babu, chandra = await farmer(api, "Babu"), await farmer(api, "Chandra")

    s1 = await api.session(C, f"{DAY1}T10:00:00Z")
    lot1 = await api.item(s1["id"], m, C, unit="KG", quantity=100, final_price=1000)
    lot2 = await api.item(s1["id"], m, C, unit="QUINTAL", quantity=2.5, final_price=500)
    lot3 = await api.item(
        s1["id"], {**m, "farmer_id": babu}, C, unit="QUINTAL", quantity=1.25, final_price=333.33
    )
    lot4 = await api.item(
        s1["id"], {**m, "farmer_id": chandra}, C, unit="BAG", quantity=3, final_price=200
    )
    b1 = await bill(api, s1["id"], asha)
    b2 = await bill(api, s1["id"], babu)

    s2 = await api.session(C, f"{DAY2}T23:30:00Z")  # late in the UTC day: still day 2
    lot5 = await api.item(s2["id"], m, C, unit="KG", quantity=10, final_price=800)
    voided = await bill(api, s2["id"], asha)
    await api.ok("DELETE", f"/api/bills/{voided['id']}", C)
    b4 = await bill(api, s2["id"], asha, commission_rate=4)

    s3 = await api.session(C, f"{DAY3}T00:00:00Z")
    await api.item(s3["id"], m, C, final_price=999)
    await bill(api, s3["id"], asha)

    om = await api.masters(OTHER, suffix=" Other")
    await charge(
        api, OTHER, name="Fee", kind="PERCENT", rate=10, payer="FARMER", account="MARKET_YARD"
    )
    os1 = await api.session(OTHER, f"{DAY1}T10:00:00Z")
    await api.item(os1["id"], om, OTHER, final_price=5000)
    await bill(api, os1["id"], om["farmer_id"], OTHER)
    assert [b["bill_number"] for b in (b1, b2, voided, b4)] == [
        "BILL-001",
        "BILL-002",
        "BILL-003",
        "BILL-004",
    ]
    return {
        "m": m,
        "lots": [lot1, lot2, lot3, lot4, lot5],
        "bills": [b1, b2, b4],
    }


# --- the commission report ---------------------------------------------------------------


def _figures(**kw: Any) -> dict[str, Any]:
    zero = {
        "lots_count": 0,
        "lots_amount": D(0),
        "bills_count": 0,
        "billed_amount": D(0),
        "invoices_count": 0,
        "invoiced_amount": D(0),
        "farmer_commission": D(0),
        "buyer_commission": D(0),
        "commission": D(0),
        "farmer_agent_charges": D(0),
        "buyer_agent_charges": D(0),
        "agent_charges": D(0),
        "income": D(0),
    }
    return {**zero, **{k: D(v) if isinstance(v, str) else v for k, v in kw.items()}}


DAY1_FIGURES = _figures(
    lots_count=4,
    lots_amount="2033.33",  # 1000 + 500 + 333.33 + 200 (Chandra's lot is sold, not billed)
    bills_count=2,
    billed_amount="1833.33",
    farmer_commission="91.67",  # 75.00 + 16.67
    commission="91.67",
    farmer_agent_charges="30.00",  # hamali 20.00 + 10.00; fee and weighing are not income
    agent_charges="30.00",
    income="121.67",
)
DAY2_FIGURES = _figures(
    lots_count=1,
    lots_amount="800.00",
    bills_count=1,  # BILL-003 is void: only BILL-004
    billed_amount="800.00",
    farmer_commission="32.00",
    commission="32.00",
    farmer_agent_charges="10.00",
    agent_charges="10.00",
    income="42.00",
)
TOTAL_FIGURES = _figures(
    lots_count=5,
    lots_amount="2833.33",
    bills_count=3,
    billed_amount="2633.33",
    farmer_commission="123.67",
    commission="123.67",
    farmer_agent_charges="40.00",
    agent_charges="40.00",
    income="163.67",
)


async def test_commission_report_counts_active_bills_per_session_day(api: AuctionApi) -> None:
    """Per day and in total: lots sold, commission the farmer pays, the agent's own (AGENT)
    charges and income; the void bill, the day after the range and OTHER never count."""
    await floor_with_voids(api)
    body = await report(api, f"/api/reports/commission?{RANGE}")
    assert body["success"] is True and body["meta"]["timestamp"].endswith("Z")
    data = body["data"]
    assert (data["from_date"], data["to_date"]) == ("2026-03-01", "2026-03-04")
    assert data["days"] == [{"day": DAY1, **DAY1_FIGURES}, {"day": DAY2, **DAY2_FIGURES}]
    assert data["totals"] == TOTAL_FIGURES


async def test_commission_paid_by_the_buyer_is_not_the_farmer_bills(api: AuctionApi) -> None:
    """With commission_payer BUYER the bill records the commission but the farmer does not pay
    it: it is not farmer_commission (the buyer's invoice carries it). Agent charges stay."""
    await api.ok("PUT", "/api/settings", C, json={"commission_payer": "BUYER"})
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=7.5, payer="FARMER")
    m = await api.masters(C)
    s = await api.session(C, f"{DAY1}T10:00:00Z")
    await api.item(s["id"], m, C, final_price=400)
    await api.item(s["id"], m, C, final_price=100)
    b = await bill(api, s["id"], m["farmer_id"])
    assert D(str(b["commission_amount"])) == D("25.00")  # recorded on the bill...
    data = (await report(api, f"/api/reports/commission?{RANGE}"))["data"]
    assert data["totals"] == _figures(  # ...but not the farmer's to pay
        lots_count=2,
        lots_amount="500.00",
        bills_count=1,
        billed_amount="500.00",
        farmer_agent_charges="15.00",  # 2 lots x 7.50
        agent_charges="15.00",
        income="15.00",
    )


async def test_commission_csv_is_exact_by_path_and_by_accept(api: AuctionApi) -> None:
    await floor_with_voids(api)
    raw = await api.client.get(f"/api/reports/commission.csv?{RANGE}", headers=api.headers(C))
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"] == "text/csv; charset=utf-8"
    assert raw.headers["content-disposition"] == (
        'attachment; filename="commission-2026-03-01-2026-03-04.csv"'
    )
    assert raw.text == (
        "line,day,lots_count,lots_amount,bills_count,billed_amount,invoices_count,"
        "invoiced_amount,farmer_commission,buyer_commission,commission,farmer_agent_charges,"
        "buyer_agent_charges,agent_charges,income\r\n"
        "DAY,2026-03-02,4,2033.33,2,1833.33,0,0.00,91.67,0.00,91.67,30.00,0.00,30.00,121.67\r\n"
        "DAY,2026-03-03,1,800.00,1,800.00,0,0.00,32.00,0.00,32.00,10.00,0.00,10.00,42.00\r\n"
        "TOTAL,,5,2833.33,3,2633.33,0,0.00,123.67,0.00,123.67,40.00,0.00,40.00,163.67\r\n"
    )
    by_accept = await api.client.get(
        f"/api/reports/commission?{RANGE}", headers={**api.headers(C), "Accept": "text/csv"}
    )
    assert by_accept.content == raw.content


async def test_another_commissioners_report_has_only_their_own(api: AuctionApi) -> None:
    await floor_with_voids(api)
    data = (await report(api, f"/api/reports/commission?{RANGE}", OTHER))["data"]
    assert data["days"] == [
        {
            "day": DAY1,
            **_figures(
                lots_count=1,
                lots_amount="5000.00",
                bills_count=1,
                billed_amount="5000.00",
                farmer_commission="250.00",
                commission="250.00",
                income="250.00",
            ),
        }
    ]
    fees = await report(api, f"/api/reports/market-fee?{RANGE}", OTHER)
    assert [lot["farmer_name"] for lot in fees["data"]] == ["John Farmer Other"]
    assert fees["meta"]["totals"]["farmer_paid_fee"] == D("500.00")  # 10 % of 5000.00
    assert (await report(api, f"/api/reports/commission?{RANGE}", 1303))["data"]["days"] == []


async def test_an_empty_range_has_no_days_and_zero_totals(api: AuctionApi) -> None:
    data = (await report(api, "/api/reports/commission?from=2020-01-01&to=2020-01-31"))["data"]
    assert data == {
        "from_date": "2020-01-01",
        "to_date": "2020-01-31",
        "days": [],
        "totals": _figures(),
    }


# --- the market-fee register -------------------------------------------------------------


async def test_market_fee_register_lists_every_lot_with_its_fee(api: AuctionApi) -> None:
    """One row per lot sold in the range (billed or not), the bill's MARKET_YARD line shared
    by amount (PERCENT): BILL-001's 22.50 is 15.00 + 7.50; totals per day and overall."""
    made = await floor_with_voids(api)
    lot1, lot2, lot3, lot4, lot5 = made["lots"]
    b1, b2, b4 = made["bills"]
    body = await report(api, f"/api/reports/market-fee?{RANGE}&limit=100")
    m = made["m"]

    def row(lot: Any, day: str, b: Any, farmer: str, unit: str, qty: str, fee: str) -> Any:
        return {
            "day": day,
            "lot_id": lot["id"],
            "bill_id": b and b["id"],
            "bill_number": b and b["bill_number"],
            "invoice_id": None,
            "invoice_number": None,
            "farmer_id": lot["farmer_id"],
            "farmer_name": farmer,
            "buyer_id": m["buyer_id"],
            "buyer_name": "Jane Buyer",
            "product_id": m["product_id"],
            "product_name": "Tomatoes",
            "quantity": D(qty),
            "unit": unit,
            "amount": D(str(lot["final_price"])),
            "farmer_paid_fee": D(fee),
            "buyer_paid_fee": D(0),
            "market_fee": D(fee),
        }

    assert body["data"] == [
        row(lot1, DAY1, b1, "John Farmer", "KG", "100", "15.00"),
        row(lot2, DAY1, b1, "John Farmer", "QUINTAL", "2.5", "7.50"),
        row(lot3, DAY1, b2, "Babu", "QUINTAL", "1.25", "5.00"),
        row(lot4, DAY1, None, "Chandra", "BAG", "3", "0"),
        row(lot5, DAY2, b4, "John Farmer", "KG", "10", "12.00"),
    ]
    meta = body["meta"]
    assert (meta["page"], meta["limit"], meta["total"], meta["totalPages"]) == (1, 100, 5, 1)
    assert (meta["from_date"], meta["to_date"]) == ("2026-03-01", "2026-03-04")

    def figures(day: str | None, lots: int, amount: str, fee: str) -> dict[str, Any]:
        out = {
            "lots_count": lots,
            "lots_amount": D(amount),
            "farmer_paid_fee": D(fee),
            "buyer_paid_fee": D(0),
            "market_fee": D(fee),
        }
        return out if day is None else {"day": day, **out}

    assert meta["days"] == [
        figures(DAY1, 4, "2033.33", "27.50"),  # 22.50 + 5.00
        figures(DAY2, 1, "800.00", "12.00"),
    ]
    assert meta["totals"] == figures(None, 5, "2833.33", "39.50")


async def test_market_fee_pages_lots_but_totals_cover_the_range(api: AuctionApi) -> None:
    made = await floor_with_voids(api)
    body = await report(api, f"/api/reports/market-fee?{RANGE}&page=2&limit=2")
    assert [r["lot_id"] for r in body["data"]] == [lot["id"] for lot in made["lots"][2:4]]
    assert [r["market_fee"] for r in body["data"]] == [D("5.00"), D("0")]
    meta = body["meta"]
    assert (meta["page"], meta["limit"], meta["total"], meta["totalPages"]) == (2, 2, 5, 3)
    assert meta["totals"]["market_fee"] == D("39.50")


async def test_market_fee_line_is_apportioned_by_largest_remainder(api: AuctionApi) -> None:
    """Lots 33.33 each: L1 0.333 KG, L2 0.333 KG, L3 0.334 KG, L4 2 BAG (in that order).

    Fee 1 % (PERCENT): 133.32 x 1 % = 1.3332 -> 1.33: 133 cents over 4 equal lots = 33.25
    each: floors 33, one cent left, a four-way tie: the first lot. 0.34, 0.33, 0.33, 0.33.
    Cess 1.00 a KG (PER_UNIT): 1.000 KG -> 1.00: 100 cents by 0.333 : 0.333 : 0.334 : 0 =
    33.3, 33.3, 33.4, 0: floors 33, 33, 33, 0, one cent left to the largest remainder (L3).
    0.33, 0.33, 0.34, 0.00. Hamali (AGENT) is not a market fee.
    Per lot: 0.67, 0.66, 0.67, 0.33 = 2.33 = 1.33 + 1.00, the bill's two MARKET_YARD lines."""
    await charge(api, name="Fee", kind="PERCENT", rate=1, payer="FARMER", account="MARKET_YARD")
    await charge(
        api,
        name="Cess",
        kind="PER_UNIT",
        rate=1,
        unit="KG",
        payer="FARMER",
        account="MARKET_YARD",
    )
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=1, payer="FARMER")
    m = await api.masters(C)
    s = await api.session(C, f"{DAY1}T10:00:00Z")
    for unit, qty in (("KG", 0.333), ("KG", 0.333), ("KG", 0.334), ("BAG", 2)):
        await api.item(s["id"], m, C, unit=unit, quantity=qty, final_price=33.33)
    b = await bill(api, s["id"], m["farmer_id"])
    fee_lines = {c["name"]: D(str(c["amount"])) for c in b["charges"]}
    assert (fee_lines["Fee"], fee_lines["Cess"]) == (D("1.33"), D("1.00"))
    body = await report(api, f"/api/reports/market-fee?{RANGE}")
    assert [r["market_fee"] for r in body["data"]] == [D("0.67"), D("0.66"), D("0.67"), D("0.33")]
    assert body["meta"]["totals"]["market_fee"] == D("2.33")


async def test_market_fee_csv_is_exact_and_defuses_formulas(api: AuctionApi) -> None:
    """Farmer '=HYPERLINK("x")' and product '+cmd': the cells start with a quote. One lot of
    250.00 (12.345 QUINTAL) with a 2 % fee = 5.00, and an unbilled lot of 10.00."""
    await charge(api, name="Fee", kind="PERCENT", rate=2, payer="FARMER", account="MARKET_YARD")
    m = await api.masters(C)
    evil = await farmer(api, '=HYPERLINK("x")')
    cat = await api.ok("POST", "/api/categories", C, 201, json={"name": "Grains"})
    prod = await api.ok(
        "POST", "/api/products", C, 201, json={"name": "+cmd", "category_id": cat["id"]}
    )
    s = await api.session(C, f"{DAY2}T08:00:00Z")
    lot = await api.item(
        s["id"],
        {**m, "farmer_id": evil, "product_id": prod["id"]},
        C,
        unit="QUINTAL",
        quantity=12.345,
        final_price=250,
    )
    other = await api.item(s["id"], m, C, unit="KG", quantity=1, final_price=10)
    b = await bill(api, s["id"], evil)
    raw = await api.client.get(f"/api/reports/market-fee.csv?{RANGE}", headers=api.headers(C))
    assert raw.status_code == 200, raw.text
    assert raw.headers["content-type"] == "text/csv; charset=utf-8"
    assert raw.headers["content-disposition"] == (
        'attachment; filename="market-fee-2026-03-01-2026-03-04.csv"'
    )
    assert raw.text == (
        "line,day,lot_id,bill_number,invoice_number,farmer_name,buyer_name,product_name,"
        "quantity,unit,lots,amount,farmer_paid_fee,buyer_paid_fee,market_fee\r\n"
        f'LOT,{DAY2},{lot["id"]},{b["bill_number"]},,"\'=HYPERLINK(""x"")",Jane Buyer,'
        "'+cmd,12.345,QUINTAL,1,250.00,5.00,0.00,5.00\r\n"
        f"LOT,{DAY2},{other['id']},,,John Farmer,Jane Buyer,Tomatoes,1.000,KG,1,10.00,"
        "0.00,0.00,0.00\r\n"
        f"DAY_TOTAL,{DAY2},,,,,,,,,2,260.00,5.00,0.00,5.00\r\n"
        "TOTAL,,,,,,,,,,2,260.00,5.00,0.00,5.00\r\n"
    )
    by_accept = await api.client.get(
        f"/api/reports/market-fee?{RANGE}&limit=1",
        headers={**api.headers(C), "Accept": "text/csv"},
    )
    assert by_accept.content == raw.content  # CSV is every row, whatever the page


async def test_market_fee_of_a_void_bill_is_not_charged(api: AuctionApi) -> None:
    """A voided bill's fee is gone; its lot shows unbilled until billed again."""
    await charge(api, name="Fee", kind="PERCENT", rate=1, payer="FARMER", account="MARKET_YARD")
    m = await api.masters(C)
    s = await api.session(C, f"{DAY1}T10:00:00Z")
    await api.item(s["id"], m, C, final_price=1000)
    voided = await bill(api, s["id"], m["farmer_id"])
    await api.ok("DELETE", f"/api/bills/{voided['id']}", C)
    body = await report(api, f"/api/reports/market-fee?{RANGE}")
    (lot,) = body["data"]
    assert (lot["bill_id"], lot["bill_number"], lot["market_fee"]) == (None, None, D(0))
    assert body["meta"]["totals"]["market_fee"] == D(0)
    income = (await report(api, f"/api/reports/commission?{RANGE}"))["data"]["totals"]
    assert (income["bills_count"], income["commission"]) == (0, D(0))


# --- the range ---------------------------------------------------------------------------

REPORTS = ["/api/reports/commission", "/api/reports/market-fee"]


@pytest.mark.parametrize("path", REPORTS)
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-05&to=2026-03-04", "from"),  # from after to
        ("from=2025-01-01&to=2026-01-02", "to"),  # 367 days
        ("from=2026-02-30&to=2026-03-04", "from"),  # no such day
        ("from=2026-03-01&to=yesterday", "to"),
        ("from=2026-03-01T10:00:00Z&to=2026-03-04", "from"),  # a day, not an instant
        (f"from={dt.date.today() + dt.timedelta(days=40)}", "from"),  # to defaults to today
    ],
)
async def test_a_bad_range_is_400_naming_the_parameter(
    api: AuctionApi, path: str, query: str, field: str
) -> None:
    """The service's validation error (seed 003: 400 VALIDATION_ERROR), details naming it."""
    for url in (f"{path}?{query}", f"{path}.csv?{query}"):
        resp = await api.call("GET", url, C)
        assert resp.status_code == 400, resp.text
        error = resp.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert [d["loc"] for d in error["details"]] == [["query", field]], error


@pytest.mark.parametrize("path", REPORTS)
async def test_a_leap_year_is_the_longest_range(api: AuctionApi, path: str) -> None:
    body = await report(api, f"{path}?from=2024-01-01&to=2024-12-31")  # 366 days
    data = body["meta"] if path.endswith("market-fee") else body["data"]
    assert (data["from_date"], data["to_date"]) == ("2024-01-01", "2024-12-31")


@pytest.mark.parametrize("path", REPORTS)
async def test_the_range_defaults_to_this_month_so_far(api: AuctionApi, path: str) -> None:
    """No `to`: today (UTC); no `from`: the first of `to`'s month."""
    today = dt.datetime.now(dt.UTC).date()
    body = await report(api, path)
    data = body["meta"] if path.endswith("market-fee") else body["data"]
    assert (data["from_date"], data["to_date"]) == (str(today.replace(day=1)), str(today))
    body = await report(api, f"{path}?to=2026-02-14")
    data = body["meta"] if path.endswith("market-fee") else body["data"]
    assert (data["from_date"], data["to_date"]) == ("2026-02-01", "2026-02-14")


@pytest.mark.parametrize("path", REPORTS)
async def test_reports_need_the_commissioner_role(api: AuctionApi, path: str) -> None:
    resp = await api.client.get(path, headers=api.headers(C, roles=("trader",)))
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "FORBIDDEN"
    assert (await api.client.get(path)).status_code == 401


# --- the buyer's side: invoices ----------------------------------------------------------


async def invoice(api: AuctionApi, session_id: str, buyer_id: str, user: int = C) -> Any:
    return await api.ok(
        "POST",
        f"/api/sessions/{session_id}/buyer-invoices",
        user,
        201,
        json={"buyer_id": buyer_id},
    )


async def test_buyer_invoices_count_on_both_reports(api: AuctionApi) -> None:
    """Commission 5 % paid by the buyer. Buyer-side: Cess 0.5 % (AGENT), Market fee 1 %
    (MARKET_YARD), Loading 3.00 a lot (THIRD_PARTY); farmer-side: Hamali 10.00 a lot (AGENT),
    Yard fee 1.00 a lot (MARKET_YARD).

    Day 1: the farmer sells 1000.00 and 250.00 to Xavier, 100.01 to Yusuf.
    BILL-001: total 1350.01; commission 67.5005 -> 67.50 recorded, but the buyer pays it;
      hamali 30.00; yard fee 3.00 (1.00 a lot).
    INV-001 (Yusuf) is voided; INV-002 (Xavier): lots 1250.00, commission 62.50, cess 6.25,
      fee 12.50 (10.00 + 2.50 by amount), loading 6.00; INV-003 (Yusuf): lots 100.01,
      commission 5.0005 -> 5.00, cess 0.50005 -> 0.50, fee 1.0001 -> 1.00, loading 3.00.
    Commission 62.50 + 5.00 = 67.50; agent charges 30.00 + 6.25 + 0.50 = 36.75; income 104.25.
    Market fee per lot: 1.00 + 10.00, 1.00 + 2.50, 1.00 + 1.00; 3.00 + 13.50 = 16.50."""
    await api.ok("PUT", "/api/settings", C, json={"commission_payer": "BUYER"})
    await charge(api, name="Cess", kind="PERCENT", rate=0.5, payer="BUYER")
    await charge(
        api, name="Market fee", kind="PERCENT", rate=1, payer="BUYER", account="MARKET_YARD"
    )
    await charge(
        api, name="Loading", kind="FIXED_PER_LOT", rate=3, payer="BUYER", account="THIRD_PARTY"
    )
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=10, payer="FARMER")
    await charge(
        api, name="Yard fee", kind="FIXED_PER_LOT", rate=1, payer="FARMER", account="MARKET_YARD"
    )
    m = await api.masters(C)
    xavier = m["buyer_id"]
    yusuf = (await api.ok("POST", "/api/buyers", C, 201, json={"name": "Yusuf"}))["id"]
    s = await api.session(C, f"{DAY1}T10:00:00Z")
    lot1 = await api.item(s["id"], m, C, final_price=1000)
    lot2 = await api.item(s["id"], m, C, final_price=250)
    lot3 = await api.item(s["id"], {**m, "buyer_id": yusuf}, C, final_price=100.01)
    b = await bill(api, s["id"], m["farmer_id"])
    assert D(str(b["net_amount"])) == D("1317.01")  # 1350.01 - 30.00 - 3.00
    voided = await invoice(api, s["id"], yusuf)
    await api.ok("DELETE", f"/api/buyer-invoices/{voided['id']}", C)
    x = await invoice(api, s["id"], xavier)
    y = await invoice(api, s["id"], yusuf)
    assert [i["invoice_number"] for i in (voided, x, y)] == ["INV-001", "INV-002", "INV-003"]
    assert (D(str(x["total_amount"])), D(str(y["total_amount"]))) == (D("1337.25"), D("109.51"))

    data = (await report(api, f"/api/reports/commission?{RANGE}"))["data"]
    assert data["totals"] == _figures(
        lots_count=3,
        lots_amount="1350.01",
        bills_count=1,
        billed_amount="1350.01",
        invoices_count=2,
        invoiced_amount="1350.01",
        buyer_commission="67.50",
        commission="67.50",
        farmer_agent_charges="30.00",
        buyer_agent_charges="6.75",
        agent_charges="36.75",
        income="104.25",
    )

    body = await report(api, f"/api/reports/market-fee?{RANGE}")
    got = [
        (
            r["lot_id"],
            r["bill_number"],
            r["invoice_number"],
            r["buyer_name"],
            r["farmer_paid_fee"],
            r["buyer_paid_fee"],
            r["market_fee"],
        )
        for r in body["data"]
    ]
    assert got == [
        (lot1["id"], "BILL-001", "INV-002", "Jane Buyer", D("1.00"), D("10.00"), D("11.00")),
        (lot2["id"], "BILL-001", "INV-002", "Jane Buyer", D("1.00"), D("2.50"), D("3.50")),
        (lot3["id"], "BILL-001", "INV-003", "Yusuf", D("1.00"), D("1.00"), D("2.00")),
    ]
    assert [r["invoice_id"] for r in body["data"]] == [x["id"], x["id"], y["id"]]
    assert body["meta"]["totals"] == {
        "lots_count": 3,
        "lots_amount": D("1350.01"),
        "farmer_paid_fee": D("3.00"),
        "buyer_paid_fee": D("13.50"),
        "market_fee": D("16.50"),
    }
    csv = await api.client.get(f"/api/reports/market-fee.csv?{RANGE}", headers=api.headers(C))
    assert csv.text.split("\r\n")[3] == (
        f"LOT,{DAY1},{lot3['id']},BILL-001,INV-003,John Farmer,Yusuf,Tomatoes,50.500,KG,1,"
        "100.01,1.00,1.00,2.00"
    )


@pytest.mark.parametrize("path", REPORTS)
@pytest.mark.parametrize(
    "query", ["from=0001-01-01&to=0001-12-31", "from=9999-01-01&to=9999-12-31"]
)
async def test_the_calendars_ends_are_ranges_like_any_other(
    api: AuctionApi, path: str, query: str
) -> None:
    """The first and last days Python and PostgreSQL share: an empty report, never a 500."""
    for url in (f"{path}?{query}", f"{path}.csv?{query}"):
        resp = await api.client.get(url, headers=api.headers(C))
        assert resp.status_code == 200, resp.text
