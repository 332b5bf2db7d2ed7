"""Farmer bills with charges (issue 11 item 1): each farmer-side charge is its own line,
net = total - the farmer-side lines, buyer-side charges never appear, the profile's caps are
409 with the reason, money half up per line. Amounts are computed by hand in each test."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from auction_service.bills.models import Bill

from .conftest import AuctionApi

C1 = 1201


def D(x: Any) -> Decimal:
    return Decimal(str(x))


async def charge(api: AuctionApi, **body: Any) -> dict[str, Any]:
    body.setdefault("payer", "FARMER")
    data: dict[str, Any] = await api.ok("POST", "/api/charges", C1, 201, json=body)
    return data


async def floor(api: AuctionApi, lots: list[tuple[str, float, float]]) -> tuple[str, str]:
    """Masters, a session, and the farmer's lots (unit, quantity, price): (session, farmer)."""
    m = await api.masters(C1)
    s = await api.session(C1)
    for unit, quantity, price in lots:
        await api.item(s["id"], m, C1, unit=unit, quantity=quantity, final_price=price)
    return s["id"], m["farmer_id"]


async def bill(api: AuctionApi, sid: str, fid: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = await api.ok(
        "POST", f"/api/sessions/{sid}/bills", C1, 201, json={"farmer_id": fid, **extra}
    )
    return data


async def refused(api: AuctionApi, sid: str, fid: str, **extra: Any) -> dict[str, Any]:
    resp = await api.call(
        "POST", f"/api/sessions/{sid}/bills", C1, json={"farmer_id": fid, **extra}
    )
    assert resp.status_code == 409, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] == "CONFLICT"
    return error


def lines(b: dict[str, Any]) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    return [
        (c["name"], c["kind"], D(c["basis"]), D(c["rate"]), D(c["amount"])) for c in b["charges"]
    ]


async def test_no_charges_bill_is_as_before(api: AuctionApi) -> None:
    """Without charges a bill is what it always was: net = total - commission (5% of 2525.00
    = 126.25), one line (the commission), no charges."""
    sid, fid = await floor(api, [("KG", 50.5, 2525.0)])
    b = await bill(api, sid, fid)
    assert (D(b["total_amount"]), D(b["commission_amount"]), D(b["net_amount"])) == (
        D("2525.00"),
        D("126.25"),
        D("2398.75"),
    )
    assert b["commission_payer"] == "FARMER" and D(b["charges_amount"]) == 0
    assert D(b["deductions_amount"]) == D("126.25")
    assert lines(b) == [("Commission", "PERCENT", D("2525.00"), D("5"), D("126.25"))]
    assert b["charges"][0]["type"] == "COMMISSION" and b["charges"][0]["charge_id"] is None


async def test_percent_charge_is_a_percent_of_the_lots_total(api: AuctionApi) -> None:
    """PERCENT: lots total 1000.00 + 333.33 = 1333.33; 2.5% = 33.33325 -> 33.33.
    Commission 5% = 66.6665 -> 66.67; net = 1333.33 - 66.67 - 33.33 = 1233.33."""
    await charge(api, name="Market fee", kind="PERCENT", rate=2.5)
    sid, fid = await floor(api, [("KG", 100, 1000.0), ("KG", 10, 333.33)])
    b = await bill(api, sid, fid)
    assert lines(b)[1] == ("Market fee", "PERCENT", D("1333.33"), D("2.5"), D("33.33"))
    assert D(b["commission_amount"]) == D("66.67") and D(b["charges_amount"]) == D("33.33")
    assert D(b["net_amount"]) == D("1233.33")


