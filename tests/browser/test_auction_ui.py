"""The auction floor in Chromium through the real gateway (issue 12): a commission agent's day.

One commissioner sets up the masters on their screens, starts today's session and enters five
lots for two farmers BY KEYBOARD ALONE (the pickers searched by typing, ↓ once, Enter to pick,
move on and save; a farmer and a buyer added from the pickers; the farmer and product kept for
the next lot; a lot the API refuses comes back into the form with the message on its field).
A colleague bills one farmer meanwhile: editing that farmer's lot shows the API's 409 on the
row. The agent bills the other farmer, opens the service's printable bill (the QR code, no
CSP violation), pays part of it with a UTR, voids the colleague's bill, invoices a buyer and
collects in full, and reads the day book (CSV too), the outstanding list (an overdue bill
first, highlighted) and a ledger. Every screen is shot at 1280x800 and 390x844; any console
error or failed request fails the test (conftest `page`), except the two the test provokes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import httpx
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect

from devstack.stack import Stack

from .conftest import shoot, sign_in

if TYPE_CHECKING:
    from .conftest import Problems, User, UserFactory


class Api:
    """The commissioner's API through the gateway, for what a colleague does at another desk.
    Access tokens live 10 s here: each call logs in afresh."""

    def __init__(self, stack: Stack, user: User) -> None:
        self.client = httpx.Client(base_url=stack.gateway_url, timeout=10)
        self.user = user

    def _auth(self) -> dict[str, str]:
        r = self.client.post(
            "/auth/login", json={"email": self.user.email, "password": self.user.password}
        )
        assert r.status_code == 200, r.text
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.client.request(method, path, json=body, params=params, headers=self._auth())
        assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json()["data"]

    def one(self, kind: str, name: str) -> dict[str, Any]:
        rows = self.call("GET", f"/api/{kind}", q=name)
        assert len(rows) == 1, rows
        row: dict[str, Any] = rows[0]
        return row


def keys(page: Page, *strokes: str) -> None:
    """Type text and press keys in order: "⏎" Enter, "↓" ArrowDown, anything else is typed."""
    for stroke in strokes:
        if stroke == "⏎":
            page.keyboard.press("Enter")
        elif stroke == "↓":
            page.keyboard.press("ArrowDown")
        else:
            page.keyboard.type(stroke)


def add_master(page: Page, form_id: str, values: dict[str, str], *, next_here: bool = True) -> None:
    """Fill a master form (text fields and selects) and save it with Enter: emptied and, with
    `next_here`, focused for the next one."""
    form = page.get_by_test_id(form_id)
    for name, value in values.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    form.locator("[name=name]").press("Enter")
    expect(form.locator("[name=name]")).to_have_value("")
    if next_here:
        expect(form.locator("[name=name]")).to_be_focused()


def lot_rows(page: Page) -> Any:
    return page.get_by_test_id("lot-row")


def test_a_commission_agents_day_by_keyboard(
    page: Page, problems: Problems, stack: Stack, make_user: UserFactory
) -> None:
    user = make_user(("commissioner",))
    api = Api(stack, user)
    # Provoked on purpose: a lot naming a product deactivated meanwhile (400, on its field),
    # and an edit of a lot a colleague billed meanwhile (409, on its row).
    problems.expect(status=400, url=r"/api/sessions/[^/]+/items$")
    problems.expect(status=409, url=r"/api/sessions/[^/]+/items/[^/]+$")
    sign_in(page, user.email, user.password, next_path="/auction")

    # ---- today: no session yet ----
    start = page.get_by_test_id("start-today")
    expect(start).to_be_focused()
    shoot(page, "auction-today-start")

    # ---- the masters (their screens: the other test) ----
    vegetables = api.call("POST", "/api/categories", {"name": "Vegetables"})
    for product in ("Tomato", "Onion", "Brinjal"):
        api.call("POST", "/api/products", {"name": product, "category_id": vegetables["id"]})
    api.call("POST", "/api/farmers", {"name": "Ramesh Kumar", "village": "Kothur"})
    api.call("POST", "/api/buyers", {"name": "Sri Sai Traders", "phone": "90000 22222"})
    api.call("PUT", "/api/settings", {"business_name": "Sri Balaji Commission Agents"})
    api.call(
        "POST",
        "/api/charges",
        {
            "name": "Market fee",
            "kind": "PERCENT",
            "rate": 1,
            "payer": "FARMER",
            "account": "MARKET_YARD",
        },
    )

    # ---- today's session, from the keyboard ----
    page.reload()
    expect(page.get_by_test_id("start-today")).to_be_focused()
    page.keyboard.press("Enter")
    farmer = page.get_by_test_id("lot-farmer")
    expect(farmer).to_be_focused()
    session_id = re.search(r"/auction/sessions/([0-9a-f-]+)$", page.url)
    assert session_id, page.url
    sid = session_id.group(1)
    # From here the entry is keys only: count every pointer press the page sees.
    page.evaluate(
        "() => { window.__pointer = 0;"
        " addEventListener('pointerdown', () => window.__pointer++, true); }"
    )
    amount = page.get_by_test_id("lot-amount")
    rows = lot_rows(page)

    # 1. Ramesh (searched), Tomato, Sri Sai Traders, KG (as it is), 120 at 20.
    keys(page, "rame", "⏎", "tom", "⏎", "sri", "⏎", "⏎", "120", "⏎", "20", "⏎")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("2,400.00")
    expect(farmer).to_be_focused()
    expect(farmer).to_have_value("Ramesh Kumar")  # kept for the farmer's next lot
    expect(page.get_by_test_id("lot-product")).to_have_value("Tomato")
    expect(page.get_by_test_id("lot-buyer")).to_have_value("")

    # 2. The same farmer (Enter keeps him); "o" lists Onion then Tomato: ↓ picks Tomato;
    #    a new buyer added from the picker (Enter arms "Add new", Enter adds); 80.5 at 21.25.
    keys(page, "⏎", "o", "↓", "⏎", "Balaji Vegetables", "⏎")
    expect(page.locator(".au-picker-create.armed")).to_have_text(
        "Press Enter again to add “Balaji Vegetables” as a new buyer"
    )
    shoot(page, "auction-lot-picker")
    keys(page, "⏎", "⏎", "80.5", "⏎", "21.25")
    expect(amount).to_have_value("1710.63")  # 80.5 x 21.25 = 1710.625, half up
    keys(page, "⏎")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Balaji Vegetables")
    expect(rows.first).to_contain_text("Tomato")

    # 3. A new farmer added from the picker; Onion, in bags ("B" picks BAG); no rate: the
    #    lot's total typed in Amount instead.
    keys(page, "Suresh Reddy", "⏎", "⏎", "oni", "⏎", "bal", "⏎", "B", "⏎", "10", "⏎", "⏎")
    expect(amount).to_be_focused()
    keys(page, "4500", "⏎")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Suresh Reddy")
    expect(rows.first).to_contain_text("10 BAG")

    # 4. Suresh and Onion kept, BAG kept; 5 bags at 455.50.
    keys(page, "⏎", "⏎", "sri", "⏎", "⏎", "5", "⏎", "455.5", "⏎")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("2,277.50")

    # 5. Ramesh's Brinjal, which was deactivated at the office a moment ago: the API refuses
    #    it and the lot comes back into the form with the message on the product.
    brinjal = api.one("products", "Brinjal")
    api.call("PUT", f"/api/products/{brinjal['id']}", {"active": False})
    keys(page, "ram", "⏎", "brin", "⏎", "sri", "⏎", "K", "⏎", "50", "⏎", "19", "⏎")
    product_input = page.get_by_test_id("lot-product")
    expect(product_input).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("lot-form").locator(".field-error")).to_have_text(
        "Product is inactive"
    )
    expect(product_input).to_be_focused()
    expect(farmer).to_have_value("Ramesh Kumar")
    shoot(page, "auction-lot-refused")
    # Tomato instead (its unit comes back: KG); Enter through the kept buyer, unit and
    # quantity saves the whole lot.
    keys(page, "tom", "⏎", "⏎", "⏎", "⏎")
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("50 KG")
    expect(rows.first).to_contain_text("950.00")
    expect(page.get_by_test_id("lot-pending")).to_have_count(0)
    assert page.evaluate("window.__pointer") == 0, "the lot entry took a pointer press"

    tiles = page.locator(".au-session-tiles")
    expect(tiles).to_contain_text("11,838.13")  # 2400 + 1710.63 + 4500 + 2277.50 + 950
    expect(tiles).to_contain_text("2 farmers · 2 buyers")
    expect(page.get_by_test_id("tab-lots")).to_contain_text("5")
    shoot(page, "auction-lot-entry")

    # ---- a colleague bills Suresh meanwhile: editing his lot shows the API's 409 ----
    suresh = api.one("farmers", "Suresh")
    colleague_bill = api.call("POST", f"/api/sessions/{sid}/bills", {"farmer_id": suresh["id"]})
    suresh_lot = rows.filter(has_text="4,500.00")
    suresh_lot.get_by_test_id("edit-lot").click()
    editor = page.get_by_test_id("lot-editor")
    quantity = editor.locator("input[name=quantity]")
    expect(quantity).to_be_focused()
    quantity.fill("11")
    quantity.press("Enter")
    conflict = editor.locator(".form-error")
    expect(conflict).to_have_text("Cannot modify a billed auction item. Void its bill first.")
    editor.evaluate("el => el.scrollIntoView({block: 'center'})")
    shoot(page, "auction-lot-conflict")
    quantity.press("Escape")
    expect(editor).to_have_count(0)
    # The row learnt it is billed now: locked, no more Edit.
    expect(suresh_lot.get_by_test_id("edit-lot")).to_have_count(0)
    expect(suresh_lot).to_contain_text(colleague_bill["bill_number"])

    # ---- bill Ramesh ----
    page.get_by_test_id("tab-farmers").click()
    farmers = page.get_by_test_id("farmers-table")
    expect(farmers.locator("tr[data-farmer='Suresh Reddy']")).to_contain_text(
        colleague_bill["bill_number"]
    )
    shoot(page, "auction-farmers-bills")
    farmers.locator("[data-testid=bill-farmer][data-farmer='Ramesh Kumar']").click()
    # 2400 + 1710.63 + 950 = 5060.63; commission 5 % = 253.03; market fee 1 % = 50.61
    expect(page.get_by_test_id("bill-sums")).to_contain_text("Commission (5 % of 5,060.63)")
    expect(page.get_by_test_id("bill-sums")).to_contain_text("Market fee (1 % of 5,060.63)")
    expect(page.get_by_test_id("bill-sums")).to_contain_text("4,756.99")
    expect(page.get_by_test_id("pay-amount")).to_have_value("4756.99")
    shoot(page, "auction-bill")

    # The service's printable bill in a new tab: its QR code, and nothing the page's CSP
    # refused (it has no script; its one style block is allowed by hash), and no request
    # failed (its icon is an empty data: URL, so not even /favicon.ico is asked for).
    print_problems: list[str] = []

    def watch(popup: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            where = str((message.location or {}).get("url", ""))
            if message.type == "error" or "Content Security Policy" in message.text:
                print_problems.append(f"{message.text} ({where})")

        def on_failed(request: Request) -> None:
            print_problems.append(f"failed {request.url}")

        def on_response(response: Response) -> None:
            if response.status >= 400:
                print_problems.append(f"{response.status} {response.url}")

        popup.on("console", on_console)
        popup.on("requestfailed", on_failed)
        popup.on("response", on_response)

    page.context.on("page", watch)
    with page.context.expect_page() as opened:
        page.get_by_test_id("print-bill").click()
    popup = opened.value
    popup.wait_for_load_state("load")
    assert re.search(r"/api/bills/[0-9a-f-]+/print$", popup.url), popup.url
    expect(popup.locator("h1")).to_contain_text("BILL-002")
    qr = popup.locator("svg")
    expect(qr).to_have_count(1)
    assert qr.locator("path").count() >= 1
    expect(popup.locator("body")).to_contain_text("4,756.99")
    expect(popup.locator("body")).to_contain_text("Sri Balaji Commission Agents")
    shoot(popup, "auction-bill-print")
    popup.close()
    assert print_problems == [], print_problems

    # Pay part of it by UPI, with the UTR.
    form = page.get_by_test_id("payment-form")
    form.get_by_test_id("pay-amount").fill("2000")
    form.locator("label", has_text="UPI").click()
    form.get_by_test_id("pay-reference").fill("UTR2026120100042")
    form.get_by_test_id("pay-submit").click()
    expect(page.get_by_test_id("payments-table")).to_contain_text("UTR2026120100042")
    expect(page.locator(".au-head")).to_contain_text("PARTIAL")
    expect(page.locator(".au-tiles")).to_contain_text("2,756.99")
    shoot(page, "auction-bill-paid")

    # Void the colleague's bill (no payments on it): its number stays, its lots are open again.
    page.goto(f"/auction/bills/{colleague_bill['id']}")
    void = page.get_by_test_id("void-bill")
    void.click()
    expect(void).to_have_text("Confirm void")
    void.click()
    expect(page.locator(".au-head")).to_contain_text("VOID")
    expect(page.get_by_test_id("void-bill")).to_have_count(0)

    # ---- invoice Sri Sai Traders and collect in full ----
    page.goto(f"/auction/sessions/{sid}/buyers")
    buyers = page.get_by_test_id("buyers-table")
    expect(buyers.locator("tr[data-buyer='Sri Sai Traders']")).to_contain_text("5,627.50")
    shoot(page, "auction-buyers")
    buyers.locator("[data-testid=invoice-buyer][data-buyer='Sri Sai Traders']").click()
    collect = page.get_by_test_id("collection-form")
    expect(collect.get_by_test_id("pay-amount")).to_have_value("5627.50")
    collect.get_by_test_id("pay-reference").fill("Receipt 17")
    collect.get_by_test_id("pay-submit").click()
    expect(page.get_by_test_id("collections-table")).to_contain_text("Receipt 17")
    expect(page.locator(".au-head")).to_contain_text("INV-001")
    expect(page.locator(".au-head")).to_contain_text("PAID")
    shoot(page, "auction-invoice")

    # ---- yesterday's lot billed late: overdue now (same-day terms end at midnight UTC) ----
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT09:00:00Z")
    old = api.call("POST", "/api/sessions", {"date": yesterday})
    ramesh = api.one("farmers", "Ramesh")
    tomato = api.one("products", "Tomato")
    sai = api.one("buyers", "Sri Sai")
    api.call(
        "POST",
        f"/api/sessions/{old['id']}/items",
        {
            "farmer_id": ramesh["id"],
            "product_id": tomato["id"],
            "buyer_id": sai["id"],
            "unit": "KG",
            "quantity": 10,
            "final_price": 200,
        },
    )
    late = api.call("POST", f"/api/sessions/{old['id']}/bills", {"farmer_id": ramesh["id"]})
    assert late["overdue"] is True, late

    # ---- the books ----
    page.get_by_test_id("au-nav-outstanding").click()
    outstanding = page.get_by_test_id("outstanding-table").locator("tbody tr")
    expect(outstanding).to_have_count(2)
    expect(outstanding.nth(0)).to_have_attribute("data-overdue", "true")
    expect(outstanding.nth(0)).to_have_class(re.compile(r"\bau-overdue\b"))
    expect(outstanding.nth(0)).to_contain_text(late["bill_number"])
    expect(outstanding.nth(0)).to_contain_text("OVERDUE")
    expect(outstanding.nth(1)).to_have_attribute("data-overdue", "false")
    expect(outstanding.nth(1)).to_contain_text("2,756.99")
    shoot(page, "auction-outstanding")

    outstanding.nth(0).get_by_role("link", name="Ramesh Kumar").click()
    ledger = page.get_by_test_id("ledger-table")
    expect(ledger.locator("tbody tr")).to_have_count(3)  # BILL-002, its payment, BILL-003
    # 4756.99 - 2000 + (200 - 10.00 commission - 2.00 market fee)
    expect(page.locator(".au-tiles")).to_contain_text("2,944.99")
    expect(page.get_by_test_id("csv-link")).to_have_attribute(
        "href", re.compile(r"^/api/farmers/[0-9a-f-]+/ledger\.csv$")
    )
    shoot(page, "auction-ledger")

    page.get_by_test_id("au-nav-day-book").click()
    book = page.get_by_test_id("day-book-table")
    # BILL-001 (colleague), BILL-002, its payment, BILL-001 voided, INV-001, its collection,
    # BILL-003 (yesterday's lot, billed today)
    expect(book.locator("tbody tr")).to_have_count(7)
    expect(book).to_contain_text("Bill voided")
    expect(page.locator(".au-verify-badge")).to_contain_text("Journal intact · 7 entries")
    with page.expect_download() as download:
        page.get_by_test_id("csv-link").click()
    csv = download.value.path().read_text()
    assert csv.startswith("seq,at,kind,"), csv[:80]
    assert "BILL-002" in csv and "COLLECTION" in csv, csv
    shoot(page, "auction-day-book")

    # The lists of bills and invoices, and a ledger found by typing.
    page.get_by_test_id("au-nav-bills").click()
    bills = page.get_by_test_id("bills-table").locator("tbody tr")
    expect(bills).to_have_count(3)
    expect(bills.nth(0)).to_contain_text("OVERDUE")
    expect(bills.nth(2)).to_contain_text("VOID")
    shoot(page, "auction-bills")
    page.get_by_test_id("au-nav-invoices").click()
    expect(page.get_by_test_id("invoices-table")).to_contain_text("5,627.50")
    shoot(page, "auction-invoices")
    page.get_by_test_id("au-nav-ledgers").click()
    expect(page.get_by_test_id("ledger-farmer")).to_be_focused()
    keys(page, "sur")
    expect(page.locator(".au-picker-list li.active")).to_contain_text("Suresh Reddy")
    shoot(page, "auction-ledgers")
    keys(page, "⏎")
    # Suresh: BILL-001 and its void, net 0 owed.
    expect(page.get_by_test_id("ledger-table").locator("tbody tr")).to_have_count(2)
    expect(page.locator(".au-head")).to_contain_text("Suresh Reddy")

    page.get_by_test_id("au-nav-today").click()
    expect(page.get_by_test_id("today-card")).to_contain_text("11,838.13")
    expect(page.get_by_test_id("open-today")).to_be_focused()
    shoot(page, "auction-today")


def test_masters_settings_sessions_and_reports(
    page: Page, problems: Problems, stack: Stack, make_user: UserFactory
) -> None:
    """The masters' screens (Enter adds and is ready for the next; the API's messages on the
    fields), the settings, the sessions list with its day's totals and the reports."""
    user = make_user(("commissioner",))
    api = Api(stack, user)
    problems.expect(status=400, url=r"/api/charges$")
    problems.expect(status=400, url=r"/api/settings$")
    sign_in(page, user.email, user.password, next_path="/auction/products")

    # The first category opens the product form beside it, which takes the focus.
    add_master(page, "m-categories-form", {"name": "Vegetables"}, next_here=False)
    expect(page.get_by_test_id("m-products-form")).to_be_visible()
    add_master(page, "m-categories-form", {"name": "Fruits"})
    for product, category in (
        ("Tomato", "Vegetables"),
        ("Onion", "Vegetables"),
        ("Mango", "Fruits"),
    ):
        form = page.get_by_test_id("m-products-form")
        expect(form.locator("[name=category_id] option")).to_have_count(2)
        add_master(page, "m-products-form", {"name": product, "category_id": category})
    table = page.get_by_test_id("m-products-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tr", has_text="Mango")).to_contain_text("Fruits")
    # Deactivated: out of the list (and the pickers) unless asked for.
    table.locator("tr", has_text="Onion").get_by_role("button", name="Deactivate").click()
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Show inactive too").check()
    expect(table.locator("tr", has_text="Onion")).to_contain_text("inactive")
    shoot(page, "auction-products")

    page.get_by_test_id("au-nav-farmers").click()
    add_master(
        page,
        "m-farmers-form",
        {"name": "Ramesh Kumar", "village": "Kothur", "phone": "98480 11111"},
    )
    add_master(page, "m-farmers-form", {"name": "Lakshmi Devi", "village": "Amangal"})
    farmers = page.get_by_test_id("m-farmers-table")
    expect(farmers.locator("tbody tr")).to_have_count(2)
    page.get_by_test_id("m-farmers-search").fill("koth")
    expect(farmers.locator("tbody tr")).to_have_count(1)
    expect(farmers).to_contain_text("Ramesh Kumar")
    # Edit in the same form: the village changes.
    farmers.get_by_role("button", name="Edit").click()
    form = page.get_by_test_id("m-farmers-form")
    expect(form.locator("[name=name]")).to_have_value("Ramesh Kumar")
    form.locator("[name=village]").fill("Kothur East")
    form.locator("[name=village]").press("Enter")
    expect(farmers).to_contain_text("Kothur East")
    shoot(page, "auction-farmers")

    page.get_by_test_id("au-nav-buyers").click()
    add_master(page, "m-buyers-form", {"name": "Sri Sai Traders", "phone": "90000 22222"})

    # A charge per bag: its unit field shows for PER_UNIT only; a percent over 100 is the
    # API's message on the rate.
    page.get_by_test_id("au-nav-charges").click()
    form = page.get_by_test_id("m-charges-form")
    expect(form.locator("[name=unit]")).to_be_hidden()
    form.locator("[name=kind]").select_option(label="Per unit")
    expect(form.locator("[name=unit]")).to_be_visible()
    form.locator("[name=unit]").select_option("BAG")
    add_master(
        page,
        "m-charges-form",
        {"name": "Hamali", "rate": "2.5", "payer": "Farmer (bill)", "account": "Third party"},
    )
    form.locator("[name=kind]").select_option(label="% of sales")
    form.locator("[name=name]").fill("Market fee")
    form.locator("[name=rate]").fill("150")
    form.locator("[name=rate]").press("Enter")
    expect(form.locator("[name=rate]")).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".field-error")).to_contain_text("at most 100")
    form.locator("[name=rate]").fill("1")
    form.locator("[name=rate]").press("Enter")
    charges = page.get_by_test_id("m-charges-table")
    expect(charges.locator("tbody tr")).to_have_count(2)
    expect(charges.locator("tr", has_text="Hamali")).to_contain_text("2.50 / BAG")
    shoot(page, "auction-charges")

    # Settings: only what changed is sent; the API's message lands on its field.
    page.get_by_test_id("au-nav-settings").click()
    settings = page.get_by_test_id("settings-form")
    rate = settings.locator("[name=commission_rate]")
    expect(rate).to_have_value("5")
    rate.fill("4.555")
    settings.get_by_test_id("settings-save").click()
    expect(rate).to_have_attribute("aria-invalid", "true")
    rate.fill("4.5")
    settings.locator("[name=buyer_credit_days]").fill("7")
    settings.locator("[name=business_name]").fill("Sri Balaji Commission Agents")
    settings.get_by_test_id("settings-save").click()
    expect(page.get_by_test_id("settings-status")).to_contain_text("Saved")
    saved = api.call("GET", "/api/settings")
    assert saved["commission_rate"] == 4.5 and saved["buyer_credit_days"] == 7, saved
    assert saved["business_name"] == "Sri Balaji Commission Agents", saved
    shoot(page, "auction-settings")

    # Two sessions (today's and a late entry for an earlier day), with their day's totals.
    farmer = api.one("farmers", "Ramesh")
    tomato = api.one("products", "Tomato")
    buyer = api.one("buyers", "Sri Sai")
    lot = {
        "farmer_id": farmer["id"],
        "product_id": tomato["id"],
        "buyer_id": buyer["id"],
        "unit": "KG",
    }
    today = api.call("POST", "/api/sessions", {})
    api.call(
        "POST", f"/api/sessions/{today['id']}/items", {**lot, "quantity": 100, "final_price": 2000}
    )
    api.call(
        "POST", f"/api/sessions/{today['id']}/items", {**lot, "quantity": 40, "final_price": 880}
    )
    api.call("POST", f"/api/sessions/{today['id']}/bills", {"farmer_id": farmer["id"]})
    earlier = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%dT08:00:00Z")
    other = api.call("POST", "/api/sessions", {"date": earlier})
    api.call(
        "POST", f"/api/sessions/{other['id']}/items", {**lot, "quantity": 10, "final_price": 250}
    )
    page.get_by_test_id("au-nav-sessions").click()
    sessions = page.get_by_test_id("sessions-table").locator("tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.nth(0)).to_contain_text("2,880.00")  # today: 2000 + 880, all billed
    expect(sessions.nth(0)).to_contain_text("129.60")  # commission 4.5 %
    expect(sessions.nth(1)).to_contain_text("250.00")  # not billed yet
    shoot(page, "auction-sessions")

    page.get_by_test_id("au-nav-reports").click()
    report = page.get_by_test_id("commission-table")
    expect(report).to_contain_text("129.60")
    expect(page.get_by_role("link", name="Commission CSV")).to_have_attribute(
        "href", re.compile(r"^/api/reports/commission\.csv\?from=\d{4}-\d\d-\d\d&to=")
    )
    shoot(page, "auction-reports")
