"""Sign up, sign in, sign out and the silent token refresh, in Chromium through the real
gateway (issue 12): the cookie login end to end, the CSRF header on writes included."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
from playwright.sync_api import Page, expect

from devstack.stack import Stack

from .conftest import ACCESS_TOKEN_TTL, shoot, sign_in

if TYPE_CHECKING:
    from .conftest import Problems, UserFactory

# The services accept a token this long after its `exp` (servicekit.security's leeway).
VERIFIER_LEEWAY = 5


def test_sign_up_with_field_errors_then_sign_out_and_back_in(
    page: Page, problems: Problems
) -> None:
    # The first attempt is refused by the API (422): its messages land on the fields.
    problems.expect(status=422, url=r"/auth/register$")
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Market replay")
    shoot(page, "home")

    page.get_by_test_id("nav-signup").click()
    expect(page).to_have_url("/signup")
    form = page.get_by_test_id("signup-form")
    form.get_by_label("Name").fill("Ana Trader")
    form.get_by_label("Email").fill("ana-at-example.com")
    form.get_by_label("Password").fill("short")
    form.get_by_role("button", name="Create account").click()
    email_error = form.locator("#f-email[aria-invalid=true] + .field-error, .field-error").first
    expect(email_error).to_be_visible()
    expect(form.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    messages = form.locator(".field-error").all_inner_texts()
    assert any("email" in m.lower() for m in messages), messages
    assert any("8 characters" in m for m in messages), messages
    shoot(page, "signup-errors")

    form.get_by_label("Email").fill("ana@example.com")
    form.get_by_label("Password").fill("correct horse 42")
    form.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("welcome")).to_have_text("Welcome, Ana Trader")
    expect(page.get_by_test_id("user-name")).to_have_text("Ana Trader")
    expect(page.locator(".field-error")).to_have_count(0)
    shoot(page, "home-signed-in")

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url("/signin")
    expect(page.get_by_test_id("nav-signin")).to_be_visible()
    names = {c["name"] for c in page.context.cookies()}
    assert not names & {"access_token", "csrf_token"}, names
    shoot(page, "signin")

    # A protected screen sends a signed-out visitor to sign in, and back after.
    page.goto("/trade")
    expect(page).to_have_url("/signin?next=%2Ftrade")
    form = page.get_by_test_id("signin-form")
    form.get_by_label("Email").fill("ana@example.com")
    form.get_by_label("Password").fill("correct horse 42")
    form.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/trade")
    expect(page.get_by_test_id("user-name")).to_have_text("Ana Trader")


def test_wrong_password_is_a_form_message(page: Page, problems: Problems) -> None:
    problems.expect(status=401, url=r"/auth/login$")
    page.goto("/signin")
    form = page.get_by_test_id("signin-form")
    form.get_by_label("Email").fill("nobody@example.com")
    form.get_by_label("Password").fill("wrong password")
    form.get_by_role("button", name="Sign in").click()
    expect(form.locator(".form-error")).to_contain_text("Invalid email or password")
    expect(page).to_have_url("/signin")


def test_a_write_succeeds_after_the_first_access_token_expired_without_a_401(
    page: Page, stack: Stack, make_user: UserFactory
) -> None:
    """The access token lives 10 s here. The page refreshes it before it expires, so a write
    made well after the first token is dead on the server succeeds, and no 401 ever reaches
    the page (any would fail this test: `page` fails on every HTTP error)."""
    user = make_user(("trader", "commissioner"))
    refreshes: list[str] = []
    page.on("request", lambda r: r.url.endswith("/auth/refresh") and refreshes.append(r.method))
    sign_in(page, user.email, user.password)
    signed_in_at = time.monotonic()
    first = {c["name"]: c["value"] for c in page.context.cookies()}["access_token"]

    # Meanwhile the API reference (the write goes through its "Try it out").
    page.get_by_role("link", name="API docs").click()
    page.get_by_role("link", name="Auction API").click()
    operation = page.locator("#operations-sessions-create_session")
    expect(operation).to_be_visible(timeout=30_000)

    # Until the first token is refused by the services themselves.
    dead_at = signed_in_at + ACCESS_TOKEN_TTL + VERIFIER_LEEWAY + 0.5
    page.wait_for_timeout(max(0.0, dead_at - time.monotonic()) * 1000)
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        refused = client.get("/api/sessions", headers={"Authorization": f"Bearer {first}"})
    assert refused.status_code == 401, refused.text
    assert refreshes and set(refreshes) == {"POST"}, refreshes
    now = {c["name"]: c["value"] for c in page.context.cookies()}["access_token"]
    assert now != first

    # The write: cookie login plus the X-CSRF-Token header, from the page.
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill("{}")
    with page.expect_response(
        lambda r: r.url.endswith("/api/sessions") and r.request.method == "POST"
    ) as created:
        operation.get_by_role("button", name="Execute").click()
    assert created.value.status == 201, created.value.text()
    assert created.value.request.header_value("x-csrf-token")
    expect(
        operation.locator(".live-responses-table tbody .response-col_status").first
    ).to_contain_text("201")


def test_the_api_reference_of_each_service_renders(page: Page) -> None:
    """Each service's Swagger UI from its OpenAPI document through the gateway; the tabs
    switch within the page (Swagger UI's chunk loads once)."""
    page.goto("/docs/trading")
    for service, title, path in (
        ("trading", "Trading replay service", "/sessions"),
        ("auction", "Auction data-entry service", "/api/sessions"),
        ("auth", "Auth service", "/auth/login"),
    ):
        if service != "trading":
            page.get_by_role("navigation", name="APIs").get_by_role(
                "link", name=f"{service.capitalize()} API"
            ).click()
        expect(page).to_have_url(f"/docs/{service}")
        swagger = page.get_by_test_id("swagger")
        expect(swagger.locator(".info .title")).to_contain_text(title, timeout=30_000)
        expect(swagger.locator(f".opblock-summary-path[data-path='{path}']").first).to_be_visible()
        expect(page.get_by_test_id("docs-loading")).to_have_count(0)
        if service == "trading":
            shoot(page, "api-docs")