async def test_per_unit_charge_counts_only_lots_in_its_unit(api: AuctionApi) -> None:
    """PER_UNIT QUINTAL 3.00: lots of 2.5 and 1.25 quintal (the 100 kg lot is not counted):
    3.75 x 3.00 = 11.25. Total 600 + 300 + 100 = 1000.00, commission 50.00,
    net = 1000.00 - 50.00 - 11.25 = 938.75."""
    await charge(api, name="Weighing", kind="PER_UNIT", rate=3, unit="QUINTAL")
    sid, fid = await floor(api, [("QUINTAL", 2.5, 600), ("QUINTAL", 1.25, 300), ("KG", 100, 100)])
    b = await bill(api, sid, fid)
    assert lines(b)[1] == ("Weighing", "PER_UNIT", D("3.75"), D("3"), D("11.25"))
    assert b["charges"][1]["unit"] == "QUINTAL"
    assert D(b["net_amount"]) == D("938.75")


async def test_fixed_per_lot_charge_is_rate_times_lots(api: AuctionApi) -> None:
    """FIXED_PER_LOT 7.50 x 3 lots = 22.50. Total 300.00, commission 15.00,
    net = 300.00 - 15.00 - 22.50 = 262.50."""
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=7.5)
    sid, fid = await floor(api, [("BAG", 1, 100), ("BAG", 2, 100), ("CRATE", 3, 100)])
    b = await bill(api, sid, fid)
    assert lines(b)[1] == ("Hamali", "FIXED_PER_LOT", D("3"), D("7.5"), D("22.50"))
    assert D(b["net_amount"]) == D("262.50")


async def test_every_farmer_charge_is_its_own_line_and_buyer_charges_never_appear(
    api: AuctionApi,
) -> None:
    """Lots: 100 kg for 2000.00, 2.5 quintal for 5000.00, 50.5 kg for 1234.55; total 8234.55.
    Commission 5% = 411.7275 -> 411.73. Market fee 1.5% = 123.51825 -> 123.52; Weighing
    0.25/kg x 150.5 kg = 37.625 -> 37.63 (half up); Hamali 10 x 3 lots = 30.00.
    Charges 191.15; net = 8234.55 - 411.73 - 191.15 = 7631.67. The buyer's Unloading and the
    inactive Old cess are not on the bill. Lines: the commission, then charges by name."""
    await charge(api, name="Market fee", kind="PERCENT", rate=1.5)
    await charge(api, name="Weighing", kind="PER_UNIT", rate=0.25, unit="KG")
    await charge(api, name="hamali", kind="FIXED_PER_LOT", rate=10)
    await charge(api, name="Unloading", kind="PER_UNIT", rate=4, unit="QUINTAL", payer="BUYER")
    await charge(api, name="Old cess", kind="PERCENT", rate=1, active=False)
    sid, fid = await floor(api, [("KG", 100, 2000), ("QUINTAL", 2.5, 5000), ("KG", 50.5, 1234.55)])
    b = await bill(api, sid, fid)
    assert lines(b) == [
        ("Commission", "PERCENT", D("8234.55"), D("5"), D("411.73")),
        ("hamali", "FIXED_PER_LOT", D("3"), D("10"), D("30.00")),
        ("Market fee", "PERCENT", D("8234.55"), D("1.5"), D("123.52")),
        ("Weighing", "PER_UNIT", D("150.5"), D("0.25"), D("37.63")),
    ]
    assert all(c["payer"] == "FARMER" for c in b["charges"])
    assert D(b["charges_amount"]) == D("191.15")
    assert D(b["deductions_amount"]) == D("602.88")
    assert D(b["net_amount"]) == D("7631.67") == D(b["balance_amount"])
    assert D(b["commission_amount"]) == D("411.73")
    got = await api.ok("GET", f"/api/bills/{b['id']}", C1)
    assert got["charges"] == b["charges"] and got["net_amount"] == b["net_amount"]


