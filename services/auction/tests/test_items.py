"""Seed 003, Auction Items Management (sections 5-9) and its four business rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

ITEM_KEYS = {
    "id",
    "session_id",
    "farmer_id",
    "product_id",
    "buyer_id",
    "unit",
    "quantity",
    "final_price",
    "bill_id",
    "created_at",
    "updated_at",
    "farmer",
    "product",
    "buyer",
    "bill",
}
MISSING = "6f1c1b1e-8a4e-4d0b-9a53-0d7e8f7b2c11"


async def _complete(api: Any, sid: str) -> None:
    await api.ok("PUT", f"/api/sessions/{sid}", 1, json={"status": "COMPLETED"})


async def _mark_billed(auction_app: Any, item_id: str) -> None:
    """Stand-in for part B's billing: a bill row and the item's bill_id (as billing sets it)."""
    async with auction_app.state.db.engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "INSERT INTO bills (commissioner_id, session_id, farmer_id, seq, "
                    "total_amount, commission_rate, commission_amount, net_amount) "
                    "SELECT commissioner_id, session_id, farmer_id, "
                    "(SELECT coalesce(max(seq), 0) + 1 FROM bills), final_price, 5, 0, "
                    "final_price FROM auction_items WHERE id = :id RETURNING id"
                ),
                {"id": item_id},
            )
        ).scalar_one()
        await conn.execute(
            text("UPDATE auction_items SET bill_id = :b WHERE id = :id"), {"b": row, "id": item_id}
        )


# --- 6. Add Auction Item ---
async def test_add_item_seed_example(api: Any) -> None:
    """Add: the seed's body gives 201 with the seed's fields, relations and bill null."""
    m = await api.masters()
    s = await api.session()
    resp = await api.call(
        "POST",
        f"/api/sessions/{s['id']}/items",
        1,
        json={
            "farmer_id": m["farmer_id"],
            "product_id": m["product_id"],
            "buyer_id": m["buyer_id"],
            "unit": "KG",
            "quantity": 50.5,
            "final_price": 2525.0,
        },
    )
    assert resp.status_code == 201
    data = resp.json()["data"]
    assert ITEM_KEYS <= set(data)
    assert data["session_id"] == s["id"]
    assert data["quantity"] == 50.5 and data["final_price"] == 2525.0
    assert data["bill_id"] is None and data["bill"] is None
    assert data["farmer"] == {
        **data["farmer"],
        "id": m["farmer_id"],
        "name": "John Farmer",
        "phone": "+1234567890",
        "village": "Village",
    }
    assert data["product"]["category"] == {"id": m["category_id"], "name": "Veg"}
    assert data["buyer"] == {
        **data["buyer"],
        "id": m["buyer_id"],
        "name": "Jane Buyer",
        "phone": "+0987654321",
    }
    assert data["created_at"].endswith("Z")


async def test_add_item_every_unit(api: Any) -> None:
    """Units: KG, QUINTAL, TONNE, BAG, BOX, CRATE, DOZEN, PIECE; anything else is 400."""
    m = await api.masters()
    s = await api.session()
    for unit in ("KG", "QUINTAL", "TONNE", "BAG", "BOX", "CRATE", "DOZEN", "PIECE"):
        assert (await api.item(s["id"], m, unit=unit))["unit"] == unit
    for unit in ("kg", "LITRE", None):
        resp = await api.call(
            "POST",
            f"/api/sessions/{s['id']}/items",
            1,
            json={
                **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
                "unit": unit,
                "quantity": 1,
                "final_price": 1,
            },
        )
        assert resp.status_code == 400, unit
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_item_decimals_exact_never_rounded(api: Any) -> None:
    """quantity > 0 with at most 3 decimals, final_price >= 0 with at most 2: more is 400,
    never rounded; exact values round-trip."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m, quantity=0.001, final_price=0)
    assert item["quantity"] == 0.001 and item["final_price"] == 0
    item = await api.item(s["id"], m, quantity="12345678.125", final_price="999999999.99")
    assert item["quantity"] == 12345678.125 and item["final_price"] == 999999999.99
    bad = [
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": 1.0001},
        {"final_price": -0.01},
        {"final_price": 10.005},
        {"quantity": 1e12},
        {"final_price": 1e13},
        {"quantity": "abc"},
        {"final_price": True},
    ]
    for override in bad:
        body = {
            **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
            "unit": "KG",
            "quantity": 1,
            "final_price": 1,
            **override,
        }
        resp = await api.call("POST", f"/api/sessions/{s['id']}/items", 1, json=body)
        assert resp.status_code == 400, (override, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await api.ok("GET", f"/api/sessions/{s['id']}", 1))["_count"]["auction_items"] == 2


