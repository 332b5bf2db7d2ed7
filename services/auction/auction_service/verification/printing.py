"""The printable bill: one self-contained HTML page (A4 or Letter) with a QR code of the
bill's public verification URL.

No external resources and no script: the only style is one inline <style> block, allowed by
its hash in the page's Content-Security-Policy; the QR code is inline SVG (segno), so the page
loads no image either. The gateway passes this policy through (`page-security-headers` in
gateway/dynamic.yml) instead of putting the APIs' one in its place."""

from __future__ import annotations

import base64
import hashlib
import io
from html import escape

import segno

from ..envelope import iso_z
from .schemas import PublicBill

STYLE = """
@page { size: auto; margin: 12mm; }
* { box-sizing: border-box; }
body { font: 10.5pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #000; margin: 0;
       max-width: 186mm; }
header { display: flex; justify-content: space-between; align-items: flex-start;
         border-bottom: 2px solid #000; padding-bottom: 4mm; margin-bottom: 4mm; }
.agent { font-size: 14pt; font-weight: bold; margin: 0 0 1mm; overflow-wrap: anywhere; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0.5mm 4mm; margin: 0; }
dt { font-weight: bold; }
dd { margin: 0; }
.qr { text-align: center; font-size: 7.5pt; width: 42mm; }
.qr svg { width: 38mm; height: 38mm; display: block; margin: 0 auto 1mm; }
.qr p { margin: 0; word-break: break-all; }
table { width: 100%; border-collapse: collapse; margin: 0 0 4mm; page-break-inside: avoid; }
caption { text-align: left; font-weight: bold; margin-bottom: 1mm; }
th, td { border-bottom: 1px solid #888; padding: 1mm 1.5mm; text-align: left; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: bold; border-bottom: none; border-top: 2px solid #000; }
.void { color: #b00; font-weight: bold; font-size: 14pt; }
footer { font-size: 8pt; color: #333; margin-top: 4mm; }
@media screen { body { margin: 12mm auto; } }
@media print { body { max-width: none; } }
""".strip()

STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# The page's own policy: nothing loads, nothing runs; only the style block above applies, and
# the empty data: icon (so a browser asks for no /favicon.ico, which no service has).
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def verification_url(public_base_url: str, code: str) -> str:
    return f"{public_base_url}/api/public/bills/{code}"


def qr_svg(url: str) -> str:
    """The URL as a QR code (error correction M), inline SVG without XML declaration; a
    viewBox instead of a size, so the stylesheet scales it."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, svgns=True, nl=False, border=4, omitsize=True
    )
    return out.getvalue().decode()


def _money(value: float | object) -> str:
    return f"{value:,.2f}"


def render_bill_html(doc: PublicBill, url: str) -> str:
    e = escape
    lots = "".join(
        f"<tr><td>{i}</td><td>{e(lot.product_name)}</td><td class=n>{lot.quantity:g}</td>"
        f"<td>{e(lot.unit)}</td><td class=n>{_money(lot.amount)}</td></tr>"
        for i, lot in enumerate(doc.lots, 1)
    )
    charges = "".join(
        f"<tr><td>{e(c.name)}</td><td class=n>{c.rate:g} %</td>"
        f"<td class=n>{_money(c.basis)}</td><td class=n>{_money(c.amount)}</td></tr>"
        for c in doc.charges
    )
    payments = (
        "".join(
            f"<tr><td>{e(iso_z(p.paid_at)[:10])}</td><td>{e(p.method)}</td>"
            f"<td class=n>{_money(p.amount)}</td></tr>"
            for p in doc.payments
        )
        or "<tr><td colspan=3>No payments yet</td></tr>"
    )
    void = "<p class=void>VOID: this bill was cancelled</p>" if doc.status == "VOID" else ""
    # The letterhead: the agent's business name (settings), else their account number.
    agent = doc.commissioner.name or f"Commission agent #{doc.commissioner.id}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{e(doc.bill_number)}: {e(doc.farmer.name)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<div>
<p class="agent">{e(agent)}</p>
<h1>Bill {e(doc.bill_number)}</h1>
{void}
<dl>
<dt>Date</dt><dd>{e(iso_z(doc.bill_date)[:10])}</dd>
<dt>Farmer</dt><dd>{e(doc.farmer.name)}</dd>
<dt>Status</dt><dd>{e(doc.status)}, {e(doc.payment_status)}</dd>
</dl>
</div>
<div class="qr">{qr_svg(url)}<p>Scan to verify this bill</p></div>
</header>
<main>
<table>
<caption>Lots</caption>
<thead><tr><th>#</th><th>Product</th><th class=n>Quantity</th><th>Unit</th>
<th class=n>Amount</th></tr></thead>
<tbody>{lots}</tbody>
<tfoot><tr><td colspan=4>Total</td><td class=n>{_money(doc.total_amount)}</td></tr></tfoot>
</table>
<table>
<caption>Charges deducted</caption>
<thead><tr><th>Charge</th><th class=n>Rate</th><th class=n>On</th><th class=n>Amount</th></tr>
</thead>
<tbody>{charges}</tbody>
<tfoot><tr><td colspan=3>Net payable to the farmer</td>
<td class=n>{_money(doc.net_amount)}</td></tr></tfoot>
</table>
<table>
<caption>Payments</caption>
<thead><tr><th>Date</th><th>Method</th><th class=n>Amount</th></tr></thead>
<tbody>{payments}</tbody>
<tfoot><tr><td colspan=2>Paid / balance</td>
<td class=n>{_money(doc.paid_amount)} / {_money(doc.balance_amount)}</td></tr></tfoot>
</table>
</main>
<footer>Verify at {e(url)}: the page there is signed (Ed25519) by the commission agent's
system; its key is published at /api/public/.well-known/jwks.json.</footer>
</body>
</html>
"""
