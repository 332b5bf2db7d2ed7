"""SPEC 4 masters: categories, products, farmers, buyers; each a commissioner's own, with the
envelope, pagination (limit <= 100), q search, create 201, get, update, delete (409 while
referenced: deactivate instead)."""

from __future__ import annotations

from typing import Any

import pytest

MISSING = "6f1c1b1e-8a4e-4d0b-9a53-0d7e8f7b2c11"
BODIES = {
    "categories": {"name": "Fruits"},
    "farmers": {"name": "Ravi", "phone": "+911234", "village": "Nashik"},
    "buyers": {"name": "Asha Traders", "phone": "+915678"},
}


async def _create(api: Any, path: str, user: int = 1, **body: Any) -> dict[str, Any]:
    if path == "products" and "category_id" not in body:
        cat = await api.ok("POST", "/api/categories", user, 201, json={"name": "Cat"})
        body = {"name": "Onion", "category_id": cat["id"], **body}
    data: dict[str, Any] = await api.ok(
        "POST", f"/api/{path}", user, 201, json={**BODIES.get(path, {}), **body}
    )
    return data


@pytest.mark.parametrize("path", ["categories", "products", "farmers", "buyers"])
async def test_master_crud_roundtrip(api: Any, path: str) -> None:
    """Create 201, get, update (only the fields sent), delete 200 {message}, then 404."""
    obj = await _create(api, path)
    assert obj["commissioner_id"] == "1"
    assert obj["created_at"].endswith("Z")
    if path != "categories":
        assert obj["active"] is True
    assert await api.ok("GET", f"/api/{path}/{obj['id']}", 1) == obj
    updated = await api.ok("PUT", f"/api/{path}/{obj['id']}", 1, json={"name": "  Renamed  "})
    assert updated["name"] == "Renamed"
    assert {k: v for k, v in updated.items() if k not in ("name", "updated_at")} == {
        k: v for k, v in obj.items() if k not in ("name", "updated_at")
    }
    patched = await api.ok("PATCH", f"/api/{path}/{obj['id']}", 1, json={"name": "Again"})
    assert patched["name"] == "Again"
    msg = await api.ok("DELETE", f"/api/{path}/{obj['id']}", 1)
    assert msg["message"].endswith("deleted successfully")
    resp = await api.call("GET", f"/api/{path}/{obj['id']}", 1)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["categories", "products", "farmers", "buyers"])
async def test_master_of_another_commissioner_is_404(api: Any, path: str) -> None:
    """Another commissioner's master: get, update, delete are 404; lists never show it."""
    obj = await _create(api, path, 1)
    for method, body in (("GET", None), ("PUT", {"name": "x"}), ("DELETE", None)):
        resp = await api.call(method, f"/api/{path}/{obj['id']}", 2, json=body)
        assert resp.status_code == 404, (method, resp.text)
        assert resp.json()["error"]["code"] == "NOT_FOUND"
    assert await api.ok("GET", f"/api/{path}", 2) == []
    assert (await api.ok("GET", f"/api/{path}/{obj['id']}", 1))["name"] == obj["name"]


@pytest.mark.parametrize("path", ["categories", "products", "farmers", "buyers"])
async def test_master_unknown_or_malformed_id_is_404(api: Any, path: str) -> None:
    for sid in (MISSING, "not-a-uuid"):
        resp = await api.call("GET", f"/api/{path}/{sid}", 1)
        assert resp.status_code == 404


