"""Browser tests: the real web app in headless Chromium, through the real gateway and services.

- `stack`: the e2e suite's stack (tests/e2e/conftest.py, reused as it is) on databases of its
  own, started once for the whole folder, with a 10 s access-token lifetime so the silent
  refresh runs during every test, and login rate limits and password hashing eased for the
  many sign-ups.
- `browser`: Debian's chromium (`/usr/bin/chromium`, driven by Playwright with
  `executable_path`; `make test` installs it when missing and root), launched per module.
- `page` (and `new_page()` for more): a fresh context (no cookies, no cache) at 1280x800 on
  the gateway. Every console
  error, page error, failed request and HTTP response >= 400 is recorded, and the test FAILS
  if any was not declared beforehand with `problems.expect(...)` (`net::ERR_ABORTED`, a
  request the page itself dropped on navigating, is not a failure).
- `shoot(page, name)`: <name>-desktop.png (1280x800) and <name>-phone.png (390x844) in
  .data/screenshots/ (or SCREENSHOTS_DIR), quantized so the committed ones stay small.
- `js_bytes_loaded(page)`: the compressed bytes of JavaScript the page loaded so far.
- `sign_up`/`sign_in` helpers drive the real forms; `make_user` (e2e) registers over HTTP.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

from devstack import testing
from devstack.stack import REPO_ROOT, Stack
from devstack.testing import PgCluster

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Every run writes its screenshots to .data/screenshots (git-ignored), so `make test` never
# dirties the tree; SCREENSHOTS_DIR=docs/screenshots refreshes the README's pictures.
SCREENSHOTS = REPO_ROOT / os.environ.get("SCREENSHOTS_DIR", ".data/screenshots")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Short enough that every test longer than ~8 s lives through a silent refresh.
ACCESS_TOKEN_TTL = 10
BROWSER_ENV = {
    "AUTH_ACCESS_TOKEN_TTL_SECONDS": str(ACCESS_TOKEN_TTL),
    "GATEWAY_AUTH_RATE_AVERAGE": "1000",
    "GATEWAY_AUTH_RATE_BURST": "1000",
    "AUTH_PASSWORD_HASH_TIME_COST": "1",
    "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
}
DEFAULT_TIMEOUT_MS = 15_000


_e2e = testing.e2e_fixtures("_browser_e2e_fixtures")
# The e2e fixtures, bound here to this folder's `stack`.
secrets_seen = _e2e.secrets_seen
signing_key = _e2e.signing_key
client_factory = _e2e.client_factory
source_ip = _e2e.source_ip
gw = _e2e.gw
make_user = _e2e.make_user
User = _e2e.User
UserFactory = _e2e.UserFactory
ADMIN_EMAIL = _e2e.ADMIN_EMAIL
ADMIN_PASSWORD = _e2e.ADMIN_PASSWORD


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def stack(
    pg_cluster: PgCluster,
    tmp_path_factory: pytest.TempPathFactory,
    signing_key: Ed25519PrivateKey,
    secrets_seen: Any,
) -> Iterator[Stack]:
    yield from _e2e.e2e_stack(
        pg_cluster, tmp_path_factory, signing_key, secrets_seen, name="browser", env=BROWSER_ENV
    )


@pytest.fixture(scope="session")
def base_url(stack: Stack) -> str:
    return stack.gateway_url


# ---- the browser ----


# Per module, not per session: Playwright's sync API keeps an event loop running in this
# thread while it is started, and the suites after this folder (asyncio.run, pytest-asyncio)
# need none running. A launch costs under a second.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"tests/browser need Debian's chromium at {CHROMIUM}: `make test` installs it when "
            "run as root; otherwise `sudo apt-get install chromium` (or set CHROMIUM=<path>)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
    yield browser
    browser.close()


# ---- what went wrong on a page ----


@dataclass
class Problem:
    kind: str  # console | pageerror | requestfailed | http
    text: str
    url: str = ""
    status: int | None = None

    def __str__(self) -> str:
        where = f" [{self.status}]" if self.status else ""
        return f"{self.kind}{where}: {self.text}" + (f" ({self.url})" if self.url else "")


@dataclass
class Expected:
    status: int | None
    url: re.Pattern[str] | None
    console: re.Pattern[str] | None
    seen: int = 0

    def matches(self, problem: Problem) -> bool:
        if self.url is not None and not self.url.search(problem.url):
            return False
        if problem.kind == "http":
            return self.status is not None and problem.status == self.status
        if problem.kind == "console":
            if self.console is not None and self.console.search(problem.text):
                return True
            # Chromium logs every failed response: "Failed to load resource: the server
            # responded with a status of 422 (...)", located at the resource's URL.
            return self.status is not None and f"status of {self.status} " in problem.text
        return False


@dataclass
class Problems:
    """Console errors, page errors, failed requests and HTTP errors seen on one page."""

    seen: list[Problem] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)

    def expect(
        self, *, status: int | None = None, url: str | None = None, console: str | None = None
    ) -> None:
        """Declare an error the test provokes: an HTTP `status` from a URL matching `url` (a
        regex; Chromium's console line about it included), or a console error matching
        `console`. A declared error must happen at least once."""
        assert status is not None or console is not None, "expect a status or a console text"
        self.expected.append(
            Expected(
                status,
                re.compile(url) if url else None,
                re.compile(console) if console else None,
            )
        )

    def add(self, problem: Problem) -> None:
        self.seen.append(problem)

    def report(self) -> list[str]:
        """What fails the test: undeclared problems, and declared ones that never happened."""
        lines = []
        for problem in self.seen:
            matched = [e for e in self.expected if e.matches(problem)]
            for e in matched:
                e.seen += 1
            if not matched:
                lines.append(f"unexpected {problem}")
        for e in self.expected:
            if not e.seen:
                lines.append(
                    f"expected but not seen: status={e.status} url={e.url and e.url.pattern} "
                    f"console={e.console and e.console.pattern}"
                )
        return lines


def _watch(page: Page, problems: Problems) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            url = str(message.location.get("url", "")) if message.location else ""
            problems.add(Problem("console", message.text, url))

    def on_request_failed(request: Request) -> None:
        failure = request.failure or ""
        # The page dropped it itself (a navigation, an aborted fetch): not a failure.
        if "ERR_ABORTED" not in failure:
            problems.add(Problem("requestfailed", failure, request.url))

    def on_response(response: Response) -> None:
        if response.status >= 400:
            problems.add(Problem("http", response.status_text, response.url, response.status))

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.add(Problem("pageerror", str(error))))
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)


@pytest.fixture
def problems() -> Problems:
    """Declare the errors a test provokes: `problems.expect(status=422, url="/auth/register")`."""
    return Problems()


PageFactory = Callable[[], Page]


@pytest.fixture
def new_page(browser: Browser, base_url: str, problems: Problems) -> Iterator[PageFactory]:
    """`new_page()`: another page in a fresh context of its own (no cookies, no cache), on the
    gateway at 1280x800 and watched like `page`; closed after the test."""
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(base_url=base_url, viewport=DESKTOP, locale="en-US")
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        _watch(page, problems)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    return new_page()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test with a `page` fails when the page logged an error the test did not declare."""
    outcome = yield
    funcargs = getattr(item, "funcargs", {})
    problems = funcargs.get("problems")
    if problems is None or "page" not in funcargs or outcome.excinfo is not None:
        return
    lines = problems.report()
    if lines:
        outcome.force_exception(AssertionError("the page had problems:\n  " + "\n  ".join(lines)))


# ---- screenshots and bytes ----


def settle(page: Page) -> None:
    """Two animation frames: layout and paint after a resize or a render."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _save_png(data: bytes, path: Path) -> None:
    """A 256-colour PNG: UI screenshots lose nothing visible and shrink about threefold."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG", optimize=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())


