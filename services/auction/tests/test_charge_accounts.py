"""Issue 11 item 1: whose money a charge is (`account`: AGENT, MARKET_YARD, THIRD_PARTY) on
the charges API: optional on create (AGENT), settable on update (never null), always shown,
and copied onto a bill's charge line at billing (a snapshot: a later edit leaves it)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AuctionApi

C1, C2 = 1201, 1202
ACCOUNTS = ("AGENT", "MARKET_YARD", "THIRD_PARTY")

MARKET_FEE = {"name": "Market fee", "kind": "PERCENT", "rate": 1.5, "payer": "BUYER"}
HAMALI = {"name": "Hamali", "kind": "FIXED_PER_LOT", "rate": 10, "payer": "FARMER"}


async def test_account_defaults_to_agent(api: AuctionApi) -> None:
    """A charge sent without `account` is the agent's own income (the migration's default)."""
    created = await api.ok("POST", "/api/charges", C1, 201, json=HAMALI)
    assert created["account"] == "AGENT"
    assert (await api.ok("GET", f"/api/charges/{created['id']}", C1))["account"] == "AGENT"


@pytest.mark.parametrize("account", ACCOUNTS)
async def test_each_account_is_stored_and_shown(api: AuctionApi, account: str) -> None:
    created = await api.ok("POST", "/api/charges", C1, 201, json={**MARKET_FEE, "account": account})
    assert created["account"] == account
    assert (await api.ok("GET", f"/api/charges/{created['id']}", C1))["account"] == account
    listed = await api.ok("GET", "/api/charges", C1)
    assert [c["account"] for c in listed] == [account]


@pytest.mark.parametrize("account", [None, "agent", "MARKET", "BUYER", "", 1, True])
async def test_invalid_account_is_400_and_nothing_is_stored(api: AuctionApi, account: Any) -> None:
    resp = await api.call("POST", "/api/charges", C1, json={**MARKET_FEE, "account": account})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert any(d["loc"][-1] == "account" for d in error["details"]), error
    assert await api.ok("GET", "/api/charges", C1) == []


async def test_update_sets_account_and_keeps_it_when_not_sent(api: AuctionApi) -> None:
    """PUT with `account` changes only it; PUT without it keeps it; null or an unknown value
    is 400 and changes nothing."""
    c = await api.ok("POST", "/api/charges", C1, 201, json=MARKET_FEE)
    url = f"/api/charges/{c['id']}"
    moved = await api.ok("PUT", url, C1, json={"account": "MARKET_YARD"})
    assert moved["account"] == "MARKET_YARD"
    assert {k: v for k, v in moved.items() if k not in ("account", "updated_at")} == {
        k: v for k, v in c.items() if k not in ("account", "updated_at")
    }
    renamed = await api.ok("PUT", url, C1, json={"name": "APMC fee"})
    assert (renamed["name"], renamed["account"]) == ("APMC fee", "MARKET_YARD")
    for body in ({"account": None}, {"account": "YARD"}):
        resp = await api.call("PUT", url, C1, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await api.ok("GET", url, C1))["account"] == "MARKET_YARD"


async def test_another_commissioner_cannot_change_the_account(api: AuctionApi) -> None:
    c = await api.ok("POST", "/api/charges", C1, 201, json=MARKET_FEE)
    resp = await api.call("PUT", f"/api/charges/{c['id']}", C2, json={"account": "THIRD_PARTY"})
    assert resp.status_code == 404
    assert (await api.ok("GET", f"/api/charges/{c['id']}", C1))["account"] == "AGENT"


async def test_bill_line_copies_the_account_at_billing(api: AuctionApi) -> None:
    """The bill's charge lines show the account each charge had when the bill was made (the
    commission is the agent's own), and keep it when the charge is later changed."""
    fee = await api.ok(
        "POST",
        "/api/charges",
        C1,
        201,
        json={**MARKET_FEE, "payer": "FARMER", "account": "MARKET_YARD"},
    )
    labour = await api.ok(
        "POST", "/api/charges", C1, 201, json={**HAMALI, "account": "THIRD_PARTY"}
    )
    m = await api.masters(C1)
    s = await api.session(C1)
    await api.item(s["id"], m, C1, final_price=200)
    bill = await api.ok(
        "POST", f"/api/sessions/{s['id']}/bills", C1, 201, json={"farmer_id": m["farmer_id"]}
    )
    want = [("Commission", "AGENT"), ("Hamali", "THIRD_PARTY"), ("Market fee", "MARKET_YARD")]
    assert [(c["name"], c["account"]) for c in bill["charges"]] == want
    await api.ok("PUT", f"/api/charges/{fee['id']}", C1, json={"account": "AGENT"})
    await api.ok("PUT", f"/api/charges/{labour['id']}", C1, json={"account": "AGENT"})
    again = await api.ok("GET", f"/api/bills/{bill['id']}", C1)
    assert [(c["name"], c["account"]) for c in again["charges"]] == want
