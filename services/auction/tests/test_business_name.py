"""The commissioner's business name (commissioner_settings.business_name, migration 0007): set
through GET/PUT /api/settings, printed on the bill as its letterhead, and the public signed
copy's `commissioner.name`."""

from __future__ import annotations

import re
from html import escape
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from .conftest import AuctionApi
from .test_bill_verification import _billed, _print, _public, _verify

C1, C2 = 1401, 1402
NAME = "Śrī Bālājī Traders & Sons"


async def _name_of(api: AuctionApi, user: int = C1) -> Any:
    return (await api.ok("GET", "/api/settings", user))["business_name"]


async def test_business_name_round_trip_partial_update_and_null_clears(api: AuctionApi) -> None:
    """Unset by default (null); PUT sets it (trimmed) and keeps every other setting; a PUT of
    other settings keeps it; null clears it; another commissioner's is their own."""
    defaults = await api.ok("GET", "/api/settings", C1)
    assert defaults["business_name"] is None

    s = await api.ok("PUT", "/api/settings", C1, json={"business_name": f"  {NAME} "})
    assert s == {**defaults, "business_name": NAME}
    assert await api.ok("GET", "/api/settings", C1) == s

    s = await api.ok("PUT", "/api/settings", C1, json={"commission_rate": 4})
    assert (s["business_name"], s["commission_rate"]) == (NAME, 4.0)

    s = await api.ok(
        "PUT", "/api/settings", C1, json={"business_name": "X" * 120, "payment_terms": "SAME_DAY"}
    )
    assert s["business_name"] == "X" * 120

    assert await _name_of(api, C2) is None
    s = await api.ok("PUT", "/api/settings", C1, json={"business_name": None})
    assert s == {**defaults, "commission_rate": 4.0}
    assert await _name_of(api) is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "empty"),
        ("   ", "blank once trimmed"),
        ("X" * 121, "over 120 characters"),
        ("Sri\x00Balaji", "NUL"),
        ("Sri\nBalaji", "a control character: one line"),
        ("Sri \u202eijalaB", "a bidi override"),
        ("Sri \ud800", "a lone surrogate"),
        (5, "not a string"),
        (["Sri Balaji"], "not a string"),
        ({"name": "Sri Balaji"}, "not a string"),
    ],
)
async def test_bad_business_names_are_the_services_validation_error(
    api: AuctionApi, value: Any, why: str
) -> None:
    """400 VALIDATION_ERROR naming the field (auction's format, as for every other setting);
    the stored name is unchanged."""
    await api.ok("PUT", "/api/settings", C1, json={"business_name": "Kept Name"})
    if isinstance(value, str) and "\ud800" in value:
        # A lone surrogate cannot be encoded by the JSON client: send the escape itself.
        content = b'{"business_name": "Sri \\ud800"}'
        resp = await api.call(
            "PUT",
            "/api/settings",
            C1,
            content=content,
            headers={"Content-Type": "application/json"},
        )
    else:
        resp = await api.call("PUT", "/api/settings", C1, json={"business_name": value})
    assert resp.status_code == 400, (why, resp.text)
    error = resp.json()["error"]
    assert error["code"] == "VALIDATION_ERROR", why
    assert any("business_name" in detail["loc"] for detail in error["details"]), error
    assert await _name_of(api) == "Kept Name"


async def test_printed_bill_shows_the_business_name_escaped_as_its_letterhead(
    api: AuctionApi,
) -> None:
    made = await _billed(api, C1)
    bill_id = made["bill"]["id"]
    page = (await _print(api, bill_id, C1)).text
    assert f'<p class="agent">Commission agent #{C1}</p>' in page  # no name yet

    await api.ok("PUT", "/api/settings", C1, json={"business_name": NAME + " <b>"})
    printed = await _print(api, bill_id, C1)
    assert printed.status_code == 200
    assert f'<p class="agent">{escape(NAME + " <b>")}</p>' in printed.text
    assert "<b>" not in printed.text  # escaped, never markup
    # Still the one style block its CSP names (the letterhead is styled by class).
    (style,) = re.findall(r"<style>(.*?)</style>", printed.text, re.DOTALL)
    assert ".agent" in style and " style=" not in printed.text


async def test_public_bill_names_the_commissioner_by_business_name_and_still_verifies(
    api: AuctionApi,
) -> None:
    """`commissioner.name` is the business name (null while unset); the signature covers it,
    so the copy verifies with the JWKS, and an altered name does not."""
    made = await _billed(api, C1)
    code = made["bill"]["verification_code"]
    jwks = (await api.client.get("/api/public/.well-known/jwks.json")).json()

    unnamed = (await _public(api, code)).json()
    assert unnamed["data"]["commissioner"] == {"id": str(C1), "name": None}
    _verify(jwks, unnamed["data"], unnamed["signature"])

    await api.ok("PUT", "/api/settings", C1, json={"business_name": NAME})
    body = (await _public(api, code)).json()
    assert body["data"]["commissioner"] == {"id": str(C1), "name": NAME}
    _verify(jwks, body["data"], body["signature"])
    assert {**body["data"], "commissioner": unnamed["data"]["commissioner"]} == unnamed["data"]
    forged = {**body["data"], "commissioner": {"id": str(C1), "name": "Someone Else"}}
    with pytest.raises(InvalidSignature):
        _verify(jwks, forged, body["signature"])

    # Another commissioner's name never appears on this bill.
    await api.ok("PUT", "/api/settings", C2, json={"business_name": "Other Traders"})
    assert (await _public(api, code)).json()["data"]["commissioner"]["name"] == NAME