@pytest.mark.parametrize("path", ["categories", "products", "farmers", "buyers"])
async def test_master_validation_is_400(api: Any, path: str) -> None:
    """Missing or blank name, name null on update, wrong types: 400 VALIDATION_ERROR."""
    for body in ({}, {"name": "   "}, {"name": 5}, {"name": "x" * 201}):
        resp = await api.call("POST", f"/api/{path}", 1, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        assert resp.json()["error"]["details"]
    obj = await _create(api, path)
    resp = await api.call("PUT", f"/api/{path}/{obj['id']}", 1, json={"name": None})
    assert resp.status_code == 400
    if path != "categories":
        resp = await api.call("PUT", f"/api/{path}/{obj['id']}", 1, json={"active": None})
        assert resp.status_code == 400


@pytest.mark.parametrize("path", ["categories", "products", "farmers", "buyers"])
async def test_master_list_pagination_and_search(api: Any, path: str) -> None:
    """List: page/limit (max 100) with meta; `q` searches names case-insensitively; ordered
    by name then id."""
    cat = None
    if path == "products":
        cat = await api.ok("POST", "/api/categories", 1, 201, json={"name": "Cat"})
    names = ["alpha", "Beta", "gamma", "ALPHAbet", "delta_x"]
    for n in names:
        body = {**BODIES.get(path, {}), "name": n}
        if cat:
            body["category_id"] = cat["id"]
        await api.ok("POST", f"/api/{path}", 1, 201, json=body)
    resp = await api.call("GET", f"/api/{path}?limit=2&page=2", 1)
    meta = resp.json()["meta"]
    assert (meta["page"], meta["limit"], meta["total"]) == (2, 2, 5)
    assert meta["totalPages"] == 3
    rows = await api.ok("GET", f"/api/{path}?q=ALPHA", 1)
    assert [r["name"] for r in rows] == ["alpha", "ALPHAbet"]
    rows = await api.ok("GET", f"/api/{path}?q=_", 1)  # LIKE wildcards are literal
    assert [r["name"] for r in rows] == ["delta_x"]
    assert (await api.call("GET", f"/api/{path}?limit=101", 1)).status_code == 400


async def test_products_shown_with_category(api: Any) -> None:
    """Products are shown with their category {id, name}."""
    cat = await api.ok("POST", "/api/categories", 1, 201, json={"name": "Vegetables"})
    p = await api.ok(
        "POST", "/api/products", 1, 201, json={"name": "Tomatoes", "category_id": cat["id"]}
    )
    assert p["category"] == {"id": cat["id"], "name": "Vegetables"}
    assert p["category_id"] == cat["id"]
    [listed] = await api.ok("GET", "/api/products", 1)
    assert listed["category"]["name"] == "Vegetables"
    other = await api.ok("POST", "/api/categories", 1, 201, json={"name": "Fruit"})
    moved = await api.ok("PUT", f"/api/products/{p['id']}", 1, json={"category_id": other["id"]})
    assert moved["category"] == {"id": other["id"], "name": "Fruit"}


async def test_product_with_missing_or_foreign_category_is_400(api: Any) -> None:
    """A product naming a missing or another commissioner's category: 400 with details."""
    theirs = await api.ok("POST", "/api/categories", 2, 201, json={"name": "Theirs"})
    for cid in (MISSING, theirs["id"]):
        resp = await api.call("POST", "/api/products", 1, json={"name": "X", "category_id": cid})
        assert resp.status_code == 400
        err = resp.json()["error"]
        assert err["code"] == "VALIDATION_ERROR"
        assert err["details"][0]["loc"] == ["body", "category_id"]
    p = await _create(api, "products", 1)
    resp = await api.call("PUT", f"/api/products/{p['id']}", 1, json={"category_id": theirs["id"]})
    assert resp.status_code == 400


async def test_category_name_unique_per_commissioner_case_insensitive(api: Any) -> None:
    """Category names are unique per commissioner, ignoring case: 409; other commissioners
    may reuse the name."""
    await api.ok("POST", "/api/categories", 1, 201, json={"name": "Vegetables"})
    resp = await api.call("POST", "/api/categories", 1, json={"name": "VEGETABLES"})
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "CONFLICT"
    await api.ok("POST", "/api/categories", 2, 201, json={"name": "Vegetables"})
    other = await api.ok("POST", "/api/categories", 1, 201, json={"name": "Fruit"})
    resp = await api.call("PUT", f"/api/categories/{other['id']}", 1, json={"name": "vegetables"})
    assert resp.status_code == 409


async def test_active_filter_and_deactivation(api: Any) -> None:
    """`active` is a field of products, farmers, buyers; lists filter on it."""
    f1 = await _create(api, "farmers", 1, name="A")
    await _create(api, "farmers", 1, name="B")
    await api.ok("PUT", f"/api/farmers/{f1['id']}", 1, json={"active": False})
    rows = await api.ok("GET", "/api/farmers?active=false", 1)
    assert [r["name"] for r in rows] == ["A"]
    rows = await api.ok("GET", "/api/farmers?active=true", 1)
    assert [r["name"] for r in rows] == ["B"]


async def test_referenced_masters_cannot_be_deleted(api: Any) -> None:
    """Delete is 409 while referenced (deactivate instead): farmer, product and buyer used
    by an item, category used by a product."""
    m = await api.masters()
    s = await api.session()
    await api.item(s["id"], m)
    for path, key in (
        ("farmers", "farmer_id"),
        ("products", "product_id"),
        ("buyers", "buyer_id"),
        ("categories", "category_id"),
    ):
        resp = await api.call("DELETE", f"/api/{path}/{m[key]}", 1)
        assert resp.status_code == 409, path
        err = resp.json()["error"]
        assert err["code"] == "CONFLICT"
        if path != "categories":
            assert "Deactivate it instead" in err["message"]
    # Deactivating works and keeps the item's history.
    await api.ok("PUT", f"/api/farmers/{m['farmer_id']}", 1, json={"active": False})
    assert (await api.ok("GET", f"/api/sessions/{s['id']}", 1))["_count"]["auction_items"] == 1
