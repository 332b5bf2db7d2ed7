"""SPEC 6 / issue item 7: Idempotency-Key on every creating POST of this service."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


async def test_same_item_twice_with_one_key_is_one_item(api: Any) -> None:
    """The same item added twice with one Idempotency-Key: one item, the same response."""
    m = await api.masters()
    s = await api.session()
    body = {
        **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
        "unit": "KG",
        "quantity": 50.5,
        "final_price": 2525.0,
    }
    url = f"/api/sessions/{s['id']}/items"
    first = await api.call("POST", url, 1, json=body, headers={"Idempotency-Key": "lot-1"})
    second = await api.call("POST", url, 1, json=body, headers={"Idempotency-Key": "lot-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    rows = await api.ok("GET", url, 1)
    assert [r["id"] for r in rows] == [first.json()["data"]["id"]]


async def test_parallel_retries_with_one_key_create_one_item(api: Any) -> None:
    """Retries racing each other: still one item; each answer is the first response or a
    409 'in progress'."""
    m = await api.masters()
    s = await api.session()
    body = {
        **{k: m[k] for k in ("farmer_id", "product_id", "buyer_id")},
        "unit": "BAG",
        "quantity": 3,
        "final_price": 90,
    }
    url = f"/api/sessions/{s['id']}/items"
    answers = await asyncio.gather(
        *(
            api.call("POST", url, 1, json=body, headers={"Idempotency-Key": "race"})
            for _ in range(8)
        )
    )
    ok = [a for a in answers if a.status_code == 201]
    assert ok and all(a.status_code in (201, 409) for a in answers)
    assert len({a.json()["data"]["id"] for a in ok}) == 1
    assert len(await api.ok("GET", url, 1)) == 1


async def test_key_reused_with_different_body_is_422(api: Any) -> None:
    """A used key with a different body: 422 IDEMPOTENCY_KEY_REUSED in the envelope."""
    await api.call("POST", "/api/farmers", 1, json={"name": "A"}, headers={"Idempotency-Key": "k"})
    resp = await api.call(
        "POST", "/api/farmers", 1, json={"name": "B"}, headers={"Idempotency-Key": "k"}
    )
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(await api.ok("GET", "/api/farmers", 1)) == 1


async def test_key_is_per_user(api: Any) -> None:
    """Two commissioners using the same key each get their own record."""
    a = await api.ok(
        "POST", "/api/buyers", 1, 201, json={"name": "X"}, headers={"Idempotency-Key": "same"}
    )
    b = await api.ok(
        "POST", "/api/buyers", 2, 201, json={"name": "X"}, headers={"Idempotency-Key": "same"}
    )
    assert a["id"] != b["id"] and b["commissioner_id"] == "2"


@pytest.mark.parametrize(
    "path", ["/api/sessions", "/api/categories", "/api/farmers", "/api/buyers", "/api/products"]
)
async def test_every_creating_post_replays(api: Any, path: str) -> None:
    """Sessions and every master: a retry with the key replays the first 201 and creates
    nothing."""
    body: dict[str, Any] = {"name": "Thing"}
    if path == "/api/sessions":
        body = {"date": "2025-08-03T10:00:00.000Z"}
    if path == "/api/products":
        cat = await api.ok("POST", "/api/categories", 1, 201, json={"name": "C"})
        body["category_id"] = cat["id"]
    first = await api.call("POST", path, 1, json=body, headers={"Idempotency-Key": "p1"})
    again = await api.call("POST", path, 1, json=body, headers={"Idempotency-Key": "p1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(await api.ok("GET", path, 1)) == 1


async def test_failed_first_attempt_is_not_stored(api: Any) -> None:
    """A 409 is not remembered under the key: after the conflict is gone the retry runs."""
    taken = await api.session(1, "2025-08-03T10:00:00Z")
    hdr = {"Idempotency-Key": "sess"}
    body = {"date": "2025-08-03T12:00:00Z"}
    assert (await api.call("POST", "/api/sessions", 1, json=body, headers=hdr)).status_code == 409
    await api.ok("DELETE", f"/api/sessions/{taken['id']}", 1)
    assert (await api.call("POST", "/api/sessions", 1, json=body, headers=hdr)).status_code == 201


async def test_invalid_key_is_422(api: Any) -> None:
    resp = await api.call(
        "POST", "/api/farmers", 1, json={"name": "A"}, headers={"Idempotency-Key": "x" * 300}
    )
    assert resp.status_code == 422
    assert resp.json()["success"] is False
