"""The charges master (issue 11 item 1): `/api/charges` like the other masters (envelope,
pagination, `q` search, `active` filter, per commissioner), validated as strictly."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AuctionApi

C1, C2 = 1101, 1102

MARKET_FEE = {"name": "Market fee", "kind": "PERCENT", "rate": 1.5, "payer": "FARMER"}
WEIGHING = {
    "name": "Weighing",
    "kind": "PER_UNIT",
    "rate": 2.25,
    "unit": "QUINTAL",
    "payer": "FARMER",
}
HAMALI = {"name": "Hamali", "kind": "FIXED_PER_LOT", "rate": 10, "payer": "BUYER"}


async def test_create_each_kind_and_read_it_back(api: AuctionApi) -> None:
    """A charge is {name, kind, rate, unit?, payer, active}; active defaults to true; the unit
    is null except for PER_UNIT; the commissioner id is the caller's."""
    for body in (MARKET_FEE, WEIGHING, HAMALI):
        created = await api.ok("POST", "/api/charges", C1, 201, json=body)
        assert created["name"] == body["name"] and created["kind"] == body["kind"]
        assert created["rate"] == body["rate"] and created["payer"] == body["payer"]
        assert created["unit"] == body.get("unit")
        assert created["active"] is True and created["commissioner_id"] == str(C1)
        assert created["created_at"].endswith("Z")
        got = await api.ok("GET", f"/api/charges/{created['id']}", C1)
        assert got == created


@pytest.mark.parametrize(
    "body",
    [
        {**WEIGHING, "unit": None},  # PER_UNIT needs a unit
        {k: v for k, v in WEIGHING.items() if k != "unit"},
        {**MARKET_FEE, "unit": "KG"},  # only PER_UNIT has a unit
        {**HAMALI, "unit": "KG"},
        {**MARKET_FEE, "rate": 100.01},  # a percent is at most 100
        {**MARKET_FEE, "rate": -1},
        {**HAMALI, "rate": 1.005},  # more places than money holds: refused, never rounded
        {**HAMALI, "rate": "ten"},
        {**HAMALI, "rate": True},
        {**WEIGHING, "unit": "LITRE"},  # not a unit lots have
        {**HAMALI, "kind": "PER_BAG"},
        {**HAMALI, "payer": "AGENT"},
        {**HAMALI, "payer": None},
        {**HAMALI, "name": ""},
        {**HAMALI, "name": "   "},
        {**HAMALI, "name": "x" * 201},
        {**HAMALI, "name": "Ham\x00ali"},
        {**HAMALI, "name": "Ham\u202eali"},
        {**HAMALI, "extra": 1},
        {k: v for k, v in HAMALI.items() if k != "payer"},
    ],
)
async def test_invalid_charge_is_400(api: AuctionApi, body: dict[str, Any]) -> None:
    """Every rule of the shape is a 400 VALIDATION_ERROR, and nothing is stored."""
    resp = await api.call("POST", "/api/charges", C1, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await api.ok("GET", "/api/charges", C1)) == []


async def test_percent_of_100_and_rate_0_are_allowed(api: AuctionApi) -> None:
    await api.ok("POST", "/api/charges", C1, 201, json={**MARKET_FEE, "rate": 100})
    await api.ok("POST", "/api/charges", C1, 201, json={**HAMALI, "rate": 0})


async def test_list_is_paginated_searchable_and_filters_active(api: AuctionApi) -> None:
    """The master list: name order, pagination meta, `q` in names, `active` filter."""
    for body in (MARKET_FEE, WEIGHING, {**HAMALI, "active": False}):
        await api.ok("POST", "/api/charges", C1, 201, json=body)
    resp = await api.call("GET", "/api/charges?page=1&limit=2", C1)
    body = resp.json()
    assert [c["name"] for c in body["data"]] == ["Hamali", "Market fee"]
    assert body["meta"]["total"] == 3 and body["meta"]["totalPages"] == 2
    assert [c["name"] for c in await api.ok("GET", "/api/charges?q=weigh", C1)] == ["Weighing"]
    active = await api.ok("GET", "/api/charges?active=true", C1)
    assert [c["name"] for c in active] == ["Market fee", "Weighing"]
    inactive = await api.ok("GET", "/api/charges?active=false", C1)
    assert [c["name"] for c in inactive] == ["Hamali"]


async def test_charges_are_per_commissioner(api: AuctionApi) -> None:
    """Another commissioner neither lists, reads, edits nor deletes my charge (404)."""
    mine = await api.ok("POST", "/api/charges", C1, 201, json=MARKET_FEE)
    assert await api.ok("GET", "/api/charges", C2) == []
    for method, kw in (("GET", {}), ("PUT", {"json": {"rate": 2}}), ("DELETE", {})):
        resp = await api.call(method, f"/api/charges/{mine['id']}", C2, **kw)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "NOT_FOUND"
    assert (await api.ok("GET", f"/api/charges/{mine['id']}", C1))["rate"] == 1.5


async def test_update_checks_the_charge_as_a_whole(api: AuctionApi) -> None:
    """An update sets only the fields sent, and the result must still be a valid charge:
    kind PER_UNIT without a unit, or a PERCENT rate over 100, is 400 and nothing changes;
    a kind changed away from PER_UNIT drops the unit."""
    c = await api.ok("POST", "/api/charges", C1, 201, json=HAMALI)
    url = f"/api/charges/{c['id']}"
    for body in (
        {"kind": "PER_UNIT"},
        {"kind": "PERCENT", "rate": 150},
        {"unit": "KG"},
        {"name": None},
        {"rate": None},
        {"payer": None},
    ):
        resp = await api.call("PUT", url, C1, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await api.ok("GET", url, C1) == c
    per_kg = await api.ok("PUT", url, C1, json={"kind": "PER_UNIT", "unit": "KG", "rate": 0.5})
    assert (per_kg["kind"], per_kg["unit"], per_kg["rate"], per_kg["payer"]) == (
        "PER_UNIT",
        "KG",
        0.5,
        "BUYER",
    )
    fixed = await api.ok("PATCH", url, C1, json={"kind": "FIXED_PER_LOT"})
    assert fixed["unit"] is None and fixed["name"] == "Hamali"


async def test_unused_charge_can_be_deleted(api: AuctionApi) -> None:
    c = await api.ok("POST", "/api/charges", C1, 201, json=HAMALI)
    assert (await api.ok("DELETE", f"/api/charges/{c['id']}", C1))["message"]
    assert (await api.call("GET", f"/api/charges/{c['id']}", C1)).status_code == 404