async def test_add_item_missing_fields_is_400_with_details(api: Any) -> None:
    s = await api.session()
    resp = await api.call("POST", f"/api/sessions/{s['id']}/items", 1, json={"unit": "KG"})
    assert resp.status_code == 400
    fields = {d["loc"][-1] for d in resp.json()["error"]["details"]}
    assert {"farmer_id", "product_id", "buyer_id", "quantity", "final_price"} <= fields


async def test_rule3_referenced_masters_must_exist(api: Any) -> None:
    """Rule 3: a missing farmer, product or buyer is 400 VALIDATION_ERROR naming the field."""
    m = await api.masters()
    s = await api.session()
    for field in ("farmer_id", "product_id", "buyer_id"):
        body = {
            **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
            "unit": "KG",
            "quantity": 1,
            "final_price": 1,
            field: MISSING,
        }
        resp = await api.call("POST", f"/api/sessions/{s['id']}/items", 1, json=body)
        assert resp.status_code == 400
        err = resp.json()["error"]
        assert err["code"] == "VALIDATION_ERROR"
        assert [d["loc"] for d in err["details"]] == [["body", field]]


async def test_rule3_referenced_masters_must_be_active(api: Any) -> None:
    """Rule 3: an inactive farmer, product or buyer is 400 with field details."""
    m = await api.masters()
    s = await api.session()
    for field, path in (
        ("farmer_id", "farmers"),
        ("product_id", "products"),
        ("buyer_id", "buyers"),
    ):
        await api.ok("PUT", f"/api/{path}/{m[field]}", 1, json={"active": False})
    body = {
        **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
        "unit": "KG",
        "quantity": 1,
        "final_price": 1,
    }
    resp = await api.call("POST", f"/api/sessions/{s['id']}/items", 1, json=body)
    assert resp.status_code == 400
    details = resp.json()["error"]["details"]
    assert {d["loc"][-1] for d in details} == {"farmer_id", "product_id", "buyer_id"}
    assert all("inactive" in d["msg"] for d in details)


async def test_rule3_masters_of_another_commissioner_are_rejected(api: Any) -> None:
    """Rule 3/4: another commissioner's farmer, product or buyer is 400 (as if missing)."""
    mine = await api.masters(1)
    theirs = await api.masters(2)
    s = await api.session(1)
    for field in ("farmer_id", "product_id", "buyer_id"):
        body = {
            **{k: mine[k] for k in ("farmer_id", "product_id", "buyer_id")},
            "unit": "KG",
            "quantity": 1,
            "final_price": 1,
            field: theirs[field],
        }
        resp = await api.call("POST", f"/api/sessions/{s['id']}/items", 1, json=body)
        assert resp.status_code == 400
        assert resp.json()["error"]["details"][0]["loc"] == ["body", field]


