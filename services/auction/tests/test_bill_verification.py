"""Issue 11 item 5: a bill the farmer can verify. Every bill has an unguessable public code; the
public, signed copy needs no login and shows only that bill; its Ed25519 signature checks
offline with the published JWKS alone; the printed bill's QR code decodes to the public URL."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import text

from auction_service.config import Settings
from auction_service.verification.canonical import canonical_json
from auction_service.verification.keys import BillSigner
from servicekit.ed25519 import private_pem, thumbprint

C = 31
OTHER = 32
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jcs(value: Any) -> bytes:
    """RFC 8785 written again, independently of the service, as a verifier would: sorted
    members, no whitespace, ECMAScript numbers (the bill has only cents and small integers)."""

    def write(v: Any) -> str:
        if isinstance(v, dict):
            items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-16-be"))
            return "{" + ",".join(f"{write(k)}:{write(x)}" for k, x in items) + "}"
        if isinstance(v, list):
            return "[" + ",".join(write(x) for x in v) + "]"
        if isinstance(v, float):
            assert math.isfinite(v)
            return str(int(v)) if v.is_integer() else repr(v)
        return json.dumps(v, ensure_ascii=False)

    return write(value).encode()


def _verify(jwks: dict[str, Any], data: dict[str, Any], signature: dict[str, str]) -> None:
    """Checks a saved copy with nothing but the JWKS: raises InvalidSignature when it fails."""
    assert signature["alg"] == "EdDSA"
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == signature["kid"]]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    key = Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))
    key.verify(_b64url_decode(signature["value"]), _jcs(data))


async def _billed(api: Any, user: int = C, suffix: str = "") -> dict[str, Any]:
    """A farmer with two lots (100.10 and 0.99) billed at the default 5 %, then paid 50.00."""
    m = await api.masters(user, suffix=suffix)
    session = await api.session(user, "2025-08-03T10:00:00.000Z")
    await api.item(session["id"], m, user, final_price=100.10, quantity=2.5)
    await api.item(session["id"], m, user, final_price=0.99, unit="BAG", quantity=3)
    bill = await api.ok(
        "POST",
        f"/api/sessions/{session['id']}/bills",
        user,
        201,
        json={"farmer_id": m["farmer_id"]},
    )
    await api.ok(
        "POST",
        f"/api/bills/{bill['id']}/payments",
        user,
        201,
        json={"amount": 50, "method": "UPI", "note": "private note of the agent"},
    )
    return {"bill": bill, "masters": m, "session": session}


async def _print(api: Any, bill_id: str, user: int = C) -> Any:
    """The printable page (HTML, so not through `api.call`'s envelope check)."""
    return await api.client.get(f"/api/bills/{bill_id}/print", headers=api.headers(user))


async def _public(api: Any, code: str) -> Any:
    """The public page with no credentials at all."""
    return await api.client.get(f"/api/public/bills/{code}")


async def test_every_bill_gets_an_unguessable_url_safe_unique_verification_code(api: Any) -> None:
    m = await api.masters(C)
    codes = set()
    for n in range(3):
        session = await api.session(C, f"2025-08-0{n + 3}T10:00:00.000Z")
        await api.item(session["id"], m, C, final_price=10)
        bill = await api.ok(
            "POST",
            f"/api/sessions/{session['id']}/bills",
            C,
            201,
            json={"farmer_id": m["farmer_id"]},
        )
        code = bill["verification_code"]
        # token_urlsafe(24): 24 random bytes = 192 bits >= 128, as 32 base64url characters
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", code), code
        assert len(_b64url_decode(code)) * 8 >= 128
        codes.add(code)
    assert len(codes) == 3


async def test_public_bill_needs_no_login_and_shows_number_date_farmer_lots_charges_net_payments(
    api: Any,
) -> None:
    made = await _billed(api)
    bill = made["bill"]
    resp = await _public(api, bill["verification_code"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True and body["meta"]["timestamp"].endswith("Z")
    data = body["data"]
    assert data["bill_number"] == "BILL-001"
    assert data["bill_date"] == bill["created_at"]
    assert data["commissioner"] == {"id": str(C), "name": None}
    assert data["farmer"] == {"name": "John Farmer"}
    assert sorted(data["lots"], key=lambda lot: lot["unit"]) == [
        {"product_name": "Tomatoes", "unit": "BAG", "quantity": 3.0, "amount": 0.99},
        {"product_name": "Tomatoes", "unit": "KG", "quantity": 2.5, "amount": 100.1},
    ]
    # total 100.10 + 0.99 = 101.09; commission 5 % = 5.0545 -> 5.05 (half up); net 96.04
    assert Decimal(str(data["total_amount"])) == Decimal("101.09")
    assert data["charges"] == [
        {
            "name": "Commission",
            "kind": "PERCENT",
            "payer": "FARMER",
            "unit": None,
            "basis": 101.09,
            "rate": 5.0,
            "amount": 5.05,
        }
    ]
    assert Decimal(str(data["net_amount"])) == Decimal("96.04")
    # paid 50.00 of 96.04: balance 46.04, PARTIAL
    assert Decimal(str(data["paid_amount"])) == Decimal("50.00")
    assert Decimal(str(data["balance_amount"])) == Decimal("46.04")
    assert [(p["amount"], p["method"]) for p in data["payments"]] == [(50.0, "UPI")]
    assert data["payment_status"] == "PARTIAL" and data["status"] == "ACTIVE"
    assert resp.headers["cache-control"] == "no-store"


async def test_public_bill_lists_the_farmer_side_charges_and_never_a_buyer_side_one(
    api: Any,
) -> None:
    """Issue 11 item 1 on the public copy: every farmer-side line the bill has (commission,
    then the charges), no buyer-side charge, no ids."""
    await api.ok(
        "POST",
        "/api/charges",
        C,
        201,
        json={"name": "Hamali", "kind": "FIXED_PER_LOT", "rate": 7.5, "payer": "FARMER"},
    )
    await api.ok(
        "POST",
        "/api/charges",
        C,
        201,
        json={"name": "Market fee", "kind": "PERCENT", "rate": 1, "payer": "BUYER"},
    )
    made = await _billed(api)
    data = (await _public(api, made["bill"]["verification_code"])).json()["data"]
    # 2 lots x 7.50 = 15.00 hamali; commission 5.05 as before; net 101.09 - 5.05 - 15.00 = 81.04
    assert [(c["name"], c["kind"], c["basis"], c["amount"]) for c in data["charges"]] == [
        ("Commission", "PERCENT", 101.09, 5.05),
        ("Hamali", "FIXED_PER_LOT", 2.0, 15.0),
    ]
    assert Decimal(str(data["net_amount"])) == Decimal("81.04")


async def test_public_bill_shows_nothing_another_bills_code_would_not(api: Any) -> None:
    """Only this bill's facts: no record ids, no phone, village or payment note, and nothing
    of another bill (another farmer of the same agent, another agent's farmer)."""
    mine = await _billed(api)
    other_farmer = await api.masters(C, suffix=" Second")
    await api.item(mine["session"]["id"], other_farmer, C, final_price=77)
    second = await api.ok(
        "POST",
        f"/api/sessions/{mine['session']['id']}/bills",
        C,
        201,
        json={"farmer_id": other_farmer["farmer_id"]},
    )
    elsewhere = await _billed(api, OTHER, suffix=" Elsewhere")

    resp = await _public(api, mine["bill"]["verification_code"])
    text = resp.text
    data = resp.json()["data"]
    assert set(data) == {
        "verification_code",
        "bill_number",
        "bill_date",
        "commissioner",
        "farmer",
        "lots",
        "total_amount",
        "charges",
        "net_amount",
        "paid_amount",
        "balance_amount",
        "payments",
        "payment_status",
        "status",
    }
    assert set(resp.json()) == {"success", "data", "signature", "meta"}
    assert UUID_RE.search(text) is None, text  # no id of any row: bill, farmer, lot, payment
    for secret in ("+1234567890", "Village", "private note", "Second", "Elsewhere"):
        assert secret not in text, secret
    for code in (second["verification_code"], elsewhere["bill"]["verification_code"]):
        assert code not in text
    # Each code shows its own bill only.
    other = (await _public(api, elsewhere["bill"]["verification_code"])).json()["data"]
    assert other["farmer"] == {"name": "John Farmer Elsewhere"}
    assert other["commissioner"]["id"] == str(OTHER)
    assert mine["bill"]["verification_code"] not in json.dumps(other)


async def test_signature_verifies_with_the_published_key_and_fails_when_a_byte_changes(
    api: Any,
) -> None:
    made = await _billed(api)
    resp = await _public(api, made["bill"]["verification_code"])
    body = resp.json()
    jwks_resp = await api.client.get("/api/public/.well-known/jwks.json")
    assert jwks_resp.status_code == 200
    jwks = jwks_resp.json()
    # kid = RFC 7638 thumbprint: SHA-256 of {"crv","kty","x"} in that order, no whitespace
    (jwk,) = jwks["keys"]
    members = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}, separators=(",", ":")
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).rstrip(b"=")
    assert jwk["kid"] == kid.decode() == body["signature"]["kid"]
    assert (jwk["alg"], jwk["use"]) == ("EdDSA", "sig")
    assert resp.headers["bill-signature"] == (
        f'alg="EdDSA", kid="{jwk["kid"]}", value="{body["signature"]["value"]}"'
    )

    # A copy saved as text and checked offline: only the JWKS and `cryptography`.
    saved = json.loads(resp.text)
    _verify(jwks, saved["data"], saved["signature"])
    # The service's canonical form is the one the verifier computed independently.
    assert canonical_json(saved["data"]) == _jcs(saved["data"])

    # One changed byte anywhere in `data` breaks it: net 96.04 -> 96.05, a letter of the name.
    tampered = json.loads(resp.text.replace("96.04", "96.05"))
    assert tampered["data"]["net_amount"] == 96.05
    with pytest.raises(InvalidSignature):
        _verify(jwks, tampered["data"], tampered["signature"])
    renamed = json.loads(resp.text.replace("John Farmer", "John Farmes"))
    with pytest.raises(InvalidSignature):
        _verify(jwks, renamed["data"], renamed["signature"])
    # ...and so does one changed byte of the signature.
    raw = bytearray(_b64url_decode(saved["signature"]["value"]))
    raw[0] ^= 1
    forged = {**saved["signature"], "value": base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    with pytest.raises(InvalidSignature):
        _verify(jwks, saved["data"], forged)


async def test_signature_follows_the_bill_a_payment_changes_the_signed_document(api: Any) -> None:
    made = await _billed(api)
    code = made["bill"]["verification_code"]
    before = (await _public(api, code)).json()
    await api.ok(
        "POST",
        f"/api/bills/{made['bill']['id']}/payments",
        C,
        201,
        json={"amount": 46.04, "method": "CASH"},
    )
    after = (await _public(api, code)).json()
    assert after["data"]["payment_status"] == "PAID" and after["data"]["balance_amount"] == 0
    assert after["signature"]["value"] != before["signature"]["value"]
    jwks = (await api.client.get("/api/public/.well-known/jwks.json")).json()
    _verify(jwks, after["data"], after["signature"])


@pytest.mark.parametrize(
    "code",
    [
        "A" * 32,  # well-formed, unknown
        "short",  # too short to be a code
        "x" * 65,  # too long
        "has space in it and is long enough",
        "%27%20OR%201%3D1%20--%20aaaaaaaaaaaaa",  # SQL-looking, url-encoded
    ],
)
async def test_unknown_code_is_404_in_the_envelope(api: Any, code: str) -> None:
    await _billed(api)
    resp = await _public(api, code)
    assert resp.status_code == 404, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["error"] == {"message": "Bill not found", "code": "NOT_FOUND"}
    assert body["meta"]["timestamp"].endswith("Z")


async def test_voided_bill_stays_verifiable_and_shows_void(api: Any) -> None:
    m = await api.masters(C)
    session = await api.session(C, "2025-08-03T10:00:00.000Z")
    await api.item(session["id"], m, C, final_price=10)
    bill = await api.ok(
        "POST", f"/api/sessions/{session['id']}/bills", C, 201, json={"farmer_id": m["farmer_id"]}
    )
    await api.ok("DELETE", f"/api/bills/{bill['id']}", C)
    data = (await _public(api, bill["verification_code"])).json()["data"]
    assert data["status"] == "VOID" and data["bill_number"] == "BILL-001"


# ---- the printed bill --------------------------------------------------------------------


def _qr_pixels(html: str, scale: int = 8) -> np.ndarray:
    """Rasterise the page's inline QR SVG as a browser would: segno draws each dark run as a
    1-unit-wide horizontal stroke of an `M x y.5 h n m dx dy` path."""
    svg = re.search(r"<svg[^>]*>.*?</svg>", html, re.DOTALL)
    assert svg is not None
    box = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg.group(0))
    assert box is not None, "a viewBox, so the page's stylesheet can size it"
    width, height = int(box.group(1)), int(box.group(2))
    path = re.search(r'<path[^>]* d="([^"]+)"', svg.group(0)).group(1)  # type: ignore[union-attr]
    grid = np.full((height, width), 255, dtype=np.uint8)
    x = y = 0.0
    for cmd, args in re.findall(r"([MmHhVv])([^MmHhVv]*)", path):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        elif cmd == "h":
            grid[int(y - 0.5), int(x) : int(x + nums[0])] = 0
            x += nums[0]
        elif cmd == "H":
            grid[int(y - 0.5), int(x) : int(nums[0])] = 0
            x = nums[0]
        else:
            raise AssertionError(f"unexpected path command {cmd}")
    return np.kron(grid, np.ones((scale, scale), dtype=np.uint8))


async def test_printed_bill_qr_code_decodes_to_the_public_verification_url(api: Any) -> None:
    made = await _billed(api)
    bill = made["bill"]
    resp = await _print(api, bill["id"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    html = resp.text

    (decoded,) = zxingcpp.read_barcodes(_qr_pixels(html))
    assert decoded.format == zxingcpp.BarcodeFormat.QRCode
    url = decoded.text
    # AUCTION_PUBLIC_BASE_URL (the gateway: 127.0.0.1:8080 by default, the test stack's own
    # port through the gateway) + the public path
    base, path = url.split("/api/", 1)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), url
    assert path == f"public/bills/{bill['verification_code']}"
    # ...and that URL is the bill's public page.
    page = await api.client.get(f"/api/{path}")
    assert page.status_code == 200 and page.json()["data"]["bill_number"] == "BILL-001"

    # The bill itself is on the page: number, farmer, lots, commission, net, payment.
    for shown in ("BILL-001", "John Farmer", "Tomatoes", "101.09", "5.05", "96.04", "50.00"):
        assert shown in html, shown


async def test_printed_bill_is_self_contained_without_script_or_external_resources(
    api: Any,
) -> None:
    made = await _billed(api)
    html = (await _print(api, made["bill"]["id"])).text
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    # The one href is the empty data: icon, so a browser asks for no /favicon.ico either.
    assert re.findall(r"\s(?:src|href)=\"([^\"]*)\"", html) == ["data:,"], "no external resource"
    assert "@import" not in html and "url(" not in html
    assert " style=" not in html  # no inline style attributes: only the one <style> block
    assert "@page" in html and "@media print" in html


async def test_printed_bill_carries_a_strict_csp_naming_its_style_block(api: Any) -> None:
    made = await _billed(api)
    resp = await _print(api, made["bill"]["id"])
    (style,) = re.findall(r"<style>(.*?)</style>", resp.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and f"style-src 'sha256-{digest}'" in csp
    assert "script-src" not in csp  # default-src 'none' forbids every script
    # The QR code is inline SVG; the only image is the empty data: icon.
    assert "img-src data:;" in csp and "img-src 'self'" not in csp


async def test_print_needs_the_bills_owner(api: Any) -> None:
    made = await _billed(api)
    url = f"/api/bills/{made['bill']['id']}/print"
    other = await api.call("GET", url, OTHER)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"
    anonymous = await api.client.get(url)
    assert anonymous.status_code == 401
    buyer_role = await api.client.get(url, headers=api.headers(C, ("trader",)))
    assert buyer_role.status_code == 403
    malformed = await api.call("GET", "/api/bills/not-a-uuid/print", C)
    assert malformed.status_code == 404


# ---- canonical JSON (RFC 8785) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [True, None, "x"]}, '{"a":[true,null,"x"],"b":1}'),
        ({"amount": 1500.0, "rate": 5.0, "q": 2.5}, '{"amount":1500,"q":2.5,"rate":5}'),
        ([0.1, 96.04, 1e21, 1e-7, 0.000001, -0.0], "[0.1,96.04,1e+21,1e-7,0.000001,0]"),
        ({"é": "naïve\n\u0001", "\u20ac": 1, "z": 2}, '{"z":2,"é":"naïve\\n\\u0001","€":1}'),
        # sorted by UTF-16 code units: U+1F600 (surrogate D83D) sorts before U+FB01
        ({"\ufb01": 1, "\U0001f600": 2}, '{"\U0001f600":2,"\ufb01":1}'),
    ],
)
def test_canonical_json_is_rfc8785(value: Any, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


# ---- the signing key ---------------------------------------------------------------------


async def test_generated_signing_key_is_kept_in_the_database_and_shared_by_replicas(
    auction_app: Any,
) -> None:
    """Without AUCTION_SIGNING_KEY the first signer generates a key and stores it; another
    replica (a second signer) signs with the same key and publishes the same JWKS."""
    db = auction_app.state.db
    first, second = BillSigner(), BillSigner()
    sig = await first.sign(db, b"bill")
    assert (await second.sign(db, b"bill")) == sig  # Ed25519 is deterministic
    assert await first.jwks(db) == await second.jwks(db)
    async with db.engine.connect() as conn:
        kids = (await conn.execute(text("SELECT kid FROM signing_keys WHERE active"))).all()
    assert [k for (k,) in kids] == [sig["kid"]]


async def test_configured_signing_key_signs_with_its_thumbprint_as_kid(auction_app: Any) -> None:
    key = Ed25519PrivateKey.generate()
    signer = BillSigner(private_pem(key))
    sig = await signer.sign(auction_app.state.db, b"bill")
    assert sig["kid"] == thumbprint(key)
    key.public_key().verify(_b64url_decode(sig["value"]), b"bill")
    assert sig["kid"] in {k["kid"] for k in (await signer.jwks(auction_app.state.db))["keys"]}


def test_a_signing_key_that_is_not_ed25519_pem_fails_at_start() -> None:
    with pytest.raises(ValueError, match="signing_key"):
        Settings(signing_key="not a pem")  # type: ignore[arg-type]
