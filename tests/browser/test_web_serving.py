"""How the web app is served through the gateway (issue 12): the strict CSP and security
headers on its page, hashed assets cached for good and precompressed, the SPA fallback on
exactly the app's paths (API-looking paths stay JSON 404s), and the JavaScript each area's
first screen costs on a first load."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from devstack.stack import Stack
from devstack.webapp import DIST_DIR

from .conftest import js_bytes_loaded, js_loaded, sign_in

if TYPE_CHECKING:
    from .conftest import PageFactory, UserFactory

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)
APP_PATHS = ["/", "/signin", "/signup", "/trade", "/trade/sessions/12", "/auction/lots", "/docs"]
# First-load budgets of compressed JavaScript per screen (the replay screen's, 300 KB, is
# asserted by the trading tests).
BUDGET_HOME = 40_000
BUDGET_AREA_PLACEHOLDER = 60_000
BUDGET_DOCS = 450_000


@pytest.fixture(scope="module")
def http(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.gateway_url, timeout=10)


@pytest.fixture(scope="module")
def manifest(stack: Stack) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DIST_DIR / "manifest.json").read_text())
    return data


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.scripts: list[str] = []
        self.styles = 0
        self.style_attributes = 0
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if names.get("src"):
                self.scripts.append(str(names["src"]))
            else:
                self._in_script = True
        self.styles += tag == "style"
        self.style_attributes += "style" in names
        self.handlers += [name for name in names if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


@pytest.mark.parametrize("path", APP_PATHS)
def test_every_app_path_is_the_page_with_the_strict_csp(http: httpx.Client, path: str) -> None:
    resp = http.get(path)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/html; charset=utf-8"
    # One CSP, the web service's: the gateway's API headers (frame-ancestors only) stay off.
    assert resp.headers.get_list("content-security-policy") == [STRICT_CSP]
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["etag"]
    assert resp.headers["x-frame-options"] == "DENY"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["cross-origin-opener-policy"] == "same-origin"
    assert resp.headers["permissions-policy"].startswith("camera=()")
    assert "server" not in resp.headers
    assert resp.headers["x-request-id"]
    markup = _Markup()
    markup.feed(resp.text)
    assert markup.inline_scripts == 0 and markup.styles == 0, resp.text
    assert markup.style_attributes == 0 and markup.handlers == [], resp.text
    assert markup.scripts and all(src.startswith("/assets/") for src in markup.scripts)
    again = http.get(path, headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path", ["/signinX", "/tradeX", "/trading", "/auctions", "/assetsX", "/index.html", "/x"]
)
def test_other_paths_stay_the_gateways_json_404(http: httpx.Client, path: str) -> None:
    resp = http.get(path)
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found"}


def test_the_page_answers_get_and_head_only(http: httpx.Client) -> None:
    assert http.head("/signin").status_code == 200
    resp = http.post("/signin", json={})
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not found"}


def test_hashed_assets_are_immutable_and_precompressed(
    http: httpx.Client, manifest: dict[str, Any]
) -> None:
    entry = manifest["entry"]
    assert re.fullmatch(r"/assets/main-[A-Z0-9]{8}\.js", entry), entry
    raw = (DIST_DIR / entry.lstrip("/")).read_bytes()
    for accept, coding in (("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)):
        resp = http.get(entry, headers={"Accept-Encoding": accept})
        assert resp.status_code == 200
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert resp.headers["content-type"] == "text/javascript; charset=utf-8"
        assert resp.headers["vary"] == "Accept-Encoding"
        assert resp.headers.get("content-encoding") == coding
        # The build's precompressed copy, as it is on disk (httpx decodes gzip itself).
        sizes = manifest["files"][entry.lstrip("/")]
        assert int(resp.headers["content-length"]) == sizes[coding] if coding else sizes["bytes"]
        if coding != "br":
            assert resp.content == raw
    css = http.get(manifest["css"]["app"], headers={"Accept-Encoding": "gzip"})
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["content-encoding"] == "gzip"
    # A missing or stale chunk is a 404, never the page parsed as JavaScript.
    for path in ("/assets/main-OLDHASH1.js", "/assets/../index.html", "/assets/.build-stamp"):
        resp = http.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"] == "application/json"


def test_each_services_openapi_document_is_reachable_through_the_gateway(
    http: httpx.Client,
) -> None:
    titles = {}
    for service in ("trading", "auction", "auth"):
        resp = http.get(f"/docs/{service}/openapi.json")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"] == "application/json"
        titles[service] = resp.json()["info"]["title"]
        # Only the document: the service's other internal paths stay unreachable.
        assert http.post(f"/docs/{service}/openapi.json").status_code == 404
    assert titles == {
        "trading": "Trading replay service",
        "auction": "Auction data-entry service",
        "auth": "Auth service",
    }


def test_deep_links_render_their_screen_and_unknown_ones_say_so(page: Page) -> None:
    page.goto("/docs/auth")
    # The screen's own heading; Swagger UI adds an h1 of its own once it has rendered (or not
    # yet: both orders happen), so the locator names the one it means.
    expect(page.get_by_role("heading", level=1, name="Auth API", exact=True)).to_be_visible()
    page.goto("/docs/a/b")
    expect(page.get_by_test_id("not-found")).to_be_visible()
    page.get_by_role("link", name="Go home").click()
    expect(page).to_have_url("/")
    page.go_back()
    expect(page.get_by_test_id("not-found")).to_be_visible()


def _packages(manifest: dict[str, Any], loaded: dict[str, int]) -> set[str]:
    return {p for path in loaded for p in manifest["chunks"].get(path, {}).get("packages", [])}


def test_javascript_each_first_screen_loads(
    page: Page, new_page: PageFactory, manifest: dict[str, Any], make_user: UserFactory
) -> None:
    """Fresh browser contexts (no cache): the compressed JavaScript each area's first screen
    loads. Swagger UI loads only on the API docs, the chart library never before trading."""
    figures = {}
    page.goto("/")
    expect(page.get_by_role("link", name="Create an account")).to_be_visible()
    loaded = js_loaded(page)
    figures["home"] = js_bytes_loaded(page)
    assert _packages(manifest, loaded) == set(), loaded
    # What went over the wire is a precompressed copy (Chromium asks for br only over HTTPS).
    entry = manifest["entry"]
    sizes = manifest["files"][entry.lstrip("/")]
    assert loaded[entry] in (sizes["gzip"], sizes["br"]), (loaded, sizes)
    assert figures["home"] <= BUDGET_HOME, loaded

    for path in ("/docs/trading", "/trade", "/auction"):
        screen = new_page()
        if path.startswith("/docs"):
            screen.goto(path)
            screen.locator(".swagger .opblock").first.wait_for(timeout=30_000)
        else:
            user = make_user(("trader", "commissioner"))
            sign_in(screen, user.email, user.password, next_path=path)
            expect(screen).to_have_url(path)
            screen.wait_for_load_state("networkidle")
        name = path.strip("/").split("/")[0]
        figures[name] = js_bytes_loaded(screen)
        packages = _packages(manifest, js_loaded(screen))
        if name == "docs":
            assert packages == {"swagger-ui-dist"}, packages
        else:
            assert "swagger-ui-dist" not in packages, packages
        screen.context.close()
    print("first-load JavaScript, compressed bytes:", figures)
    assert figures["docs"] <= BUDGET_DOCS
    assert figures["auction"] <= BUDGET_AREA_PLACEHOLDER


def test_the_build_is_not_committed() -> None:
    ignored = (DIST_DIR.parent / ".gitignore").read_text().split()
    assert "dist/" in ignored and "node_modules/" in ignored
    assert Path(DIST_DIR / "index.html").exists()
