"""Seed 003 session detail and delete rules that involve bills (bills come from part B's
API): detail lists bills with farmer and bill_items, VOID ones included with their status;
items show their bill; summary commission counts non-void bills only."""

from __future__ import annotations

from typing import Any


async def _bill(api: Any, sid: str, farmer_id: str, user: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = await api.ok(
        "POST", f"/api/sessions/{sid}/bills", user, 201, json={"farmer_id": farmer_id}
    )
    return data


async def test_detail_lists_bills_with_farmer_and_bill_items(api: Any) -> None:
    """Detail: bills with bill_number, amounts, payment_status, farmer and bill_items;
    _count.bills; items carry their bill {id, bill_number, payment_status}."""
    m = await api.masters()
    s = await api.session(1, "2025-08-03T10:00:00.000Z")
    await api.item(s["id"], m, quantity=10, final_price=500.0)
    bill = await _bill(api, s["id"], m["farmer_id"])
    data = await api.ok("GET", f"/api/sessions/{s['id']}", 1)
    assert data["_count"] == {"auction_items": 1, "bills": 1}
    [b] = data["bills"]
    assert b["id"] == bill["id"]
    assert b["bill_number"] == "BILL-001"
    assert (b["total_amount"], b["commission_amount"], b["net_amount"]) == (500.0, 25.0, 475.0)
    assert b["payment_status"] == "UNPAID"
    assert b["farmer"]["id"] == m["farmer_id"] and b["farmer"]["name"] == "John Farmer"
    assert len(b["bill_items"]) == 1 and b["bill_items"][0]["amount"] == 500.0
    [item] = data["auction_items"]
    assert item["bill_id"] == bill["id"]
    assert item["bill"] == {
        **item["bill"],
        "id": bill["id"],
        "bill_number": "BILL-001",
        "payment_status": "UNPAID",
    }
    summary = data["summary"]
    assert summary["total_commission"] == 25.0
    assert summary["billed_amount"] == 500.0 and summary["unbilled_amount"] == 0
    # The list's _count agrees.
    [row] = await api.ok("GET", "/api/sessions", 1)
    assert row["_count"] == {"auction_items": 1, "bills": 1}


async def test_detail_includes_void_bills_and_excludes_them_from_commission(api: Any) -> None:
    """A voided bill stays in the detail with status VOID; its items are unbilled again and
    its commission no longer counts."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m, final_price=200)
    bill = await _bill(api, s["id"], m["farmer_id"])
    await api.ok("DELETE", f"/api/bills/{bill['id']}", 1)
    data = await api.ok("GET", f"/api/sessions/{s['id']}", 1)
    [b] = data["bills"]
    assert b["status"] == "VOID"
    assert data["auction_items"][0]["bill"] is None
    assert data["summary"]["total_commission"] == 0
    assert data["summary"]["unbilled_amount"] == 200
    # Unbilled again: the item can be edited.
    url = f"/api/sessions/{s['id']}/items/{item['id']}"
    assert (await api.ok("PUT", url, 1, json={"final_price": 210}))["final_price"] == 210


async def test_cannot_delete_session_with_bills(api: Any) -> None:
    """Rule: cannot delete a session with bills (seed's exact 409 message), even when all
    its items are gone (a voided bill keeps its number)."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    bill = await _bill(api, s["id"], m["farmer_id"])
    await api.ok("DELETE", f"/api/bills/{bill['id']}", 1)
    await api.ok("DELETE", f"/api/sessions/{s['id']}/items/{item['id']}", 1, 204)
    resp = await api.call("DELETE", f"/api/sessions/{s['id']}", 1)
    assert resp.status_code == 409
    assert resp.json()["error"] == {
        "message": "Cannot delete session with bills. Please remove all bills first.",
        "code": "CONFLICT",
    }


async def test_billed_item_update_and_delete_are_409_via_billing(api: Any) -> None:
    """Rule 2 with a real bill: paid (billed) items cannot be modified or deleted; the
    `paid` filter lists them."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    await _bill(api, s["id"], m["farmer_id"])
    url = f"/api/sessions/{s['id']}/items/{item['id']}"
    assert (await api.call("PUT", url, 1, json={"quantity": 1})).status_code == 409
    assert (await api.call("DELETE", url, 1)).status_code == 409
    rows = await api.ok("GET", f"/api/sessions/{s['id']}/items?paid=true", 1)
    assert [r["id"] for r in rows] == [item["id"]]


async def test_farmer_with_bill_cannot_be_deleted(api: Any) -> None:
    """A farmer referenced by a bill (even with the items gone) is 409: deactivate instead."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    bill = await _bill(api, s["id"], m["farmer_id"])
    await api.ok("DELETE", f"/api/bills/{bill['id']}", 1)
    await api.ok("DELETE", f"/api/sessions/{s['id']}/items/{item['id']}", 1, 204)
    resp = await api.call("DELETE", f"/api/farmers/{m['farmer_id']}", 1)
    assert resp.status_code == 409
    assert (await api.call("DELETE", f"/api/buyers/{m['buyer_id']}", 1)).status_code == 200
