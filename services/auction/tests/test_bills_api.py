"""Bills through the public API only (masters, sessions and items made by part A's routes):
the seams between items, bills and the session detail."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

C = 11


async def test_billing_flow_through_the_api(api: Any) -> None:
    """Items made by the items API are billed; the items API then shows them billed
    (seed `paid=true`, bill_id set) and refuses to change them (409); the session detail
    lists the bill; voiding makes them editable and unbilled again."""
    m = await api.masters(C)
    other = await api.masters(C, suffix=" 2")
    session = await api.session(C, "2025-08-03T10:00:00.000Z")
    sid = session["id"]
    a = await api.item(sid, m, C, final_price=100.10, quantity=2.5)
    b = await api.item(sid, m, C, final_price=0.99, unit="BAG", quantity=3)
    await api.item(sid, other, C, final_price=50)

    bill = await api.ok(
        "POST", f"/api/sessions/{sid}/bills", C, 201, json={"farmer_id": m["farmer_id"]}
    )
    assert bill["bill_number"] == "BILL-001"
    assert Decimal(str(bill["total_amount"])) == Decimal("101.09")
    # 101.09 x 5 % = 5.0545 -> 5.05
    assert Decimal(str(bill["commission_amount"])) == Decimal("5.05")
    assert {i["auction_item_id"] for i in bill["bill_items"]} == {a["id"], b["id"]}
    assert {(i["unit"], i["product_name"]) for i in bill["bill_items"]} == {
        ("KG", "Tomatoes"),
        ("BAG", "Tomatoes"),
    }

    billed = await api.ok("GET", f"/api/sessions/{sid}/items?paid=true", C)
    assert {i["id"] for i in billed} == {a["id"], b["id"]}
    assert {i["bill_id"] for i in billed} == {bill["id"]}
    unbilled = await api.ok("GET", f"/api/sessions/{sid}/items?paid=false", C)
    assert [i["farmer_id"] for i in unbilled] == [other["farmer_id"]]
    change = await api.call(
        "PUT", f"/api/sessions/{sid}/items/{a['id']}", C, json={"final_price": 1}
    )
    assert change.status_code == 409, change.text

    detail = await api.ok("GET", f"/api/sessions/{sid}", C)
    assert [x["bill_number"] for x in detail["bills"]] == ["BILL-001"]
    assert detail["bills"][0]["farmer"]["id"] == m["farmer_id"]

    voided = await api.ok("DELETE", f"/api/bills/{bill['id']}", C)
    assert voided == {"message": "Bill voided successfully"}
    assert await api.ok("GET", f"/api/sessions/{sid}/items?paid=true", C) == []
    await api.ok("PUT", f"/api/sessions/{sid}/items/{a['id']}", C, json={"final_price": 1})
    again = await api.ok(
        "POST", f"/api/sessions/{sid}/bills", C, 201, json={"farmer_id": m["farmer_id"]}
    )
    assert again["bill_number"] == "BILL-002"
    assert Decimal(str(again["total_amount"])) == Decimal("1.99")


async def test_session_with_bills_cannot_be_deleted_and_farmer_stays_referenced(api: Any) -> None:
    """Bills reference their session and farmer (RESTRICT): neither disappears under a bill,
    even a void one, so a bill number always resolves; the answer is 409, never 500."""
    m = await api.masters(C)
    session = await api.session(C, "2025-08-04T10:00:00.000Z")
    sid = session["id"]
    item = await api.item(sid, m, C)
    bill = await api.ok(
        "POST", f"/api/sessions/{sid}/bills", C, 201, json={"farmer_id": m["farmer_id"]}
    )
    await api.ok("DELETE", f"/api/bills/{bill['id']}", C)
    await api.ok("DELETE", f"/api/sessions/{sid}/items/{item['id']}", C, 204)
    resp = await api.call("DELETE", f"/api/sessions/{sid}", C)
    assert resp.status_code == 409, resp.text
    resp = await api.call("DELETE", f"/api/farmers/{m['farmer_id']}", C)
    assert resp.status_code == 409, resp.text