async def test_commission_paid_by_the_buyer_is_not_deducted(api: AuctionApi) -> None:
    """commission_payer BUYER: the commission (5% of 1000.00 = 50.00) is still computed and
    shown in commission_amount, but it is not a farmer line: net = 1000.00 - 10.00 (Hamali
    10 x 1 lot) = 990.00."""
    settings = await api.ok("PUT", "/api/settings", C1, json={"commission_payer": "BUYER"})
    assert settings["commission_payer"] == "BUYER" and settings["commission_rate"] == 5
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=10)
    sid, fid = await floor(api, [("KG", 10, 1000)])
    b = await bill(api, sid, fid)
    assert b["commission_payer"] == "BUYER" and D(b["commission_amount"]) == D("50.00")
    assert lines(b) == [("Hamali", "FIXED_PER_LOT", D("1"), D("10"), D("10.00"))]
    assert D(b["net_amount"]) == D("990.00") and D(b["deductions_amount"]) == D("10.00")


async def test_each_line_rounds_half_up_and_the_total_is_the_sum_of_rounded_lines(
    api: AuctionApi,
) -> None:
    """0.5 kg: Weighing 0.25/kg = 0.125 -> 0.13 and Sorting 0.25/kg = 0.125 -> 0.13 (half up,
    not to even), so the charges are 0.26, not round(0.25) = 0.25; Bagging 0.21/kg = 0.105
    -> 0.11. Commission 5% of 10.00 = 0.50. net = 10.00 - 0.50 - 0.37 = 9.13."""
    await charge(api, name="Weighing", kind="PER_UNIT", rate=0.25, unit="KG")
    await charge(api, name="Sorting", kind="PER_UNIT", rate=0.25, unit="KG")
    await charge(api, name="Bagging", kind="PER_UNIT", rate=0.21, unit="KG")
    sid, fid = await floor(api, [("KG", 0.5, 10)])
    b = await bill(api, sid, fid)
    assert [D(c["amount"]) for c in b["charges"]] == [D("0.50"), D("0.11"), D("0.13"), D("0.13")]
    assert D(b["charges_amount"]) == D("0.37")
    assert D(b["net_amount"]) == D("9.13")


async def test_commission_above_the_profile_cap_is_409_with_the_reason(api: AuctionApi) -> None:
    """profile.max_commission_rate 4: the default 5% is refused (409, reason and both rates),
    no number is used and the lots stay unbilled; an override of 4% is allowed (BILL-001,
    commission 4% of 2525.00 = 101.00)."""
    s = await api.ok("PUT", "/api/settings", C1, json={"profile": {"max_commission_rate": 4}})
    assert s["profile"] == {"max_commission_rate": 4.0, "farmer_charges_allowed": True}
    sid, fid = await floor(api, [("KG", 50.5, 2525.0)])
    error = await refused(api, sid, fid)
    assert "cap" in error["message"] and "4" in error["message"]
    assert error["details"] == {
        "reason": "COMMISSION_RATE_ABOVE_CAP",
        "commission_rate": 5.0,
        "max_commission_rate": 4.0,
    }
    error = await refused(api, sid, fid, commission_rate=4.01)
    assert error["details"]["reason"] == "COMMISSION_RATE_ABOVE_CAP"
    b = await bill(api, sid, fid, commission_rate=4)
    assert b["bill_number"] == "BILL-001" and D(b["commission_amount"]) == D("101.00")


async def test_cap_applies_whoever_pays_the_commission(api: AuctionApi) -> None:
    await api.ok(
        "PUT",
        "/api/settings",
        C1,
        json={"commission_payer": "BUYER", "profile": {"max_commission_rate": 2}},
    )
    sid, fid = await floor(api, [("KG", 1, 100)])
    assert (await refused(api, sid, fid))["details"]["reason"] == "COMMISSION_RATE_ABOVE_CAP"