def shoot(page: Page, name: str) -> tuple[Path, Path]:
    """<SCREENSHOTS>/<name>-desktop.png at 1280x800 and <name>-phone.png at 390x844 (the
    viewport is put back afterwards). The toasts of the steps before are cleared first: they
    fade in a few seconds, and a picture of the screen should not show them over it."""
    page.evaluate("() => document.getElementById('toasts')?.replaceChildren()")
    before = page.viewport_size or DESKTOP
    paths = (SCREENSHOTS / f"{name}-desktop.png", SCREENSHOTS / f"{name}-phone.png")
    for size, path in zip((DESKTOP, PHONE), paths, strict=True):
        page.set_viewport_size(size)
        settle(page)
        _save_png(page.screenshot(), path)
    page.set_viewport_size(before)
    settle(page)
    return paths


JS_SIZES = """() => performance.getEntriesByType("resource")
  .filter((e) => new URL(e.name).pathname.endsWith(".js"))
  .map((e) => [new URL(e.name).pathname, e.encodedBodySize])"""


def js_loaded(page: Page) -> dict[str, int]:
    """Each JavaScript file the page loaded so far -> its bytes on the wire (compressed)."""
    return {path: int(size) for path, size in page.evaluate(JS_SIZES)}


def js_bytes_loaded(page: Page) -> int:
    """The compressed bytes of all JavaScript the page loaded so far (a fresh `page` has no
    cache, so right after the first screen this is that screen's first-load cost)."""
    return sum(js_loaded(page).values())


# ---- signing up and in through the forms ----


def sign_up(page: Page, name: str, email: str, password: str, roles: tuple[str, ...] = ()) -> None:
    """The sign-up form; `roles` ticks those boxes (trader is ticked by default)."""
    page.goto("/signup")
    form = page.get_by_test_id("signup-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    for role in ("trader", "commissioner"):
        box = form.locator(f"input[name=role-{role}]")
        if role in roles and not box.is_checked():
            box.check()
        elif roles and role not in roles and box.is_checked():
            box.uncheck()
    form.get_by_role("button", name="Create account").click()
    page.get_by_test_id("user-name").wait_for()


def sign_in(page: Page, email: str, password: str, next_path: str | None = None) -> None:
    """The sign-in form (at /signin?next=... when `next_path` is given)."""
    page.goto(f"/signin?next={next_path}" if next_path else "/signin")
    form = page.get_by_test_id("signin-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("user-name").wait_for()