async def test_rule1_items_only_in_active_sessions(api: Any) -> None:
    """Rule 1: add, update and delete in a COMPLETED session are 409; reads still work."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    await _complete(api, s["id"])
    body = {
        **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
        "unit": "KG",
        "quantity": 1,
        "final_price": 1,
    }
    for method, url, payload in (
        ("POST", f"/api/sessions/{s['id']}/items", body),
        ("PUT", f"/api/sessions/{s['id']}/items/{item['id']}", {"quantity": 2}),
        ("DELETE", f"/api/sessions/{s['id']}/items/{item['id']}", None),
    ):
        resp = await api.call(method, url, 1, json=payload)
        assert resp.status_code == 409, (method, resp.text)
        assert resp.json()["error"]["code"] == "CONFLICT"
    assert (await api.ok("GET", f"/api/sessions/{s['id']}/items/{item['id']}", 1))[
        "quantity"
    ] == 50.5


async def test_rule2_billed_items_cannot_be_modified_or_deleted(api: Any, auction_app: Any) -> None:
    """Rule 2: an item with bill_id is immutable: update and delete are 409; it shows its bill."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    await _mark_billed(auction_app, item["id"])
    url = f"/api/sessions/{s['id']}/items/{item['id']}"
    resp = await api.call("PUT", url, 1, json={"quantity": 2})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "CONFLICT"
    assert (await api.call("DELETE", url, 1)).status_code == 409
    data = await api.ok("GET", url, 1)
    assert data["bill_id"] is not None
    assert data["bill"]["id"] == data["bill_id"]
    assert data["bill"]["bill_number"] == "BILL-001"
    assert data["bill"]["payment_status"] == "UNPAID"
    assert data["quantity"] == 50.5


# --- 5. List Session Items ---
async def test_list_items_filters_and_paid(api: Any, auction_app: Any) -> None:
    """List: farmer_id, product_id, buyer_id filters; paid=true means billed."""
    m1 = await api.masters(1, "1")
    m2 = await api.masters(1, "2")
    s = await api.session()
    a = await api.item(s["id"], m1)
    b = await api.item(s["id"], m2)
    await _mark_billed(auction_app, b["id"])
    base = f"/api/sessions/{s['id']}/items"
    for key in ("farmer_id", "product_id", "buyer_id"):
        rows = await api.ok("GET", f"{base}?{key}={m1[key]}", 1)
        assert [r["id"] for r in rows] == [a["id"]]
    assert [r["id"] for r in await api.ok("GET", f"{base}?paid=true", 1)] == [b["id"]]
    assert [r["id"] for r in await api.ok("GET", f"{base}?paid=false", 1)] == [a["id"]]
    resp = await api.call("GET", f"{base}?paid=maybe", 1)
    assert resp.status_code == 400
    resp = await api.call("GET", f"{base}?farmer_id=nope", 1)
    assert resp.status_code == 400


async def test_list_items_seed_shape_pagination_and_sorting(api: Any) -> None:
    """Defaults page 1, limit 10, sortBy created_at desc; sortBy final_price/quantity; meta."""
    m = await api.masters()
    s = await api.session()
    items = [
        await api.item(s["id"], m, quantity=q, final_price=p)
        for q, p in ((3, 10), (1, 30), (2, 20), (2, 20))
    ]
    base = f"/api/sessions/{s['id']}/items"
    resp = await api.call("GET", base, 1)
    body = resp.json()
    assert body["meta"]["page"] == 1 and body["meta"]["limit"] == 10
    assert body["meta"]["total"] == 4 and body["meta"]["totalPages"] == 1
    assert ITEM_KEYS <= set(body["data"][0])
    assert [r["id"] for r in body["data"]] == [i["id"] for i in reversed(items)]
    rows = await api.ok("GET", f"{base}?sortBy=final_price&sortOrder=asc", 1)
    assert [r["final_price"] for r in rows] == [10, 20, 20, 30]
    rows = await api.ok("GET", f"{base}?sortBy=quantity&sortOrder=desc", 1)
    assert [r["quantity"] for r in rows] == [3, 2, 2, 1]
    page1 = await api.ok("GET", f"{base}?sortBy=final_price&limit=2&page=1", 1)
    page2 = await api.ok("GET", f"{base}?sortBy=final_price&limit=2&page=2", 1)
    assert len({r["id"] for r in page1 + page2}) == 4
    for q in ("sortBy=farmer", "sortOrder=x", "limit=101", "page=0"):
        assert (await api.call("GET", f"{base}?{q}", 1)).status_code == 400, q


