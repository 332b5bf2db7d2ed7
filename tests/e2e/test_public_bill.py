"""Issue 11 item 5 through the real gateway: a farmer opens the bill's public page without a
login, checks its signature against the published key, and the printed bill's QR code leads
there; the public routes are rate-limited per client address with auction's JSON 429."""

from __future__ import annotations

import base64
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auction_service.verification.canonical import canonical_json
from auction_service.verification.printing import CSP as PRINT_CSP

if TYPE_CHECKING:
    from .conftest import ClientFactory, User, UserFactory


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bill(gw: httpx.Client, user: User, farmer: str) -> dict[str, Any]:
    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = gw.post(url, json=body, headers=user.bearer)
        assert resp.status_code == 201, resp.text
        data: dict[str, Any] = resp.json()["data"]
        return data

    cat = post("/api/categories", {"name": "Veg"})
    prod = post("/api/products", {"name": "Onions", "category_id": cat["id"]})
    far = post("/api/farmers", {"name": farmer, "phone": "+911234567890"})
    buyer = post("/api/buyers", {"name": "Trader"})
    session = post("/api/sessions", {"date": "2025-08-03T10:00:00.000Z"})
    item = {
        "farmer_id": far["id"],
        "product_id": prod["id"],
        "buyer_id": buyer["id"],
        "unit": "BAG",
        "quantity": 4,
        "final_price": 1200,
    }
    post(f"/api/sessions/{session['id']}/items", item)
    return post(f"/api/sessions/{session['id']}/bills", {"farmer_id": far["id"]})


def _qr_text(html: str) -> str:
    """Rasterise the page's inline segno SVG (horizontal 1-unit strokes) and decode it."""
    svg = re.search(r"<svg[^>]*>.*?</svg>", html, re.DOTALL)
    assert svg is not None
    box = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg.group(0))
    path = re.search(r' d="([^"]+)"', svg.group(0))
    assert box is not None and path is not None
    grid = np.full((int(box.group(2)), int(box.group(1))), 255, dtype=np.uint8)
    x = y = 0.0
    for cmd, args in re.findall(r"([Mmh])([^Mmh]*)", path.group(1)):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        else:
            grid[int(y - 0.5), int(x) : int(x + nums[0])] = 0
            x += nums[0]
    (found,) = zxingcpp.read_barcodes(np.kron(grid, np.ones((8, 8), dtype=np.uint8)))
    return str(found.text)


def test_public_bill_through_the_gateway_without_login_verifies_and_matches_the_qr(
    make_user: UserFactory, client_factory: ClientFactory, gw: httpx.Client
) -> None:
    agent = make_user(("commissioner",))
    bill = _bill(gw, agent, "Sita Devi")
    other = _bill(gw, make_user(("commissioner",)), "Someone Else")

    # The printed bill (the agent's login) carries the QR code of the public URL.
    printed = gw.get(f"/api/bills/{bill['id']}/print", headers=agent.bearer)
    assert printed.status_code == 200, printed.text
    url = _qr_text(printed.text)
    path = urlsplit(url).path
    assert path == f"/api/public/bills/{bill['verification_code']}"
    # AUCTION_PUBLIC_BASE_URL: the launcher gives the gateway's own address
    assert url == f"{str(gw.base_url).rstrip('/')}{path}"
    # Another agent cannot print it.
    other_agent = make_user(("commissioner",))
    denied = gw.get(f"/api/bills/{bill['id']}/print", headers=other_agent.bearer)
    assert denied.status_code == 404

    # A farmer's phone: a fresh client, no token, no cookie.
    farmer = client_factory("127.0.9.9")
    page = farmer.get(path)
    assert page.status_code == 200, page.text
    body = page.json()
    data = body["data"]
    # 4 bags for 1200.00, commission 5 % = 60.00, net 1140.00
    assert (data["bill_number"], data["farmer"]["name"]) == ("BILL-001", "Sita Devi")
    assert (data["total_amount"], data["net_amount"]) == (1200, 1140)
    assert data["charges"][0]["amount"] == 60
    assert "Someone Else" not in page.text and other["verification_code"] not in page.text
    assert "+911234567890" not in page.text and bill["id"] not in page.text
    assert page.headers["x-frame-options"] == "DENY"  # the gateway's headers are on it

    jwks = farmer.get("/api/public/.well-known/jwks.json").json()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == body["signature"]["kid"]]
    key = Ed25519PublicKey.from_public_bytes(_b64(jwk["x"]))
    key.verify(_b64(body["signature"]["value"]), canonical_json(data))
    changed = {**data, "net_amount": 1141}
    try:
        key.verify(_b64(body["signature"]["value"]), canonical_json(changed))
    except InvalidSignature:
        pass
    else:
        raise AssertionError("a changed amount still verified")

    unknown = farmer.get("/api/public/bills/" + "Z" * 32)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"


def test_printed_bill_keeps_its_own_csp_through_the_gateway_with_every_other_header(
    make_user: UserFactory, gw: httpx.Client
) -> None:
    """The page's policy (its style block by hash, nothing else loads or runs) reaches the
    browser; the gateway adds its other security headers (`page-security-headers`), and the
    API next to it keeps the APIs' CSP."""
    agent = make_user(("commissioner",))
    bill = _bill(gw, agent, "Sita Devi")
    printed = gw.get(f"/api/bills/{bill['id']}/print", headers=agent.bearer)
    assert printed.status_code == 200, printed.text
    assert printed.headers["content-type"] == "text/html; charset=utf-8"
    csp = printed.headers["content-security-policy"]
    assert csp == PRINT_CSP
    (style,) = re.findall(r"<style>(.*?)</style>", printed.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    headers = printed.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["permissions-policy"].startswith("camera=()")
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert headers["cross-origin-resource-policy"] == "same-origin"
    assert headers["cache-control"] == "private, no-store"
    assert "server" not in headers
    api = gw.get(f"/api/bills/{bill['id']}", headers=agent.bearer)
    assert api.status_code == 200
    assert api.headers["content-security-policy"] == "frame-ancestors 'none'"
    # Only the print path is a page: a look-alike path is the API's, with the API's headers.
    other = gw.get(f"/api/bills/{bill['id']}/print/x", headers=agent.bearer)
    assert other.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_public_pages_are_rate_limited_per_address_with_auctions_json_429(
    client_factory: ClientFactory,
) -> None:
    """10/s with a burst of 20 per address (gateway/dynamic.yml): 60 requests at once from one
    address get some 429s, each in auction's envelope with Retry-After; another address is
    not affected."""
    flooder = client_factory("127.0.9.10")
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: flooder.get("/api/public/bills/" + "Q" * 32), range(60)))
    statuses = {r.status_code for r in answers}
    assert statuses <= {404, 429}, statuses
    limited = [r for r in answers if r.status_code == 429]
    assert limited, "no request was rate-limited"
    for resp in limited:
        assert resp.headers["content-type"] == "application/json"
        body = resp.json()
        assert body["success"] is False
        assert body["error"]["code"] == "TOO_MANY_REQUESTS"
        assert resp.headers["retry-after"] == "1"
    calm = client_factory("127.0.9.11").get("/api/public/bills/" + "Q" * 32)
    assert calm.status_code == 404