async def test_profile_forbidding_farmer_charges_refuses_the_bill_with_the_reason(
    api: AuctionApi,
) -> None:
    """profile.farmer_charges_allowed false and an active farmer-paid Hamali: 409 naming it.
    Buyer-paid and inactive farmer charges do not count; once Hamali is on the buyer the bill
    is made with the commission as its only line."""
    await api.ok("PUT", "/api/settings", C1, json={"profile": {"farmer_charges_allowed": False}})
    hamali = await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=10)
    await charge(api, name="Unloading", kind="FIXED_PER_LOT", rate=5, payer="BUYER")
    await charge(api, name="Old cess", kind="PERCENT", rate=1, active=False)
    sid, fid = await floor(api, [("KG", 10, 1000)])
    error = await refused(api, sid, fid)
    assert "forbids charges on the farmer" in error["message"] and "Hamali" in error["message"]
    assert error["details"] == {"reason": "FARMER_CHARGES_FORBIDDEN", "charges": ["Hamali"]}
    await api.ok("PUT", f"/api/charges/{hamali['id']}", C1, json={"payer": "BUYER"})
    b = await bill(api, sid, fid)
    assert b["bill_number"] == "BILL-001"
    assert [c["type"] for c in b["charges"]] == ["COMMISSION"]
    assert D(b["net_amount"]) == D("950.00")


async def test_charges_above_the_total_are_409(api: AuctionApi) -> None:
    """Hamali 60 per lot on a 50.00 lot would make the net negative: refused."""
    await charge(api, name="Hamali", kind="FIXED_PER_LOT", rate=60)
    sid, fid = await floor(api, [("KG", 1, 50)])
    assert (await refused(api, sid, fid))["details"] == {"reason": "CHARGES_EXCEED_TOTAL"}


async def test_charge_lines_are_a_snapshot(api: AuctionApi) -> None:
    """Editing the charge after the bill changes nothing on the bill (name, rate, amount);
    the next bill uses the new values. A charge on a bill is deactivated, not deleted."""
    fee = await charge(api, name="Market fee", kind="PERCENT", rate=1)
    sid, fid = await floor(api, [("KG", 10, 1000)])
    first = await bill(api, sid, fid)
    assert lines(first)[1] == ("Market fee", "PERCENT", D("1000.00"), D("1"), D("10.00"))
    await api.ok("PUT", f"/api/charges/{fee['id']}", C1, json={"name": "Mandi fee", "rate": 2})
    again = await api.ok("GET", f"/api/bills/{first['id']}", C1)
    assert again["charges"] == first["charges"] and again["net_amount"] == 940.0
    assert again["charges"][1]["charge_id"] == fee["id"]
    m = await api.masters(C1, suffix=" 2")
    await api.item(sid, m, C1, quantity=1, final_price=500)
    second = await bill(api, sid, m["farmer_id"])
    assert lines(second)[1] == ("Mandi fee", "PERCENT", D("500.00"), D("2"), D("10.00"))
    resp = await api.call("DELETE", f"/api/charges/{fee['id']}", C1)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "CONFLICT"
    await api.ok("PUT", f"/api/charges/{fee['id']}", C1, json={"active": False})


async def test_bills_table_enforces_net_is_total_less_farmer_lines(
    api: AuctionApi, auction_app: Any
) -> None:
    """The database refuses a net that ignores the charges or a commission the farmer pays,
    and accepts net = total - charges when the buyer pays the commission."""
    sid, fid = await floor(api, [])

    def row(seq: int, payer: str, net: str) -> Bill:
        return Bill(
            commissioner_id=C1,
            session_id=uuid.UUID(sid),
            farmer_id=uuid.UUID(fid),
            seq=seq,
            total_amount=D("100.00"),
            commission_rate=D("5"),
            commission_amount=D("5.00"),
            commission_payer=payer,
            charges_amount=D("3.00"),
            net_amount=D(net),
        )

    maker = auction_app.state.db.sessionmaker
    for payer, net in (("FARMER", "95.00"), ("FARMER", "97.00"), ("BUYER", "95.00")):
        with pytest.raises(IntegrityError, match="net_is_total_less_farmer_lines"):
            async with maker.begin() as db:
                db.add(row(1, payer, net))
    async with maker.begin() as db:
        db.add(row(1, "FARMER", "92.00"))
        db.add(row(2, "BUYER", "97.00"))