async def test_list_items_unknown_session_is_404(api: Any) -> None:
    resp = await api.call("GET", f"/api/sessions/{MISSING}/items", 1)
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == "Session not found"


# --- 7. Get Auction Item ---
async def test_get_item_and_not_found(api: Any) -> None:
    """Get: the item with relations and bill null; an unknown item, or an item of another
    session, is 404."""
    m = await api.masters()
    s = await api.session(1, "2025-08-01T10:00:00Z")
    other = await api.session(1, "2025-08-02T10:00:00Z")
    item = await api.item(s["id"], m)
    data = await api.ok("GET", f"/api/sessions/{s['id']}/items/{item['id']}", 1)
    assert data == {**item, "bill": None}
    for url in (
        f"/api/sessions/{s['id']}/items/{MISSING}",
        f"/api/sessions/{s['id']}/items/nope",
        f"/api/sessions/{other['id']}/items/{item['id']}",
    ):
        resp = await api.call("GET", url, 1)
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "NOT_FOUND"


# --- 8. Update Auction Item ---
async def test_update_item_partial_fields(api: Any) -> None:
    """Update: all fields optional; the seed's example changes unit, quantity and price."""
    m = await api.masters()
    m2 = await api.masters(1, "2")
    s = await api.session()
    item = await api.item(s["id"], m)
    url = f"/api/sessions/{s['id']}/items/{item['id']}"
    data = await api.ok(
        "PUT", url, 1, json={"unit": "QUINTAL", "quantity": 75.0, "final_price": 3750.0}
    )
    assert (data["unit"], data["quantity"], data["final_price"]) == ("QUINTAL", 75, 3750)
    assert data["farmer_id"] == m["farmer_id"]
    data = await api.ok(
        "PUT",
        url,
        1,
        json={
            "farmer_id": m2["farmer_id"],
            "product_id": m2["product_id"],
            "buyer_id": m2["buyer_id"],
        },
    )
    assert data["farmer"]["id"] == m2["farmer_id"]
    assert data["product"]["name"] == "Tomatoes2"
    assert data["buyer"]["name"] == "Jane Buyer2"
    assert data["updated_at"] >= item["updated_at"]


async def test_update_item_validation(api: Any) -> None:
    """Update: null fields, bad decimals and inactive/missing masters are 400."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    url = f"/api/sessions/{s['id']}/items/{item['id']}"
    await api.ok("PUT", f"/api/farmers/{m['farmer_id']}", 1, json={"active": False})
    for body in (
        {"quantity": None},
        {"unit": None},
        {"quantity": 1.2345},
        {"final_price": -1},
        {"buyer_id": MISSING},
        {"farmer_id": m["farmer_id"]},
    ):
        resp = await api.call("PUT", url, 1, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    # Fields not sent are not re-checked: the item keeps its (now inactive) farmer.
    assert (await api.ok("PUT", url, 1, json={"quantity": 5}))["quantity"] == 5


# --- 9. Delete Auction Item ---
async def test_delete_item_is_204(api: Any) -> None:
    """Delete: 204 No Content, then the item is gone (404) and the session can be deleted."""
    m = await api.masters()
    s = await api.session()
    item = await api.item(s["id"], m)
    url = f"/api/sessions/{s['id']}/items/{item['id']}"
    resp = await api.call("DELETE", url, 1)
    assert resp.status_code == 204
    assert resp.content == b""
    assert (await api.call("GET", url, 1)).status_code == 404
    assert (await api.call("DELETE", url, 1)).status_code == 404
    await api.ok("DELETE", f"/api/sessions/{s['id']}", 1)
