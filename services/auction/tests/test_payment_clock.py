"""The payment clock (issue 11 item 3) and the new settings: payment terms, each bill's
due_at (counted from the end of the sale day, the session's UTC date) and overdue (read
time), a bank reference on payments; the settings profile and commission payer."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AuctionApi

C1, C2 = 1301, 1302
SALE = "2026-03-10T15:30:00.000Z"  # the sale day ends at 2026-03-11T00:00:00Z
FUTURE = "2999-06-01T09:00:00.000Z"

DEFAULTS = {
    "commission_rate": 5.0,
    "commission_payer": "FARMER",
    "payment_terms": "SAME_DAY",
    "buyer_credit_days": 0,
    "profile": {"max_commission_rate": None, "farmer_charges_allowed": True},
    "business_name": None,
}


async def billed(api: AuctionApi, date: str, suffix: str = "") -> dict[str, Any]:
    m = await api.masters(C1, suffix)
    s = await api.session(C1, date=date)
    await api.item(s["id"], m, C1, final_price=1000.0)
    data: dict[str, Any] = await api.ok(
        "POST", f"/api/sessions/{s['id']}/bills", C1, 201, json={"farmer_id": m["farmer_id"]}
    )
    return data


async def test_settings_defaults(api: AuctionApi) -> None:
    """Commission 5% paid by the farmer, farmers paid the same day, no cap, charges allowed."""
    assert await api.ok("GET", "/api/settings", C1) == DEFAULTS


async def test_put_settings_sets_only_the_fields_sent(api: AuctionApi) -> None:
    """Each field is set on its own, the others kept; a null cap removes the cap."""
    s = await api.ok("PUT", "/api/settings", C1, json={"payment_terms": "WITHIN_48_HOURS"})
    assert s == {**DEFAULTS, "payment_terms": "WITHIN_48_HOURS"}
    s = await api.ok("PUT", "/api/settings", C1, json={"profile": {"max_commission_rate": 6.5}})
    assert s["profile"] == {"max_commission_rate": 6.5, "farmer_charges_allowed": True}
    s = await api.ok(
        "PUT",
        "/api/settings",
        C1,
        json={"commission_rate": 3, "profile": {"farmer_charges_allowed": False}},
    )
    assert s == {
        "commission_rate": 3.0,
        "commission_payer": "FARMER",
        "payment_terms": "WITHIN_48_HOURS",
        "buyer_credit_days": 0,
        "profile": {"max_commission_rate": 6.5, "farmer_charges_allowed": False},
        "business_name": None,
    }
    s = await api.ok("PUT", "/api/settings", C1, json={"profile": {"max_commission_rate": None}})
    assert s["profile"] == {"max_commission_rate": None, "farmer_charges_allowed": False}
    assert await api.ok("GET", "/api/settings", C1) == s
    assert await api.ok("GET", "/api/settings", C2) == DEFAULTS


@pytest.mark.parametrize(
    "body",
    [
        {"payment_terms": "H24"},
        {"payment_terms": None},
        {"commission_payer": "AGENT"},
        {"commission_payer": None},
        {"profile": None},
        {"profile": {"max_commission_rate": 100.01}},
        {"profile": {"max_commission_rate": -1}},
        {"profile": {"max_commission_rate": 4.125}},
        {"profile": {"farmer_charges_allowed": None}},
        {"profile": {"farmer_charges_allowed": "no"}},
        {"profile": {"extra": 1}},
    ],
)
async def test_invalid_new_settings_are_400(api: AuctionApi, body: dict[str, Any]) -> None:
    resp = await api.call("PUT", "/api/settings", C1, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await api.ok("GET", "/api/settings", C1) == DEFAULTS


@pytest.mark.parametrize(
    ("terms", "due_at"),
    [
        ("SAME_DAY", "2026-03-11T00:00:00.000Z"),
        ("WITHIN_24_HOURS", "2026-03-12T00:00:00.000Z"),
        ("WITHIN_48_HOURS", "2026-03-13T00:00:00.000Z"),
        ("WITHIN_72_HOURS", "2026-03-14T00:00:00.000Z"),
    ],
)
async def test_due_at_counts_from_the_end_of_the_sale_day(
    api: AuctionApi, terms: str, due_at: str
) -> None:
    """A sale on 2026-03-10 (15:30 UTC): SAME_DAY is due at the day's end (midnight UTC), the
    others 24/48/72 hours after it. Long past and unpaid: overdue."""
    await api.ok("PUT", "/api/settings", C1, json={"payment_terms": terms})
    b = await billed(api, SALE)
    assert b["due_at"] == due_at and b["overdue"] is True
    got = await api.ok("GET", f"/api/bills/{b['id']}", C1)
    assert got["due_at"] == due_at and got["overdue"] is True


@pytest.mark.parametrize(
    "terms", ["SAME_DAY", "WITHIN_24_HOURS", "WITHIN_48_HOURS", "WITHIN_72_HOURS"]
)
async def test_bill_not_yet_due_is_not_overdue(api: AuctionApi, terms: str) -> None:
    await api.ok("PUT", "/api/settings", C1, json={"payment_terms": terms})
    hours = {"SAME_DAY": 0, "WITHIN_24_HOURS": 24, "WITHIN_48_HOURS": 48, "WITHIN_72_HOURS": 72}
    b = await billed(api, FUTURE)
    day = 2 + hours[terms] // 24
    assert b["due_at"] == f"2999-06-{day:02d}T00:00:00.000Z"
    assert b["overdue"] is False


async def test_paid_and_void_bills_are_never_overdue(api: AuctionApi) -> None:
    """Overdue is read-time: not fully paid and past due. Partly paid: still overdue; fully
    paid: not. A void bill is not owed."""
    b = await billed(api, SALE)  # net 950.00
    url = f"/api/bills/{b['id']}"
    await api.ok("POST", f"{url}/payments", C1, 201, json={"amount": 500, "method": "CASH"})
    assert (await api.ok("GET", url, C1))["overdue"] is True
    await api.ok("POST", f"{url}/payments", C1, 201, json={"amount": 450, "method": "BANK"})
    paid = await api.ok("GET", url, C1)
    assert paid["payment_status"] == "PAID" and paid["overdue"] is False
    other = await billed(api, "2026-04-01T08:00:00Z", " 2")
    await api.ok("DELETE", f"/api/bills/{other['id']}", C1)
    assert (await api.ok("GET", f"/api/bills/{other['id']}", C1))["overdue"] is False


async def test_issued_bill_keeps_its_due_at_when_terms_change(api: AuctionApi) -> None:
    b = await billed(api, SALE)
    await api.ok("PUT", "/api/settings", C1, json={"payment_terms": "WITHIN_72_HOURS"})
    got = await api.ok("GET", f"/api/bills/{b['id']}", C1)
    assert got["due_at"] == "2026-03-11T00:00:00.000Z"


async def test_payment_reference_round_trip(api: AuctionApi) -> None:
    """A payment's bank reference (UTR) is stored trimmed and shown on the payment, the bill
    and the payments list; it is optional (null)."""
    b = await billed(api, SALE)
    url = f"/api/bills/{b['id']}/payments"
    utr = "UTIBR52026031012345678"
    p = await api.ok(
        "POST", url, C1, 201, json={"amount": 100, "method": "BANK", "reference": f"  {utr} "}
    )
    assert p["reference"] == utr and p["bill"]["paid_amount"] == 100
    q = await api.ok("POST", url, C1, 201, json={"amount": 50, "method": "CASH"})
    assert q["reference"] is None
    listed = await api.ok("GET", url, C1)
    assert [x["reference"] for x in listed] == [utr, None]
    bill = await api.ok("GET", f"/api/bills/{b['id']}", C1)
    assert [x["reference"] for x in bill["payments"]] == [utr, None]


@pytest.mark.parametrize(
    "reference", ["", "   ", "U" * 65, "UTR\n123", "UTR\x00", "UTR\u202e1", 12345]
)
async def test_invalid_payment_reference_is_400(api: AuctionApi, reference: Any) -> None:
    """Plain text of 1..64 characters: anything else is 400 and no payment is made."""
    b = await billed(api, SALE)
    url = f"/api/bills/{b['id']}/payments"
    resp = await api.call(
        "POST", url, C1, json={"amount": 10, "method": "BANK", "reference": reference}
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await api.ok("GET", url, C1) == []


async def test_reference_of_64_characters_is_allowed(api: AuctionApi) -> None:
    b = await billed(api, SALE)
    url = f"/api/bills/{b['id']}/payments"
    p = await api.ok(
        "POST", url, C1, 201, json={"amount": 1, "method": "UPI", "reference": "R" * 64}
    )
    assert p["reference"] == "R" * 64
